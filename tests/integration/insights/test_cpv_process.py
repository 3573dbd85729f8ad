"""CPV of process parameters from the batch record (docs/cpv.md, validation V-10), on SQLite and
PostgreSQL, on the stored demo:

* the fold-expansion series of the EpCAM product at Ghent holds, for each batch whose
  disposition QA signed and in the order the batches were started, N_harvest / N_seeded read
  here by our own query of the record's entries (the last entry of each count, i.e. after
  corrections; ``10^k cells`` scaled by hand), and its limits are the statistics engine's on
  those values; the MBR gives it no limits, so no capability (said, never NaN);
* the harvested viable cells are charted with capability against the PAR read here from the
  stored MBR's JSON;
* an unsigned batch (HLX-EPC-01-0011) is not plotted until QA releases it;
* a baseline frozen on the fold-expansion series is signed, judged against afterwards, and
  re-checks with ``v2v audit verify``;
* a unit change between specification versions that does not convert (vector copies per
  transduced cell, then per cell: two different quantities) refuses the chart and the freeze,
  naming both units and the batches.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select
from tests.integration.insights.test_cpv_store import ghent_dashboard
from tests.integration.quality.test_release_store import Demo

from vein2vein.auth.signatures import find_bad_signatures
from vein2vein.auth.tables import Site
from vein2vein.core.clock import as_utc, clock_from
from vein2vein.features import signed_contents
from vein2vein.insights import cpv_baselines, cpv_views
from vein2vein.insights.cpv_domain import UnitMismatch
from vein2vein.manufacturing.tables import Batch, BatchEvent, MasterBatchRecord
from vein2vein.quality import release, results, spec_yaml, specs
from vein2vein.quality.results import ResultInput
from vein2vein.quality.tables import QcRelease
from vein2vein.stats.capability import capability
from vein2vein.stats.charts import imr_chart
from vein2vein.store.database import Database

pytestmark = pytest.mark.filterwarnings("ignore::vein2vein.stats.errors.SmallSampleWarning")
UNRELEASED = "HLX-EPC-01-0011"
FOLD = "derived:fold_expansion"
#: the first and last viable cell counts of the EpCAM MBRs (seeded, harvested)
SEEDED, HARVESTED = ("ACTIVATE", "seeded_cells"), ("HARVEST", "viable_cells")
SIGNED = ("released", "conditional", "exceptional", "rejected")


def _cells(value: float, unit: str) -> float:
    """``10^8 cells`` → value × 10^8 (the only spellings the EpCAM MBRs use)."""
    head, tail = unit.split(" ")
    assert tail == "cells" and head.startswith("10^"), unit
    return value * 10 ** int(head[3:])


def _ghent_record(db: Database) -> tuple[list[int], dict[int, str], dict[int, dict[Any, Any]]]:
    """Our own reading of the store: the Ghent GMP batches in start order, QA's state of each,
    and each batch's last entry of every record entry (value, unit)."""
    with db.read() as s:
        site = s.scalars(select(Site.id).where(Site.name.contains("Ghent"))).one()
        batches = s.execute(
            select(Batch.id, QcRelease.state)
            .outerjoin(QcRelease, QcRelease.batch_id == Batch.id)
            .where(Batch.site_id == site, Batch.gmp.is_(True))
            .order_by(Batch.created_at, Batch.id)
        ).all()
        entries: dict[int, dict[Any, Any]] = {b: {} for b, _ in batches}
        for batch, step, item, value, unit in s.execute(
            select(BatchEvent.batch_id, BatchEvent.step, BatchEvent.item, BatchEvent.value,
                   BatchEvent.unit)
            .where(BatchEvent.kind == "ValueEntered", BatchEvent.batch_id.in_(list(entries)))
            .order_by(BatchEvent.batch_id, BatchEvent.seq)
        ):  # fmt: skip
            entries[batch][(step, item)] = (value, unit)  # a correction comes later: it wins
    return [b for b, _ in batches], {b: st for b, st in batches if st}, entries


