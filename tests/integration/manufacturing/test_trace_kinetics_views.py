"""The reads behind the genealogy pages and the batch kinetics on SQLite and PostgreSQL: the
lot trace (batches, orders, sites, last custody step), the batch trace with lot expiry and
quantities, the trace page's lists, and the kinetics of a batch with one earlier complete batch
of the same MBR version (no envelope yet: fewer than 3)."""

from __future__ import annotations

import math

import pytest
from tests import batch_world as BW
from tests.integration.manufacturing import test_batches as T

from vein2vein.core.errors import NotFound, PermissionDenied
from vein2vein.manufacturing import batch_views, batches, trace_views
from vein2vein.store.database import Database


def test_traces_and_kinetics_on_both_engines(db: Database) -> None:
    w = BW.build(db)
    done = T.new_batch(w, BW.order_with_din(w, subject="HLX-001"))
    for op in ("RECEIPT", "SELECT", "ACTIVATE", "TRANSDUCE", "EXPAND", "HARVEST", "FORMULATE",
               "FREEZE"):  # fmt: skip
        T.run_step(w, done, op)
    running = T.new_batch(w, BW.order_with_din(w, subject="HLX-002"))
    T.run_step(w, running, "RECEIPT")
    T.run_step(w, running, "SELECT")
    qa = w.scopes["qa"]
    with db.read() as session:
        lot = trace_views.lot_genealogy(session, qa, "CD4CD8-L1")
        assert [(b["batch"], b["step"], b["status"]) for b in lot["batches"]] == [
            (done, "SELECT", "COMPLETE"),
            (running, "SELECT", "IN_PROGRESS"),
        ]
        assert lot["patients"] == 2 and lot["ref"] == "CD4CD8:CD4CD8-L1"
        assert {b["site"] for b in lot["batches"]} == {BW.SITE}
        assert all(b["custody_text"] for b in lot["batches"])
        trace = trace_views.batch_genealogy(session, qa, running)
        cd = next(x for x in trace["lots"] if x["material"] == "CD4CD8")
        assert (cd["lot_number"], cd["status"], cd["scanned_by"]) == (
            "CD4CD8-L1",
            "released",
            "operator",
        )
        assert cd["expiry"] is not None and float(cd["lot_quantity"]) == 10.0
        index = trace_views.trace_index(session, qa)
        assert [b["batch"] for b in index["batches"]] == [running, done]
        assert index["lots"][0]["lot_number"] == "CD4CD8-L1"  # used last
        # kinetics: the complete batch has none before it; the running one has one: no envelope
        k_done = batch_views.batch_detail(session, qa, done)["kinetics"]
        assert math.isclose(k_done["fold_expansion"], 40.0) and k_done["earlier_batches"] == 0
        k_run = batch_views.batch_kinetics(
            session, batches.get_batch(session, qa, running), T.record(w, running)
        )
        assert (k_run["earlier_batches"], k_run["envelope_drawn"], k_run["counts_used"]) == (
            1,
            False,
            0,
        )
        assert k_run["points"][-1]["n"] == 1 and k_run["points"][-1]["median"] is None
        # a sponsor: its own batch refused, lots not found
        with pytest.raises(PermissionDenied):
            trace_views.batch_genealogy(session, w.scopes["a.viewer"], running)
        with pytest.raises(NotFound):
            trace_views.lot_genealogy(session, w.scopes["a.viewer"], "CD4CD8-L1")
        with pytest.raises(NotFound):
            trace_views.batch_genealogy(session, w.scopes["b.clinical"], running)
