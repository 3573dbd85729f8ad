"""Two-level factorial experiments: effects, ANOVA and a centre-point curvature test.

Factors are coded −1/+1 (centre points 0 in every factor). The model is the full factorial with
all interactions, fitted by OLS (statsmodels); an effect is 2 × its coefficient, i.e. the mean
response at + minus the mean at −. With centre points a curvature term (1 at the centre, 0
elsewhere) is added: its coefficient is ȳ_C − ȳ_F and its 1-df sum of squares is
n_F n_C (ȳ_F − ȳ_C)²/(n_F + n_C) (Montgomery, Design and Analysis of Experiments, §6.8). ANOVA is
type II (``anova_lm(typ=2)``; identical to type I for an orthogonal design).

Reference: Montgomery D.C., Design and Analysis of Experiments, ch. 6 (Example 6.1).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vein2vein.core.provenance import Provenance
from vein2vein.stats.errors import DegenerateDataError, InsufficientDataError
from vein2vein.stats.results import StatResult, fmt, provenance

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class AnovaRow:
    term: str
    df: float
    sum_sq: float
    mean_sq: float
    f: float | None
    p: float | None


@dataclass(frozen=True)
class FactorialResult(StatResult):
    response: str
    factors: tuple[str, ...]
    effects: dict[str, float]
    coefficients: dict[str, float]
    anova: tuple[AnovaRow, ...]
    n_runs: int
    n_center: int
    curvature: float | None  # ȳ_C − ȳ_F
    curvature_p: float | None
    residual_df: float
    warnings: tuple[str, ...]
    provenance: Provenance

    def _summary_lines(self) -> list[str]:
        lines = [
            f"2^{len(self.factors)} factorial on {self.response}: {self.n_runs} runs "
            f"({self.n_center} centre points)",
            "Effects:",
        ]
        lines += [f"  {k}: {fmt(v)}" for k, v in self.effects.items()]
        lines.append("ANOVA (type II):")
        for r in self.anova:
            lines.append(
                f"  {r.term:12s} df={r.df:g} SS={fmt(r.sum_sq)} F={fmt(r.f)} p={fmt(r.p, 4)}"
            )
        return lines


def factorial_analysis(
    data: Any, response: str, factors: list[str] | tuple[str, ...]
) -> FactorialResult:
    """Effects and ANOVA of a replicated 2^k factorial (optionally with centre points)."""
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    df = pd.DataFrame(data)
    names = [response, *factors]
    for name in names:
        if name not in df.columns:
            raise DegenerateDataError(f"column {name!r} not found", field=name)
        if not _NAME.match(name):
            raise DegenerateDataError(
                f"column name {name!r} must be a plain identifier (letters, digits, _)", field=name
            )
    if len(factors) < 1:
        raise DegenerateDataError("give at least one factor", field="factors")
    frame = df[names].apply(pd.to_numeric, errors="coerce")
    if frame.isna().any().any():
        col = frame.columns[frame.isna().any()][0]
        row = int(np.flatnonzero(frame[col].isna())[0]) + 2
        raise DegenerateDataError(f"non-numeric or missing value in row {row}", field=col, row=row)
    coded = frame[list(factors)]
    bad = ~coded.isin([-1, 0, 1])
    if bad.any().any():
        col = coded.columns[bad.any()][0]
        raise DegenerateDataError("factor levels must be coded -1, 0 (centre) or +1", field=col)
    center = (coded == 0).all(axis=1)
    partial = (coded == 0).any(axis=1) & ~center
    if partial.any():
        raise DegenerateDataError("a centre point must have every factor at 0", field=factors[0])
    corners = coded[~center].drop_duplicates()
    if len(corners) != 2 ** len(factors):
        raise InsufficientDataError(
            f"a full 2^{len(factors)} factorial needs all {2 ** len(factors)} corner runs, "
            f"got {len(corners)}",
            field=factors[0],
        )
    frame = frame.assign(curvature=center.astype(float))
    terms = " * ".join(factors)
    formula = f"{response} ~ {terms}" + (" + curvature" if center.any() else "")
    model = smf.ols(formula, data=frame).fit()
    if model.df_resid < 1:
        raise InsufficientDataError(
            "no residual degrees of freedom: replicate runs or add centre points", field=response
        )
    table = anova_lm(model, typ=2)
    rows = tuple(
        AnovaRow(
            term=str(term),
            df=float(r["df"]),
            sum_sq=float(r["sum_sq"]),
            mean_sq=float(r["sum_sq"] / r["df"]),
            f=None if term == "Residual" else float(r["F"]),
            p=None if term == "Residual" else float(r["PR(>F)"]),
        )
        for term, r in table.iterrows()
    )
    labels = [
        ":".join(c) for k in range(1, len(factors) + 1) for c in itertools.combinations(factors, k)
    ]
    effects = {lab: 2 * float(model.params[lab]) for lab in labels}
    curv = float(model.params["curvature"]) if center.any() else None
    curv_p = float(table.loc["curvature", "PR(>F)"]) if center.any() else None
    return FactorialResult(
        response=response,
        factors=tuple(factors),
        effects=effects,
        coefficients={str(k): float(v) for k, v in model.params.items()},
        anova=rows,
        n_runs=len(frame),
        n_center=int(center.sum()),
        curvature=curv,
        curvature_p=curv_p,
        residual_df=float(model.df_resid),
        warnings=(),
        provenance=provenance(
            "2^k factorial OLS + ANOVA type II",
            {"formula": formula},
            {"data": frame.to_dict(orient="list")},
            libraries=("numpy", "scipy", "statsmodels", "pandas"),
        ),
    )
