"""The audit trail: hash chain, append-only triggers, tamper detection, head anchoring.

Run on SQLite and PostgreSQL. The tamper tests drop the triggers first, as an attacker with
direct database access would, then alter, delete or insert a row.
"""

from __future__ import annotations

import itertools
import threading

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from tests import factories
from typer.testing import CliRunner

from vein2vein.core.canonical import sha256_hex
from vein2vein.features import create_cli
from vein2vein.store import audit
from vein2vein.store.database import Database
from vein2vein.store.uow import Actor

cli = create_cli()


def _write_entries(db: Database, n: int) -> None:
    for i in range(n):
        with db.uow(Actor("tester", 1, 1)) as uow:
            uow.record(
                "thing.change", "thing", i, before={"v": i}, after={"v": i + 1}, reason=f"step {i}"
            )
            uow.commit()


def _verify(db: Database, head: str | None = None) -> audit.VerifyResult:
    with db.read() as session:
        return audit.verify(session, head_hash=head)


def _intruder(db: Database) -> Session:
    """A writing session past the application's units of work, as someone with database access
    would use (``db.read()`` is read-only and refuses to write)."""
    return Session(db.engine)


def _drop_triggers(db: Database) -> None:
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "sqlite":
            for name in ("audit_log_no_update", "audit_log_no_delete", "audit_log_insert_chain"):
                conn.execute(text(f"DROP TRIGGER {name}"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update_delete ON audit_log"))
            conn.execute(text("DROP TRIGGER audit_log_insert_chain ON audit_log"))


def test_chain_links_and_verifies(db: Database) -> None:
    _write_entries(db, 5)
    result = _verify(db)
    assert result.ok and result.count == 5 and result.head.seq == 5
    with db.read() as session:
        rows = audit.query(session)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == audit.GENESIS_HASH
    for prev, row in itertools.pairwise(rows):
        assert row.prev_hash == prev.hash
    assert rows[2].recorded_at.endswith("Z")


def test_every_column_is_covered_by_the_hash(db: Database) -> None:
    _write_entries(db, 1)
    columns = {c["name"] for c in inspect(db.engine).get_columns("audit_log")}
    assert columns - {"hash"} == set(audit.HASHED_FIELDS)
    with db.read() as session:
        row = audit.query(session)[0]
        payload = row.payload()
        assert sha256_hex(payload) == row.hash
        for field in audit.HASHED_FIELDS:
            changed = dict(payload)
            changed[field] = (
                "tampered" if not isinstance(payload[field], int) else payload[field] + 1
            )
            assert sha256_hex(changed) != row.hash, field


def test_database_refuses_update_and_delete(db: Database) -> None:
    _write_entries(db, 2)
    for sql in (
        "UPDATE audit_log SET reason = 'x' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 2",
    ):
        with (
            pytest.raises((DBAPIError, IntegrityError), match="append-only"),
            db.engine.begin() as conn,
        ):
            conn.execute(text(sql))
    assert _verify(db).count == 2


def test_altered_row_is_named(db: Database) -> None:
    _write_entries(db, 6)
    _drop_triggers(db)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET after = :a WHERE seq = 4"), {"a": '{"v":999}'})
    result = _verify(db)
    assert not result.ok and result.broken_seq == 4
    assert "does not match its hash" in result.problem


def test_altered_row_with_recomputed_hash_breaks_the_next_link(db: Database) -> None:
    _write_entries(db, 6)
    _drop_triggers(db)
    with db.read() as session:
        row = audit.query(session, entity_id="2")[0]
        row.reason = "rewritten"
        new_hash = audit.compute_hash(row)
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_log SET reason = 'rewritten', hash = :h WHERE seq = 3"),
            {"h": new_hash},
        )
    result = _verify(db)
    assert not result.ok and result.broken_seq == 4
    assert "previous-hash link" in result.problem


def test_deleted_row_is_named(db: Database) -> None:
    _write_entries(db, 6)
    _drop_triggers(db)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    result = _verify(db)
    assert not result.ok and result.broken_seq == 3
    assert "missing" in result.problem


def test_inserted_row_is_named(db: Database) -> None:
    """A forged row slipped in at sequence 3 (later rows renumbered) breaks the chain at 4."""
    _write_entries(db, 6)
    _drop_triggers(db)
    with db.engine.begin() as conn:
        for seq in range(6, 2, -1):
            conn.execute(text("UPDATE audit_log SET seq = seq + 1 WHERE seq = :s"), {"s": seq})
    with _intruder(db) as session:
        prev = audit.query(session, entity_id="1")[0]  # the row with seq 2
        forged = audit.AuditEntry(
            seq=3,
            recorded_at=prev.recorded_at,
            actor_id=1,
            actor="attacker",
            organisation_id=1,
            action="thing.change",
            entity_type="thing",
            entity_id="x",
            before=None,
            after='{"v":0}',
            reason=None,
            prev_hash=prev.hash,
        )
        forged.hash = audit.compute_hash(forged)
        session.expunge_all()
        session.add(forged)
        session.commit()
    result = _verify(db)
    assert not result.ok and result.broken_seq == 4


def _forge(session, seq: int, prev_hash: str) -> None:  # type: ignore[no-untyped-def]
    forged = audit.AuditEntry(
        seq=seq,
        recorded_at="2026-01-01T00:00:00.000000Z",
        actor_id=5,
        actor="qa.approver",
        organisation_id=1,
        action="signature.sign",
        entity_type="batch",
        entity_id="7",
        before=None,
        after='{"meaning":"released"}',
        reason=None,
        prev_hash=prev_hash,
    )
    forged.hash = audit.compute_hash(forged)
    session.add(forged)
    session.commit()


def test_database_refuses_an_insert_that_does_not_extend_the_chain(db: Database) -> None:
    _write_entries(db, 3)
    for seq, prev in ((0, audit.GENESIS_HASH), (4, audit.GENESIS_HASH), (9, None)):
        with (
            _intruder(db) as session,
            pytest.raises((DBAPIError, IntegrityError), match="sequence"),
        ):
            _forge(session, seq, prev or _verify(db).head.hash)
    assert _verify(db).ok and _verify(db).count == 3


@pytest.mark.parametrize("seq", [0, -1])
def test_row_numbered_before_the_chain_is_named(db: Database, seq: int) -> None:
    """A row slipped in below sequence 1 (plain INSERT once the trigger is gone) is not ignored."""
    _write_entries(db, 3)
    _drop_triggers(db)
    with _intruder(db) as session:
        _forge(session, seq, audit.GENESIS_HASH)
    result = _verify(db)
    assert not result.ok and result.broken_seq == seq
    assert "inserted out of band" in result.problem


def test_malformed_head_is_bad_input_not_tampering(db: Database) -> None:
    from vein2vein.core.errors import InputError

    _write_entries(db, 2)
    with pytest.raises(InputError, match="64 hexadecimal"):
        _verify(db, head="zzz")
    assert _verify(db, head=_verify(db).head.hash.upper()).ok


def test_deleting_newest_rows_is_caught_by_the_anchored_head(db: Database) -> None:
    _write_entries(db, 5)
    anchored = _verify(db).head.hash
    _write_entries(db, 2)
    assert _verify(db, head=anchored).ok  # later entries are fine
    head_now = _verify(db).head.hash
    _drop_triggers(db)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 7"))
    assert _verify(db).ok  # a chain alone cannot see it
    result = _verify(db, head=head_now)
    assert not result.ok and result.broken_seq == 7
    assert "anchored head" in result.problem


def test_unit_of_work_rolls_back_change_and_audit_entry(db: Database) -> None:
    factories.org(db, "CDMO", "Acme CDMO")
    with pytest.raises(RuntimeError), db.uow(Actor("tester")) as uow:
        from vein2vein.auth import service

        service.create_organisation(uow, factories.SERVER, "Half Written", "SPONSOR")
        raise RuntimeError("boom before commit")
    with db.read() as session:
        from vein2vein.auth.tables import Organisation

        assert [o.name for o in session.query(Organisation)] == ["Acme CDMO"]
        assert [e.action for e in audit.query(session)] == ["organisation.create"]


def test_concurrent_writers_keep_the_chain_whole(db: Database) -> None:
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(10):
                with db.uow(Actor(f"w{k}")) as uow:
                    uow.record("thing.change", "thing", f"{k}-{i}")
                    uow.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    result = _verify(db)
    assert result.ok and result.count == 40


def test_cli_verify_exit_codes_and_head(cli_db: Database, cli_env: dict[str, str]) -> None:
    _write_entries(cli_db, 4)
    runner = CliRunner()
    env = cli_env
    ok = runner.invoke(cli, ["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "4 entries" in ok.output
    head = runner.invoke(cli, ["audit", "head", "--json"], env=env)
    head_hash = __import__("json").loads(head.output)["hash"]
    assert runner.invoke(cli, ["audit", "verify", "--head", head_hash], env=env).exit_code == 0
    _drop_triggers(cli_db)
    with cli_db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
    bad = runner.invoke(cli, ["audit", "verify"], env=env)
    assert bad.exit_code == 1
    assert "sequence 2" in bad.output


def test_cli_log_filters(cli_db: Database, cli_env: dict[str, str]) -> None:
    _write_entries(cli_db, 3)
    runner = CliRunner()
    res = runner.invoke(cli, ["audit", "log", "--entity", "thing:1", "--json"], env=cli_env)
    assert res.exit_code == 0, res.output
    rows = __import__("json").loads(res.output)
    assert [r["entity_id"] for r in rows] == ["1"]
    assert rows[0]["before"] == {"v": 1} and rows[0]["reason"] == "step 1"
    bad = runner.invoke(cli, ["audit", "log", "--since", "yesterday"], env=cli_env)
    assert bad.exit_code == 2 and "since" in bad.output
    future = runner.invoke(cli, ["audit", "log", "--since", "2999-01-01", "--json"], env=cli_env)
    assert __import__("json").loads(future.output) == []


@pytest.mark.parametrize("tamper", ["delete", "insert"])
def test_cli_verify_names_deleted_and_inserted_rows(
    cli_db: Database, cli_env: dict[str, str], tamper: str
) -> None:
    _write_entries(cli_db, 5)
    _drop_triggers(cli_db)
    with cli_db.engine.begin() as conn:
        if tamper == "delete":
            conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
        else:
            conn.execute(text("UPDATE audit_log SET seq = seq + 10 WHERE seq >= 3"))
            conn.execute(text("UPDATE audit_log SET seq = seq - 9 WHERE seq >= 13"))
    if tamper == "insert":  # a forged row at 3, correctly linked to 2; the old 3 is now 4
        with _intruder(cli_db) as session:
            _forge(session, 3, audit.query(session, entity_id="1")[0].hash)
    res = CliRunner().invoke(cli, ["audit", "verify", "--json"], env=cli_env)
    assert res.exit_code == 1
    body = __import__("json").loads(res.output)
    assert body["broken_seq"] == (2 if tamper == "delete" else 4)


def test_cli_verify_rejects_a_malformed_head(cli_db: Database, cli_env: dict[str, str]) -> None:
    _write_entries(cli_db, 1)
    res = CliRunner().invoke(cli, ["audit", "verify", "--head", "zzz"], env=cli_env)
    assert res.exit_code == 2 and "64 hexadecimal" in res.output
