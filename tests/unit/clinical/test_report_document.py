"""The readout report's pieces (pure): durations in days, weeks and months; doses with their
unit; one colour map for the page and the report; the Kaplan-Meier bands and the spider plot's
subject labels in the report's figures and the page's plot data; and the PDF (rendered by the
reports kit) read back with pypdf: numbered tables and figures with their captions and
footnotes, the confidential marking and the version on every page, the sign-off block, two
figures a page (no half-empty figure page), and the same bytes when rendered again."""

from __future__ import annotations

import datetime as dt
import io
import re

import numpy as np
import pytest
from pypdf import PdfReader

from vein2vein.clinical import colours as C
from vein2vein.clinical import report, report_document
from vein2vein.clinical import report_text as T
from vein2vein.clinical.demo import demo_files
from vein2vein.clinical.demo_data import CUTOFF
from vein2vein.clinical.figures import colour_map, km_plot, spider, waterfall
from vein2vein.clinical.readout import ReadoutOptions, readout
from vein2vein.clinical.upload import parse_upload


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    return readout(parse_upload(demo_files(), "csv").dataset, ReadoutOptions(cutoff=CUTOFF))


@pytest.fixture(scope="module")
def data(result):  # type: ignore[no-untyped-def]
    return result.plot_data()


# ------------------------------------------------------------------ words


def test_durations_in_days_weeks_and_months() -> None:
    # weeks = days / 7, months = days / 30.4375 (365.25 / 12; references/clinical.md 2.3)
    assert T.duration(224) == "224 d (32.0 wk; 7.4 mo)"
    assert T.duration(897, censored=True) == "897+ d (128.1 wk; 29.5 mo)"
    assert T.duration(0) == "0 d (0.0 wk; 0.0 mo)"
    assert T.duration(None) == "-" and T.duration(float("nan")) == "-"
    assert T.months(365.25) == pytest.approx(12.0) and T.weeks(7) == 1.0


def test_doses_carry_their_unit() -> None:
    assert T.dose(3e5) == "0.3 × 10^6 CAR-positive T cells/kg"
    assert T.dose(1e6, unit=False) == "1 × 10^6" and T.dose(3e6, unit=False) == "3 × 10^6"
    assert T.dose(2.5e8, unit=False) == "2.5 × 10^8" and T.dose(5e4, unit=False) == "5 × 10^4"
    assert T.dose(None) == "-" and T.dose(0) == "-"
    assert T.dose_level("Low", 3e5) == "Low: 0.3 × 10^6 CAR-positive T cells/kg"
    assert T.dose_level("ALL", None) == "All subjects"


# ------------------------------------------------------------------ colours


def _lightness(hex_colour: str) -> float:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_one_colour_means_one_thing() -> None:
    for n in range(1, 9):
        groups = [f"g{i}" for i in range(n)]
        dose = C.dose_colours(groups)
        # dose levels never take a response colour, darker for a higher dose
        assert not set(dose.values()) & set(C.BOR_COLOURS.values())
        light = [_lightness(dose[g]) for g in groups]
        assert light == sorted(light, reverse=True)
        if n <= 7:
            assert len(set(dose[g] for g in groups)) == n
        assert dose["ALL"] == C.ALL_COLOUR
    assert len(set(C.BOR_COLOURS.values())) == len(C.BOR_COLOURS)
    # each event has its own marker; response and progression take their category's colour
    assert len({m for _, m, _, _ in C.EVENTS.values()}) == len(C.EVENTS)
    assert C.EVENTS["response"][0] == C.BOR_COLOURS["PR"]
    assert C.EVENTS["progression"][0] == C.BOR_COLOURS["PD"]
    assert C.bor_colour("iCR") == C.BOR_COLOURS["CR"] and C.bor_colour(None) == "#e0e0e0"


def test_page_and_report_figures_share_the_colour_map(data) -> None:  # type: ignore[no-untyped-def]
    from matplotlib.colors import to_hex

    cmap = colour_map(data)  # what the page's script is handed
    fig = waterfall(data)
    bars = fig.axes[0].patches
    assert [to_hex(b.get_facecolor()) for b in bars] == [
        cmap["bor"][d["bor"]] for d in data["waterfall"]
    ]
    lines = [ln for ln in spider(data).axes[0].lines if ln.get_marker() == "o"]
    assert [to_hex(ln.get_color()) for ln in lines] == [
        cmap["dose"][s["dose_group"]] for s in data["spider"]
    ]


# ------------------------------------------------------------------ figures


def test_km_band_in_the_report_figure_and_the_page_data(data) -> None:  # type: ignore[no-untyped-def]
    for ep in ("os", "pfs"):
        fig = km_plot(data, ep)
        bands = {c.get_gid(): c for c in fig.axes[0].collections if c.get_gid()}
        for curve in data["km"][ep]:
            band = bands[f"band-{curve['dose_group']}"]
            # the shaded band spans the lower and upper limits the page's Plotly traces use
            ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
            lower = [v for v in curve["lower"] if v is not None]
            upper = [v for v in curve["upper"] if v is not None]
            assert ys.min() == pytest.approx(min(lower)) and ys.max() == pytest.approx(max(upper))
            assert len(curve["lower"]) == len(curve["upper"]) == len(curve["time"])
    js = (report.Path(report.__file__).parent / "static" / "clinical-figures.js").read_text()
    assert 'fill: "tonexty"' in js and "c.lower" in js and "c.upper" in js


