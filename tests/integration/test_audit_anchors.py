"""Anchors with sequence numbers locate a rewritten tail (issue 10).

The probe rewrote the newest entries of the chain with recomputed hashes: the chain stays
internally consistent, ``--head`` caught it but reported the wrong sequence (as if rows had been
deleted after the last one). With the anchors' sequence numbers (signed audit reviews keep
them), the rewrite is located between the last anchor that still matches and the first that
does not.
"""

from __future__ import annotations

from sqlalchemy import text

from vein2vein.store import audit
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor


def _write(db: Database, n: int) -> None:
    for i in range(n):
        with db.uow(Actor("tester", 1, 1)) as uow:
            uow.record("thing.change", "thing", i, after={"v": i})
            uow.commit()


def _head(db: Database) -> tuple[int, str]:
    with db.engine.connect() as conn:
        seq, value = conn.execute(
            text("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        ).one()
    return int(seq), str(value)


def _rewrite_from(db: Database, first: int) -> None:
    """Change every entry from ``first`` on and recompute the hashes, as a forger with the
    database owner's rights would (triggers off for the occasion)."""
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "sqlite":
            for name in ("audit_log_no_update", "audit_log_no_delete", "audit_log_insert_chain"):
                conn.execute(text(f"DROP TRIGGER {name}"))
        else:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        rows = conn.execute(
            text(f"SELECT {', '.join((*audit.HASHED_FIELDS, 'hash'))} FROM audit_log ORDER BY seq")
        ).all()
        prev = audit.GENESIS_HASH
        for values in rows:
            row = dict(zip((*audit.HASHED_FIELDS, "hash"), values, strict=True))
            if row["seq"] >= first:
                row["reason"] = "rewritten"
                row["prev_hash"] = prev
                view = type("Row", (), row)
                row["hash"] = audit.compute_hash(view)
                conn.execute(
                    text(
                        "UPDATE audit_log SET reason = :reason, prev_hash = :prev_hash, "
                        "hash = :hash WHERE seq = :seq"
                    ),
                    row,
                )
            prev = row["hash"]


def _verify(db: Database, **kwargs: object) -> audit.VerifyResult:
    with db.read() as session:
        return audit.verify(session, **kwargs)  # type: ignore[arg-type]


def test_a_rewritten_tail_is_located_between_anchors(db: Database) -> None:
    _write(db, 3)
    first = _head(db)  # seq 3
    _write(db, 5)
    second = _head(db)  # seq 8
    _write(db, 2)
    assert _verify(db, anchors=[first, second]).ok
    _rewrite_from(db, 6)
    assert _verify(db).ok  # internally consistent: a chain alone cannot see it
    result = _verify(db, anchors=[first, second])
    assert not result.ok and result.broken_seq == 4
    assert "between sequence 4 and 8" in (result.problem or "")


def test_an_anchor_beyond_the_end_means_deleted_entries(db: Database) -> None:
    _write(db, 4)
    anchor = _head(db)
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("DELETE FROM audit_log WHERE seq = 4"))
    result = _verify(db, anchors=[anchor])
    assert not result.ok and result.broken_seq == 4
    assert "entries after sequence 3 were removed" in (result.problem or "")