def _fold(entries: dict[Any, Any]) -> float:
    return _cells(*entries[HARVESTED]) / _cells(*entries[SEEDED])


def test_fold_expansion_and_harvest_cells_from_the_record(demo_db: Database) -> None:
    d = Demo(demo_db)
    order, state, entries = _ghent_record(demo_db)
    signed = [b for b in order if state.get(b) in SIGNED]
    expected = [_fold(entries[b]) for b in signed]
    assert len(signed) == 4 and d.batch[UNRELEASED] not in signed
    assert SEEDED in entries[d.batch[UNRELEASED]]  # its record holds the counts all the same

    page = ghent_dashboard(d, attribute=FOLD)
    assert page["attribute"]["kind"] == "process parameter"
    assert (page["attribute"]["unit"], page["frozen"], page["problem"]) == ("1", False, None)
    assert [p["batch_id"] for p in page["points"]] == signed
    assert [p["value"] for p in page["points"]] == pytest.approx(expected, rel=1e-12)
    assert all(p["result_id"] is None and p["source"].endswith("kinetics") for p in page["points"])
    assert page["waiting"] >= 1  # HLX-EPC-01-0011 (and the batch in review) await QA
    engine = imr_chart(expected)
    chart = page["chart"]
    assert (chart["center"], chart["lcl"], chart["ucl"], chart["sigma"]) == pytest.approx(
        (engine.center, engine.lcl, engine.ucl, engine.sigma), rel=1e-12
    )
    assert chart["provenance"]["method"] == engine.provenance.method
    # the MBR sets no limits on fold expansion: no capability, said in words
    assert page["capability"] is None
    assert page["capability_problem"] == "no specification limits: no capability"

    # harvested viable cells: capability against the PAR of the stored MBR (its own JSON)
    cells = ghent_dashboard(d, attribute="record:HARVEST.viable_cells")
    values = [entries[b][HARVESTED][0] for b in signed]
    assert [p["value"] for p in cells["points"]] == values
    assert all(p["entry_seq"] is not None for p in cells["points"])
    with demo_db.read() as s:
        mbr = json.loads(s.get_one(MasterBatchRecord, cells["spec"]["id"]).content)
    harvest = next(o for o in mbr["operations"] if o["code"] == "HARVEST")
    param = next(p for p in harvest["parameters"] if p["code"] == "viable_cells")
    par = param["par"]
    ref = capability(values, lsl=par["low"], usl=par["high"], sigma_within="mr")
    assert cells["capability"]["indices"]["ppk"] == pytest.approx(ref.ppk, rel=1e-12)
    assert (cells["spec"]["lsl"], cells["spec"]["usl"]) == (par["low"], par["high"])
    assert cells["attribute"]["unit"] == param["unit"] == "10^9 cells"