def test_spider_plot_labels_every_subject_at_the_end_of_its_line(data) -> None:  # type: ignore[no-untyped-def]
    ax = spider(data).axes[0]
    labels = {t.get_text(): t.xy for t in ax.texts}
    for s in data["spider"]:
        assert labels[s["subject_id"]] == (s["week"][-1], s["pct_change"][-1])
    js = (report.Path(report.__file__).parent / "static" / "clinical-figures.js").read_text()
    assert "i === last ? s.subject_id" in js


# ------------------------------------------------------------------ the document and the PDF


def test_document_numbers_tables_and_figures(result) -> None:  # type: ignore[no-untyped-def]
    doc = report_document.build(result, "R")
    assert [t.caption.split(".")[0] for t in doc.tables] == ["Table 1", "Table 2", "Table 3"]
    assert [f.caption.split(".")[0] for f in doc.figures] == [f"Figure {i}" for i in range(1, 6)]
    t1 = doc.table("response")
    rows = {r[0]: r[1:] for r in t1.rows}
    # press release: middle dose 2 PR of 5 (40 %); all subjects DCR 9/10
    assert rows["PR"] == ("1 (33.3%)", "2 (40.0%)", "0 (0.0%)", "3 (30.0%)")
    assert rows["DCR (95% CI)"][-1] == "9/10 (90.0%; 55.5-99.7)"
    assert t1.columns[2] == "Middle 1e6/kg: 1 × 10^6 (n=5)"
    assert any("Data cut-off: 2025-03-01" in n for n in t1.footnotes)
    assert any("Population: evaluable subjects (n=10)" in n for n in t1.footnotes)
    listing = {r[0]: r for r in doc.table("subjects").rows}
    assert listing["IIT-G04"][6] == "897+ d (128.1 wk; 29.5 mo)"  # OS, censored
    assert doc.table("subjects").columns[1] == "Dose (CAR-positive T cells/kg)"


def test_pdf_reads_back_captions_marking_version_and_sign_off(result) -> None:  # type: ignore[no-untyped-def]
    signoff = report_document.SignOff(
        (report_document.Signatory("a.reyes", "Dr. Samuel Reyes"),
         report_document.Signatory("a.costa", "Dr. Ana Costa")),
        (report_document.SignedBy("a.reyes", "Dr. Samuel Reyes", "approved",
                                  "2026-12-07T02:00:00.000000Z", "ab" * 32),),
    )  # fmt: skip
    meta = report_document.ReportMeta(
        version_label="3 (dataset version 2), draft (1 of 2 signatures)",
        status="draft (1 of 2 signatures)",
        sponsor="Helixa",
        anchors={"Dataset SHA-256": "d" * 64, "Audit trail head": "#7 " + "e" * 64},
        signoff=signoff,
        provenance="Method: test",
    )
    when = dt.datetime(2026, 12, 7, 1, 30, tzinfo=dt.UTC)
    pdf = report.to_pdf(result, "Clinical readout - IIT", meta=meta, created=when)
    assert report.to_pdf(result, "Clinical readout - IIT", meta=meta, created=when) == pdf
    reader = PdfReader(io.BytesIO(pdf))
    pages = [p.extract_text() for p in reader.pages]
    text = "\n".join(pages)
    for page in pages:  # marking, version and anchors on every page
        assert "CONFIDENTIAL - Helixa" in page
        assert "Clinical readout - IIT, version 3 (dataset version 2), draft (1 of 2" in page
        assert "d" * 64 in page
    for caption in (
        "Table 1. Best overall response by dose level, n (%)",
        "Table 2. Kaplan-Meier medians by dose level",
        "Table 3. Subject listing",
        "Figure 1. Waterfall plot",
        "Figure 2. Spider plot",
        "Figure 3. Swimmer plot",
        "Figure 4. Overall survival by dose level",
        "Figure 5. Progression-free survival by dose level",
    ):
        assert caption in text, caption
    assert "Data cut-off: 2025-03-01" in text and "CAR-positive T cells per kg" in text
    assert "2 (40.0%)" in text and re.search(r"897\+ d \(128\.1 wk; 29\.5\s+mo\)", text)
    assert "Sign-off" in text and "Dr. Ana Costa" in text and "awaiting signature" in text
    assert "Generated 2026-12-07 01:30:00 UTC" in pages[0]
    assert "Dr. Samuel Reyes" in text and "approved" in text
    # figure pages without empty halves: two figures a page, the last one's page going on
    # with the provenance and the sign-off (the reports kit's layout)
    images = [len(p.images) for p in reader.pages]
    assert images == [0, 2, 2, 1]
    assert "Provenance" in pages[3] and "Sign-off" in pages[3]
    assert pages[3].index("Figure 5.") < pages[3].index("Provenance")
