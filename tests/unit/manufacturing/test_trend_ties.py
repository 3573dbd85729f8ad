"""The out-of-trend rule when the earlier batches all have the same value (SD 0): a value equal
to theirs is in trend, although their floating-point mean may differ from it in the last bit
(found on the review page: the cells calculated for the same dose and weight in six batches)."""

from __future__ import annotations

import statistics

from tests.unit.manufacturing.test_execution import run_step, through

from vein2vein.manufacturing import execution as ex
from vein2vein.manufacturing.execution import ExceptionKind

#: 2 × 10^6/kg × 72.5 kg / (0.9 × 0.5) / 10^8, as computed: its mean over five copies is the
#: next double up (3.2222222222222223)
TIED = 2e6 * 72.5 / (0.9 * 0.5) / 1e8


def test_a_value_equal_to_every_earlier_batch_is_in_trend() -> None:
    assert statistics.fmean([TIED] * 5) != TIED  # the premise: the mean is one bit off
    rec, clock = through("RECEIPT")
    rec = run_step(rec, "RECEIPT", clock, {"tnc": (TIED, "10^9 cells")})
    assert rec.current("RECEIPT", "tnc").value == TIED  # type: ignore[union-attr]
    items = ex.review_by_exception(rec, {"RECEIPT.tnc": [TIED] * 5})
    assert ExceptionKind.OUT_OF_TREND not in {i.kind for i in items}
    # and a value one part in 10^4 away is out of trend (SD 0: no width at all)
    rec, clock = through("RECEIPT")
    rec = run_step(rec, "RECEIPT", clock, {"tnc": (TIED * 1.0001, "10^9 cells")})
    items = ex.review_by_exception(rec, {"RECEIPT.tnc": [TIED] * 5})
    assert [i.subject for i in items if i.kind is ExceptionKind.OUT_OF_TREND] == ["tnc"]