def test_a_frozen_baseline_on_fold_expansion(demo_db: Database) -> None:
    d = Demo(demo_db)
    entries = _ghent_record(demo_db)[2]
    page = ghent_dashboard(d, attribute=FOLD)
    values = [p["value"] for p in page["points"]]
    frozen = d.signed(
        "qa.approver", cpv_baselines.freeze_baseline,
        program_id=page["key"]["program_id"], site_id=page["key"]["site_id"], test=FOLD,
        start=page["points"][0]["made_on"], end=page["points"][-1]["made_on"],
        reason="Ghent history: fold expansion", current=None,
    )  # fmt: skip
    engine = imr_chart(values)
    assert (frozen.center, frozen.sigma, frozen.lcl, frozen.ucl) == pytest.approx(
        (engine.center, engine.sigma, engine.lcl, engine.ucl), rel=1e-12
    )
    assert (frozen.test_code, frozen.unit, frozen.n) == (FOLD, "1", 4)
    with demo_db.read() as s:
        detail = cpv_views.baseline_detail(s, d.scope("qc"), frozen.id)
        assert not find_bad_signatures(s, signed_contents())
    assert detail["kind"] == "process parameter"
    assert [p[1] for p in detail["points"]] == [None] * 4
    assert [p[0] for p in detail["points"]] == [p["batch_id"] for p in page["points"]]
    assert detail["records"] == [f"mfg_batch {p['batch_id']} kinetics" for p in page["points"]]
    assert [s["meaning"] for s in detail["signatures"]] == ["approved"]

    # QA releases the unsigned batch: it enters, judged against the frozen limits
    d.signed("qa.approver", release.release, d.batch[UNRELEASED])
    after = ghent_dashboard(d, attribute=FOLD)
    assert [p["phase"] for p in after["points"]] == ["baseline"] * 4 + ["monitoring"]
    assert after["points"][-1]["batch"] == UNRELEASED
    assert after["points"][-1]["value"] == pytest.approx(
        _fold(entries[d.batch[UNRELEASED]]), rel=1e-12
    )
    judged = imr_chart([p["value"] for p in after["points"]], center=frozen.center,
                       sigma=frozen.sigma)  # fmt: skip
    assert (after["chart"]["lcl"], after["chart"]["ucl"]) == (judged.lcl, judged.ucl)
    assert after["frozen"] and after["baseline"]["id"] == frozen.id


def test_a_unit_that_does_not_convert_refuses_the_chart_and_the_freeze(demo_db: Database) -> None:
    """Specification v2 counts vector copies per cell, v1 per transduced cell (two quantities,
    ``manufacturing.units``). v2 is in force for batches started after an hour before
    HLX-EPC-01-0002, whose vector copy number came late (conditional release): judged under v2."""
    d = Demo(demo_db)
    late = "HLX-EPC-01-0002"
    with demo_db.read() as s:
        made = as_utc(s.get_one(Batch, d.batch[late]).created_at)
    v1 = (spec_yaml.DEMO_DIR / "epcam_iit_v1.yaml").read_text(encoding="utf-8")
    v2 = v1.replace("unit: copies/transduced cell", "unit: copies/cell")
    assert v2 != v1
    with clock_from(lambda: made - dt.timedelta(hours=2)):
        draft = d.act("qc", specs.import_spec, v2)
    with clock_from(lambda: made - dt.timedelta(hours=1)):
        d.signed("qa.approver", specs.approve, draft.id)
    stored = d.act(
        "qc", results.enter_result,
        ResultInput(batch=d.batch[late], test="vcn", value="2.1", unit="copies/cell"),
    )  # fmt: skip
    assert stored.spec_id == draft.id
    scope = d.scope("qa.approver")
    with demo_db.read() as s:
        row = next(
            r
            for r in cpv_views.series_list(s, scope)
            if r["attribute"] == "vcn" and "Leiden" in r["site"]
        )
        page = cpv_views.dashboard(s, scope, row["program_id"], site=row["site_id"],
                                   attribute="vcn")  # fmt: skip
    assert page["chart"] is None and page["points"] == []
    problem = page["problem"]
    assert "'copies/cell'" in problem and "'copies/transduced cell'" in problem, problem
    assert late in problem and "mix units" in problem
    others = {b for b, i in d.batch.items() if i in set(_leiden_batches(d)) and b != late}
    assert any(b in problem for b in others), problem
    with pytest.raises(UnitMismatch, match="copies/transduced cell"):
        d.signed(
            "qa.approver", cpv_baselines.freeze_baseline, program_id=row["program_id"],
            site_id=row["site_id"], test="vcn", start=made.date() - dt.timedelta(days=400),
            end=made.date() + dt.timedelta(days=400), reason="x", current=None,
        )  # fmt: skip


def _leiden_batches(d: Demo) -> list[int]:
    with d.db.read() as s:
        site = s.scalars(select(Site.id).where(Site.name.contains("Leiden"))).one()
        return list(s.scalars(select(Batch.id).where(Batch.site_id == site)))
