"""``v2v stats …``: CMC statistics on CSV files.

Each command reads CSV files (values from ``--column``, default the first numeric column), prints
a plain-text summary or, with ``--json``, the result's JSON on stdout and nothing else. Warnings go
to stderr (and are in the JSON). Bad input: one line on stderr naming file, row and field, exit
code 2. ``chart`` takes many files in one call (CPV over many attributes, issue 15): all of them
are read and charted before anything is printed.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from vein2vein.core.errors import InputError, V2VError
from vein2vein.stats.errors import StatisticalWarning

app = typer.Typer(
    name="stats",
    help="CMC statistics: equivalence, tolerance intervals, control charts, capability, kinetics.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
ColumnOpt = Annotated[
    str | None, typer.Option("--column", help="CSV column (default: first numeric column).")
]


class VarianceChoice(StrEnum):
    welch = "welch"
    pooled = "pooled"


class SidesChoice(StrEnum):
    TWO = "two"
    LOWER = "lower"
    UPPER = "upper"


class TolMethod(StrEnum):
    exact = "exact"
    howe = "howe"
    guenther = "guenther"


class ChartType(StrEnum):
    imr = "imr"
    xbar_r = "xbar-r"
    xbar_s = "xbar-s"
    ewma = "ewma"
    cusum = "cusum"


class RulesChoice(StrEnum):
    nelson = "nelson"
    western_electric = "western-electric"
    none = "none"


def _run(compute: Callable[[], Any], as_json: bool) -> None:
    """Run ``compute`` and print its result; map domain errors to exit code 2."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", StatisticalWarning)
            result = compute()
    except V2VError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=2) from None
    for w in caught:
        if issubclass(w.category, StatisticalWarning):
            typer.echo(f"warning: {w.message}", err=True)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    else:
        typer.echo(result.summary())


def _run_each(paths: list[Path], compute: Callable[[Path], Any]) -> list[Any]:
    """``compute`` each file, all or nothing: the first domain error ends the command (exit
    code 2, one line naming the file) before anything is printed; then each file's warnings, in
    order, on stderr. With one file, errors and warnings read as ``_run`` prints them."""
    several = len(paths) > 1
    results, warned = [], []
    for path in paths:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", StatisticalWarning)
                results.append(compute(path))
        except V2VError as exc:
            named = isinstance(exc, InputError) and exc.file is not None
            where = f"{path}: " if several and not named else ""
            typer.echo(f"error: {where}{exc.message}", err=True)
            raise typer.Exit(code=2) from None
        where = f"{path}: " if several else ""
        warned += [
            f"warning: {where}{w.message}"
            for w in caught
            if issubclass(w.category, StatisticalWarning)
        ]
    for line in warned:
        typer.echo(line, err=True)
    return results


def _print_each(
    paths: list[Path],
    results: list[Any],
    render: Callable[[Any], list[bytes] | str],
    json_list: bool,
) -> None:
    """One file: its output as it always was. Several: a JSON list of the per-file objects, each
    printed as alone, or the per-file texts under ``==> FILE <==`` lines (as ``head`` does).
    ``render`` gives a text, or the pieces of a JSON text."""
    for i, (path, result) in enumerate(zip(paths, results, strict=True)):
        if not json_list:
            if len(results) > 1:
                typer.echo(f"==> {path} <==" if i == 0 else f"\n==> {path} <==")
            typer.echo(render(result))
            continue
        if len(results) > 1:
            typer.echo(b"[\n" if i == 0 else b",\n", nl=False)
        for piece in render(result):
            typer.echo(piece, nl=False)
    if json_list:
        typer.echo(b"\n]" if len(results) > 1 else b"")


