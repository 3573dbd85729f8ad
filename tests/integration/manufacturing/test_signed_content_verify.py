"""``v2v audit verify`` re-checks signed manufacturing content (issue 12), on both engines.

An MBR's approval, a deviation's closure, a batch step's sign-off and a batch's QA approval
each sign the SHA-256 of content recomputed from the rows. Changing a signed row in the
database (as its owner could, triggers set aside) leaves the audit chain and the signature rows
intact, so only recomputing the content shows it: verify names every such signature (record
type, id, signer, meaning). The audit trail reads the content through the composition root
(``features.signed_contents``) and imports nothing of manufacturing."""

from __future__ import annotations

import json

from sqlalchemy import select, text
from tests import batch_world as BW
from tests import factories
from tests.integration.manufacturing.test_pd_runs import approved_batch
from typer.testing import CliRunner

from vein2vein.audittrail import views
from vein2vein.core.canonical import canonical_json
from vein2vein.features import create_cli, signed_contents
from vein2vein.manufacturing.tables import BatchEvent, Deviation, MasterBatchRecord
from vein2vein.store.database import Database


def _verify(db: Database) -> dict[str, object]:
    with db.read() as session:
        return views.verification(session, factories.SERVER)


def _tamper(db: Database, sql: str, triggers: tuple[str, ...] = (), **params: object) -> None:
    """Change rows as the database's owner could: SQLite's triggers dropped, PostgreSQL's
    switched off for the transaction."""
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "sqlite":
            for name in triggers:
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        else:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(sql), params)


def _bad(result: dict[str, object]) -> set[tuple[str, str, str, str]]:
    return {
        (b["record_type"], b["record_id"], b["meaning"], b["signer"])  # type: ignore[index]
        for b in result["bad_signatures"]  # type: ignore[attr-defined]
    }


def test_manufacturing_features_provide_readers() -> None:
    assert {"mbr", "mfg_deviation", "mfg_batch_step", "mfg_batch"} <= set(signed_contents())


def test_edited_signed_manufacturing_rows_are_each_named(db: Database) -> None:
    w = BW.build(db)
    batch_id, dev_id = approved_batch(w)
    result = _verify(db)
    assert result["ok"] and result["bad_signatures"] == [], result["problem"]
    names = {who: w.scopes[who].full_name for who in ("operator", "qa", "approver")}

    # 1. the MBR's content: a wider PAR for the transit temperature
    with db.read() as session:
        mbr = session.get_one(MasterBatchRecord, w.ids["mbr"])
        content = json.loads(mbr.content)
    receipt = next(op for op in content["operations"] if op["code"] == "RECEIPT")
    param = next(p for p in receipt["parameters"] if p["code"] == "transit_temperature")
    param["par"]["high"] = 15
    _tamper(
        db, "UPDATE mbr SET content = :c WHERE id = :id",
        c=canonical_json(content).decode(), id=w.ids["mbr"],
    )  # fmt: skip
    mbr_id = str(w.ids["mbr"])
    assert _bad(_verify(db)) == {
        ("mbr", mbr_id, "authored", names["operator"]),
        ("mbr", mbr_id, "reviewed", names["qa"]),
        ("mbr", mbr_id, "approved", names["approver"]),
    }

    # 2. the closed deviation's root cause
    _tamper(
        db, "UPDATE mfg_deviation SET root_cause = 'nothing happened' WHERE id = :id",
        triggers=("mfg_deviation_closed_locked",), id=dev_id,
    )  # fmt: skip
    result = _verify(db)
    assert ("mfg_deviation", str(dev_id), "reviewed", names["qa"]) in _bad(result)
    assert len(_bad(result)) == 4

    # 3. a value of EXPAND in the append-only event table: that step's sign-off and the
    # batch's approval no longer match; the other steps' sign-offs still do
    with db.read() as session:
        event = session.scalars(
            select(BatchEvent)
            .where(
                BatchEvent.batch_id == batch_id,
                BatchEvent.step == "EXPAND",
                BatchEvent.kind == "ValueEntered",
            )
            .order_by(BatchEvent.seq)
        ).first()
        assert event is not None
        payload = json.loads(event.payload)
    payload["value"] = payload["value"] * 2
    _tamper(
        db, "UPDATE mfg_batch_event SET payload = :p WHERE id = :id",
        triggers=("mfg_batch_event_no_update",), p=canonical_json(payload).decode(), id=event.id,
    )  # fmt: skip
    result = _verify(db)
    bad = _bad(result)
    assert (
        "mfg_batch_step", f"{batch_id}:EXPAND", "authored", names["operator"]
    ) in bad  # fmt: skip
    assert ("mfg_batch", str(batch_id), "approved", names["approver"]) in bad
    assert not any(b[1] == f"{batch_id}:HARVEST" for b in bad)
    assert len(bad) == 6
    assert result["ok"] is False and result["broken_seq"] is None  # the chain itself is whole
    assert "no longer has the content that was signed" in str(result["problem"])
    with db.read() as session:
        assert session.get_one(Deviation, dev_id).root_cause == "nothing happened"


def test_the_cli_names_each_bad_signature(cli_db: Database, cli_env: dict[str, str]) -> None:
    """The command line (SQLite: its database comes from the environment; the check itself runs
    on both engines above)."""
    w = BW.build(cli_db)
    with cli_db.read() as session:
        content = json.loads(session.get_one(MasterBatchRecord, w.ids["mbr"]).content)
    content["title"] = "Edited after approval"
    _tamper(
        cli_db, "UPDATE mbr SET content = :c WHERE id = :id",
        c=canonical_json(content).decode(), id=w.ids["mbr"],
    )  # fmt: skip
    out = CliRunner().invoke(create_cli(), ["audit", "verify"], env=cli_env)
    assert out.exit_code == 1, out.output
    assert "signatures that are not what was signed (3):" in out.output
    name = w.scopes["approver"].full_name
    assert f"  mbr {w.ids['mbr']}: signed approved by {name} — signature" in out.output