@app.command("tost")
def tost_command(
    test: Annotated[Path, typer.Argument(help="CSV of the test (post-change) lots.")],
    reference: Annotated[Path, typer.Argument(help="CSV of the reference (pre-change) lots.")],
    margin: Annotated[
        float | None, typer.Option(help="Symmetric margin ±M (ratio: 1/M..M).")
    ] = None,
    lower: Annotated[float | None, typer.Option(help="Lower equivalence bound.")] = None,
    upper: Annotated[float | None, typer.Option(help="Upper equivalence bound.")] = None,
    margin_sd: Annotated[
        float | None, typer.Option("--margin-sd", help="Margin k·s_R from the reference lots.")
    ] = None,
    variance: Annotated[
        VarianceChoice, typer.Option(help="Variance model.")
    ] = VarianceChoice.welch,
    paired: Annotated[bool, typer.Option("--paired", help="Paired by row (split source).")] = False,
    ratio: Annotated[bool, typer.Option("--ratio", help="Ratio scale (ln values).")] = False,
    alpha: Annotated[float, typer.Option(help="Level of each one-sided test.")] = 0.05,
    column: ColumnOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Equivalence of means by two one-sided tests (TOST)."""
    from vein2vein.stats.csv_input import read_column
    from vein2vein.stats.equivalence import tost

    def compute() -> Any:
        return tost(
            read_column(test, column),
            read_column(reference, column),
            margin=margin,
            lower=lower,
            upper=upper,
            margin_sd=margin_sd,
            variance=variance.value,
            paired=paired,
            scale="ratio" if ratio else "difference",
            alpha=alpha,
        )

    _run(compute, as_json)


@app.command("tolerance")
def tolerance_command(
    data: Annotated[Path | None, typer.Argument(help="CSV of values.")] = None,
    n: Annotated[int | None, typer.Option("--n", help="Sample size (instead of DATA).")] = None,
    mean: Annotated[float | None, typer.Option(help="Sample mean (with --n).")] = None,
    sd: Annotated[float | None, typer.Option(help="Sample SD (with --n).")] = None,
    coverage: Annotated[float, typer.Option(help="Proportion P covered.")] = 0.99,
    confidence: Annotated[float, typer.Option(help="Confidence level.")] = 0.95,
    sides: Annotated[SidesChoice, typer.Option(help="two, lower or upper.")] = SidesChoice.TWO,
    method: Annotated[TolMethod, typer.Option(help="Two-sided factor.")] = TolMethod.exact,
    log: Annotated[bool, typer.Option("--log", help="Lognormal (interval of ln values).")] = False,
    nonparametric: Annotated[
        bool, typer.Option("--nonparametric", help="Distribution-free, from the sample extremes.")
    ] = False,
    column: ColumnOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Normal, lognormal or nonparametric tolerance interval."""
    from vein2vein.stats import tolerance as tol
    from vein2vein.stats.csv_input import read_column

    def compute() -> Any:
        if data is not None:
            if any(v is not None for v in (n, mean, sd)):
                raise InputError("give DATA or --n/--mean/--sd, not both", field="n")
            values = read_column(data, column)
            if nonparametric:
                return tol.nonparametric_tolerance_interval(
                    values,
                    coverage=coverage,
                    confidence=confidence,
                    sides=sides.value,
                )
            return tol.tolerance_interval(
                values,
                coverage=coverage,
                confidence=confidence,
                sides=sides.value,
                method=method.value,
                log=log,
            )
        if n is None or mean is None or sd is None:
            raise InputError("give DATA, or all of --n, --mean and --sd", field="n")
        return tol.tolerance_from_summary(
            n,
            mean,
            sd,
            coverage=coverage,
            confidence=confidence,
            sides=sides.value,
            method=method.value,
            log=log,
        )

    _run(compute, as_json)


@app.command("chart")
def chart_command(
    data: Annotated[
        list[Path], typer.Argument(help="CSV file(s) of values in time order: a chart for each.")
    ],
    type_: Annotated[ChartType, typer.Option("--type", help="Chart type.")] = ChartType.imr,
    subgroup_size: Annotated[
        int | None, typer.Option("--subgroup-size", help="Consecutive values per subgroup.")
    ] = None,
    phase1: Annotated[
        int | None, typer.Option("--phase1", help="Points (subgroups) that set the limits.")
    ] = None,
    center: Annotated[float | None, typer.Option(help="Known centre (standard).")] = None,
    sigma: Annotated[float | None, typer.Option(help="Known process sigma (standard).")] = None,
    rules: Annotated[RulesChoice, typer.Option(help="Run rules.")] = RulesChoice.nelson,
    sigma_method: Annotated[
        str, typer.Option("--sigma-method", help="I-MR/EWMA/CUSUM: mr, median_mr or sd.")
    ] = "mr",
    k: Annotated[
        float | None, typer.Option("--k", help="Limit width (3) or CUSUM k (0.5).")
    ] = None,
    lam: Annotated[float, typer.Option("--lambda", help="EWMA weight.")] = 0.2,
    h: Annotated[float, typer.Option("--h", help="CUSUM decision interval in sigma.")] = 5.0,
    tabled: Annotated[bool, typer.Option("--tabled", help="3-decimal tabled constants.")] = False,
    column: ColumnOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Control chart with run rules (I-MR, X̄-R, X̄-S, EWMA, CUSUM), one per CSV file.

    Several files give one chart each, in the order given, with the same options. Their JSON is
    a list holding, in that order, each file's object exactly as it prints alone; their text is
    each file's chart under a line "==> FILE <==", separated by a blank line. All or nothing:
    when a file is unreadable or its chart cannot be drawn, the one error line names it and
    nothing is printed on stdout.
    """
    from vein2vein.stats import charts
    from vein2vein.stats.csv_input import ARROW_FROM, read_column

    # many or long files: parse them all with pyarrow (loading it pays off from ARROW_FROM bytes)
    arrow = sum(p.stat().st_size for p in data if p.is_file()) >= ARROW_FROM or None

    def compute(path: Path) -> Any:
        x = read_column(path, column, arrow=arrow)
        rule_name = rules.value
        if type_ in (ChartType.xbar_r, ChartType.xbar_s):
            if not subgroup_size or subgroup_size < 2:
                raise InputError("X-bar charts need --subgroup-size >= 2", field="subgroup-size")
            if x.size % subgroup_size:
                raise InputError(
                    f"{x.size} values do not split into subgroups of {subgroup_size}",
                    file=str(path),
                    field="subgroup-size",
                )
            build = charts.xbar_r_chart if type_ == ChartType.xbar_r else charts.xbar_s_chart
            return build(
                x.reshape(-1, subgroup_size),
                phase1=phase1,
                center=center,
                sigma=sigma,
                k=3.0 if k is None else k,
                rules=rule_name,
                tabled=tabled,
            )
        if subgroup_size not in (None, 1):
            raise InputError(
                f"--subgroup-size does not apply to {type_.value}", field="subgroup-size"
            )
        if type_ == ChartType.imr:
            return charts.imr_chart(
                x,
                sigma_method=sigma_method,
                phase1=phase1,
                center=center,
                sigma=sigma,
                k=3.0 if k is None else k,
                rules=rule_name,
                tabled=tabled,
            )
        if type_ == ChartType.ewma:
            return charts.ewma_chart(
                x,
                lam=lam,
                L=3.0 if k is None else k,
                center=center,
                sigma=sigma,
                phase1=phase1,
                sigma_method=sigma_method,
                tabled=tabled,
            )
        return charts.cusum_chart(
            x,
            k=0.5 if k is None else k,
            h=h,
            center=center,
            sigma=sigma,
            phase1=phase1,
            sigma_method=sigma_method,
            tabled=tabled,
        )

    results = _run_each(data, compute)
    if as_json:
        from vein2vein.stats.chart_json import chart_json_parts

        _print_each(data, results, chart_json_parts, json_list=True)
    else:
        _print_each(data, results, lambda r: r.summary(), json_list=False)


@app.command("capability")
def capability_command(
    data: Annotated[Path, typer.Argument(help="CSV of values (in subgroup order).")],
    lsl: Annotated[float | None, typer.Option(help="Lower specification limit.")] = None,
    usl: Annotated[float | None, typer.Option(help="Upper specification limit.")] = None,
    target: Annotated[
        float | None, typer.Option(help="Target (default: mid-specification).")
    ] = None,
    subgroup_size: Annotated[
        int | None, typer.Option("--subgroup-size", help="Consecutive values per subgroup.")
    ] = None,
    sigma_within: Annotated[
        str | None,
        typer.Option("--sigma-within", help="rbar|sbar|pooled (subgroups); mr|median_mr|sd."),
    ] = None,
    confidence: Annotated[float, typer.Option(help="Confidence level of the intervals.")] = 0.95,
    tabled: Annotated[bool, typer.Option("--tabled", help="3-decimal tabled constants.")] = False,
    column: ColumnOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Capability (Cp…Cpm, within sigma) and performance (Pp…Ppk, overall sigma)."""
    from vein2vein.stats.capability import capability
    from vein2vein.stats.csv_input import read_column

    def compute() -> Any:
        return capability(
            read_column(data, column),
            lsl=lsl,
            usl=usl,
            target=target,
            subgroup_size=subgroup_size,
            sigma_within=sigma_within,
            confidence=confidence,
            tabled=tabled,
        )

    _run(compute, as_json)


@app.command("kinetics")
def kinetics_command(
    counts: Annotated[Path, typer.Argument(help="CSV: time_h, viable_cells[, seeded_cells].")],
    window_start: Annotated[
        float | None, typer.Option("--window-start", help="Exponential window start (h).")
    ] = None,
    window_end: Annotated[
        float | None, typer.Option("--window-end", help="Exponential window end (h).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fold expansion, population doublings, doubling time and log-linear growth rate."""
    from vein2vein.stats.csv_input import read_columns
    from vein2vein.stats.kinetics import expansion_kinetics

    def compute() -> Any:
        cols = read_columns(counts, ["time_h", "viable_cells"], ("seeded_cells",))
        window = None
        if window_start is not None or window_end is not None:
            if window_start is None or window_end is None:
                raise InputError("give both --window-start and --window-end", field="window")
            window = (window_start, window_end)
        return expansion_kinetics(
            cols["time_h"], cols["viable_cells"], cols.get("seeded_cells"), window=window
        )

    _run(compute, as_json)


@app.command("quality-range")
def quality_range_command(
    test: Annotated[Path, typer.Argument(help="CSV of the test lots.")],
    reference: Annotated[Path, typer.Argument(help="CSV of the reference lots.")],
    k: Annotated[float, typer.Option("--k", help="Multiplier of the reference SD.")] = 3.0,
    min_fraction: Annotated[
        float, typer.Option("--min-fraction", help="Share of test lots required inside.")
    ] = 1.0,
    minmax: Annotated[bool, typer.Option("--minmax", help="Min-max range instead.")] = False,
    column: ColumnOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Quality range (mean ± k·SD of the reference) or min-max range, with test lots inside."""
    from vein2vein.stats.csv_input import read_column
    from vein2vein.stats.ranges import minmax_range, quality_range

    def compute() -> Any:
        t, r = read_column(test, column), read_column(reference, column)
        if minmax:
            return minmax_range(t, r, min_fraction=min_fraction)
        return quality_range(t, r, k=k, min_fraction=min_fraction)

    _run(compute, as_json)


@app.command("power")
def power_command(
    n_test: Annotated[int, typer.Option("--n-test", help="Test lots.")],
    sigma: Annotated[float, typer.Option(help="SD (of paired differences when paired).")],
    n_reference: Annotated[
        int | None, typer.Option("--n-reference", help="Reference lots.")
    ] = None,
    sigma_reference: Annotated[float | None, typer.Option("--sigma-reference")] = None,
    margin: Annotated[float | None, typer.Option(help="Fixed symmetric margin.")] = None,
    margin_sd: Annotated[
        float | None, typer.Option("--margin-sd", help="Estimated margin k·s_R (simulation).")
    ] = None,
    true_difference: Annotated[float, typer.Option("--true-difference")] = 0.0,
    alpha: Annotated[float, typer.Option()] = 0.05,
    variance: Annotated[str, typer.Option(help="welch, pooled or paired.")] = "welch",
    n_sim: Annotated[int, typer.Option("--n-sim")] = 100_000,
    seed: Annotated[int, typer.Option()] = 20240601,
    as_json: JsonOpt = False,
) -> None:
    """Power of a TOST design (exact for a fixed margin; seeded simulation for k·s_R)."""
    from vein2vein.stats.power import tost_power

    def compute() -> Any:
        return tost_power(
            n_test,
            n_reference,
            sigma=sigma,
            sigma_reference=sigma_reference,
            margin=margin,
            margin_sd=margin_sd,
            true_difference=true_difference,
            alpha=alpha,
            variance=variance,
            n_sim=n_sim,
            seed=seed,
        )

    _run(compute, as_json)


@app.command("sample-size")
def sample_size_command(
    sigma: Annotated[float, typer.Option(help="SD (of paired differences when paired).")],
    target_power: Annotated[float, typer.Option("--target-power")] = 0.8,
    reference_ratio: Annotated[
        float, typer.Option("--reference-ratio", help="n_reference / n_test.")
    ] = 1.0,
    margin: Annotated[float | None, typer.Option(help="Fixed symmetric margin.")] = None,
    margin_sd: Annotated[
        float | None, typer.Option("--margin-sd", help="Estimated margin k·s_R (simulation).")
    ] = None,
    true_difference: Annotated[float, typer.Option("--true-difference")] = 0.0,
    alpha: Annotated[float, typer.Option()] = 0.05,
    variance: Annotated[str, typer.Option(help="welch, pooled or paired.")] = "welch",
    seed: Annotated[int, typer.Option()] = 20240601,
    as_json: JsonOpt = False,
) -> None:
    """Smallest number of lots reaching the target TOST power."""
    from vein2vein.stats.power import tost_sample_size

    def compute() -> Any:
        return tost_sample_size(
            target_power=target_power,
            reference_ratio=reference_ratio,
            sigma=sigma,
            margin=margin,
            margin_sd=margin_sd,
            true_difference=true_difference,
            alpha=alpha,
            variance=variance,
            seed=seed,
        )

    _run(compute, as_json)


@app.command("doe")
def doe_command(
    data: Annotated[Path, typer.Argument(help="CSV with coded factors (-1, 0, +1) and response.")],
    response: Annotated[str, typer.Option(help="Response column.")],
    factor: Annotated[list[str], typer.Option("--factor", help="Factor column (repeat).")],
    as_json: JsonOpt = False,
) -> None:
    """Effects and ANOVA of a 2^k factorial (centre points give a curvature test)."""
    from vein2vein.stats.csv_input import read_columns
    from vein2vein.stats.doe import factorial_analysis

    def compute() -> Any:
        cols = read_columns(data, [response, *factor])
        return factorial_analysis({k: v.tolist() for k, v in cols.items()}, response, factor)

    _run(compute, as_json)


@app.command("comparability")
def comparability_command(
    protocol: Annotated[Path, typer.Argument(help="Protocol YAML fixed before the data.")],
    data: Annotated[Path, typer.Argument(help="CSV: lot, arm, attribute, value[, donor].")],
    report: Annotated[
        Path | None, typer.Option("--report", help="Write an HTML or PDF report.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Comparability study: per-attribute tests against a pre-specified protocol."""
    from vein2vein.stats.comparability import load_lot_results, load_protocol, run_comparability

    def compute() -> Any:
        result = run_comparability(load_protocol(protocol), load_lot_results(data))
        if report is not None:
            from vein2vein.stats.report import write_report

            write_report(result, report)
        return result

    _run(compute, as_json)
    if report is not None:
        typer.echo(f"report written to {report}", err=True)
