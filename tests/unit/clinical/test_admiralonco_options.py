"""The admiralonco options at the command line (``v2v clinical bor``), in a study's settings
(``ReadoutParams``) and in the readout: ``--after-pd keep|drop``, ``--pd-dates FILE``,
``--benefit CATEGORIES``, and the output columns ``first_response_date``,
``first_confirmed_response_date`` and ``clinical_benefit``.

Each test restates the input rows and expected values of a named test of
pharmaverse/admiralonco (version 1.4.0.9003, ``tests/testthat/``), typed in here from the R
test file (R was not run). admiralonco's ``source_pd`` is our ``--pd-dates``; its
``source_pd = NULL`` is our ``--after-pd keep`` (no record is cut); its ``ref_start_window`` is
our ``--sd-min-days``; its ``clinben_vals`` our ``--benefit``; the date of its ``RSP``
parameter our ``first_response_date`` and of its ``CRSP`` parameter our
``first_confirmed_response_date``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vein2vein.clinical.bor import BENEFIT, BorOptions, parse_benefit
from vein2vein.clinical.cli import app
from vein2vein.clinical.schemas import DEFAULT_BENEFIT, ReadoutOverrides, ReadoutParams

runner = CliRunner()


def _write(path: Path, header: str, rows: list[tuple[str, ...]]) -> Path:
    path.write_text(header + "\n" + "".join(",".join(r) + "\n" for r in rows))
    return path


def responses(tmp_path: Path, ref: dict[str, str], ovr: list[tuple[str, str, str]]) -> Path:
    """``responses.csv`` of ADSL reference dates and OVR records (subject, date, response); a
    subject without records gets the blank row that stands for "no assessment"."""
    rows = [(s, ref[s], d, r) for s, d, r in ovr]
    rows += [(s, ref[s], "", "") for s in ref if s not in {o[0] for o in ovr}]
    return _write(tmp_path / "responses.csv", "subject_id,reference_date,date,response", rows)


def pd_dates(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    return _write(tmp_path / "pd_dates.csv", "subject_id,pd_date", rows)


def bor_json(*args: str) -> dict[str, dict]:
    res = runner.invoke(app, ["bor", *args, "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    return {s["subject_id"]: s for s in doc["subjects"]} | {"options": doc["options"]}


def column(table: dict[str, dict], name: str) -> dict[str, object]:
    return {k: v[name] for k, v in table.items() if k != "options"}


# ------------------------------------------------- test-derive_param_clinbenefit.R

CB_ADSL = {
    "01": "2020-12-06",
    "02": "2021-01-16",
    "03": "2021-01-09",
    "04": "2021-04-21",
    "05": "2021-06-10",
    "06": "2021-07-04",
    "07": "2021-07-01",
}
# The OVR rows of the test file; its two rows with response NA (subject 02 on 2021-04-07,
# subject 04 on 2021-06-30) are left out: responses.csv has no "NA" category (a dated row
# needs a response), and admiralonco's filter drops neither of them from the derivation
# anyway (NA is in none of the categories).
CB_OVR = [
    ("01", "2021-03-07", "SD"),
    ("01", "2021-04-08", "PR"),
    ("02", "2021-03-07", "SD"),
    ("02", "2021-05-07", "PD"),
    ("03", "2021-01-30", "SD"),
    ("04", "2021-05-21", "NE"),
    ("04", "2021-07-24", "NE"),
    ("04", "2021-09-30", "ND"),
    ("06", "2021-08-20", "PD"),
    ("06", "2021-09-22", "SD"),
    ("07", "2021-12-05", "NON-CR/NON-PD"),
]
CB_PD = [("02", "2021-05-07"), ("06", "2021-08-20")]  # PARAMCD == "PD" & AVALC == "Y"


def test_clinbenefit_test_1_ignore_non_cr_non_pd(tmp_path):
    """test-derive_param_clinbenefit.R, "derive_param_clinbenefit Test 1: ignore
    NON-CR/NON-PD": clinben_vals CR, PR, SD; ref_start_window 28; source_pd = the PD
    parameter. Expected CBR: 01 Y, 02 Y, 03 N (SD 21 days after start), 04 N (NE/ND only),
    05 N (no records), 06 N (SD after the PD), 07 N (NON-CR/NON-PD not listed)."""
    r = responses(tmp_path, CB_ADSL, CB_OVR)
    p = pd_dates(tmp_path, CB_PD)
    got = bor_json(str(r), "--sd-min-days", "28", "--pd-dates", str(p), "--benefit", "CR,PR,SD")
    assert column(got, "clinical_benefit") == {
        "01": True,
        "02": True,
        "03": False,
        "04": False,
        "05": False,
        "06": False,
        "07": False,
    }
    assert got["options"]["benefit"] == ["CR", "PR", "SD"]
    assert got["options"]["after_pd"] == "drop"
    assert got["options"]["pd_source"].startswith("pd_dates.csv (SHA-256 ")


def test_clinbenefit_test_2_no_source_pd(tmp_path):
    """test-derive_param_clinbenefit.R, "derive_param_clinbenefit Test 2: No source_pd": the
    default clinben_vals (CR, PR, SD, NON-CR/NON-PD) and no PD source, i.e. our
    ``--after-pd keep``. Expected CBR: 01 Y, 02 Y, 03 N, 04 N, 05 N, 06 Y (SD on 2021-09-22,
    after the PD, is kept), 07 Y."""
    r = responses(tmp_path, CB_ADSL, CB_OVR)
    got = bor_json(str(r), "--sd-min-days", "28", "--after-pd", "keep")
    assert column(got, "clinical_benefit") == {
        "01": True,
        "02": True,
        "03": False,
        "04": False,
        "05": False,
        "06": True,
        "07": True,
    }
    assert got["options"]["benefit"] == list(BENEFIT)


def test_clinbenefit_default_drop_cuts_at_the_pd_record(tmp_path):
    """The same data as test-derive_param_clinbenefit.R Test 2 with our default
    (``--after-pd drop``, no file): the first PD record cuts, so 06's later SD does not count,
    as in Test 1 where the PD source gives the same date."""
    r = responses(tmp_path, CB_ADSL, CB_OVR)
    got = bor_json(str(r), "--sd-min-days", "28")
    assert column(got, "clinical_benefit")["06"] is False
    assert column(got, "clinical_benefit")["07"] is True


# ------------------------------------------------- test-derive_param_response.R

RSP_ADSL = {"1": "2020-01-01", "2": "2019-12-12", "3": "2019-11-11", "4": "2019-12-30"}
RSP_OVR = [
    ("1", "2020-01-02", "PR"),
    ("1", "2020-02-01", "CR"),
    ("1", "2020-03-01", "CR"),
    ("1", "2020-04-01", "SD"),
    ("2", "2021-06-15", "SD"),
    ("2", "2021-07-16", "PD"),
    ("2", "2021-09-14", "PD"),
    ("3", "2021-09-14", "SD"),
    ("3", "2021-10-30", "PD"),
    ("3", "2021-12-25", "CR"),
]
# subject 1's PD row has AVALC "N" and no date: no progression; 2's PD date (09-14) is later
# than its first OVR PD (07-16): the source's date is the one that cuts
RSP_PD = [("1", ""), ("2", "2021-09-14"), ("3", "2021-10-30")]


def test_response_test_1_with_source_pd(tmp_path):
    """test-derive_param_response.R, "derive_param_response Test 1: With source_pd":
    RSP 1 Y on 2020-01-02; 2, 3 and 4 N (3's CR of 2021-12-25 is after its PD)."""
    r = responses(tmp_path, RSP_ADSL, RSP_OVR)
    p = pd_dates(tmp_path, RSP_PD)
    got = bor_json(str(r), "--pd-dates", str(p))
    assert column(got, "first_response_date") == {
        "1": "2020-01-02",
        "2": None,
        "3": None,
        "4": None,
    }


def test_response_test_2_no_source_pd(tmp_path):
    """test-derive_param_response.R, "derive_param_response Test 2: No source_pd" (our
    ``--after-pd keep``): RSP 1 Y on 2020-01-02, 3 Y on 2021-12-25, 2 and 4 N."""
    r = responses(tmp_path, RSP_ADSL, RSP_OVR)
    got = bor_json(str(r), "--after-pd", "keep")
    assert column(got, "first_response_date") == {
        "1": "2020-01-02",
        "2": None,
        "3": "2021-12-25",
        "4": None,
    }
    assert got["3"]["bor"] == "CR"


# ------------------------------------------------- test-derive_param_confirmed_resp.R
# (the ADSL and OVR rows are those of test-derive_param_confirmed_bor.R)

CONF_ADSL = {
    "1": "2020-01-01",
    "2": "2019-12-12",
    "3": "2019-11-11",
    "4": "2019-12-30",
    "5": "2020-01-01",
    "6": "2020-02-02",
    "7": "2020-02-02",
    "8": "2020-04-01",
    "9": "2020-02-01",
}
CONF_OVR = [
    ("1", "2020-01-01", "PR"),
    ("1", "2020-02-01", "CR"),
    ("1", "2020-02-16", "NE"),
    ("1", "2020-03-01", "CR"),
    ("1", "2020-04-01", "SD"),
    ("2", "2020-01-01", "SD"),
    ("2", "2020-02-01", "PR"),
    ("2", "2020-03-01", "SD"),
    ("2", "2020-03-13", "CR"),
    ("3", "2019-11-12", "CR"),
    ("3", "2019-12-02", "CR"),
    ("3", "2020-01-01", "SD"),
    ("4", "2020-01-01", "PR"),
    ("4", "2020-03-01", "SD"),
    ("4", "2020-04-01", "SD"),
    ("4", "2020-05-01", "PR"),
    ("4", "2020-05-15", "NON-CR/NON-PD"),
    ("5", "2020-01-01", "PR"),
    ("5", "2020-01-10", "SD"),
    ("5", "2020-01-20", "PR"),
    ("5", "2020-05-15", "NON-CR/NON-PD"),
    ("6", "2020-02-06", "PR"),
    ("6", "2020-02-16", "CR"),
    ("6", "2020-03-30", "PR"),
    ("7", "2020-02-06", "PR"),
    ("7", "2020-02-16", "CR"),
    ("7", "2020-04-01", "NE"),
    ("9", "2020-02-16", "PD"),
    ("9", "2020-03-06", "SD"),
]
CONF_PD = [("9", "2020-02-16")]


def test_confirmed_resp_test_1_default(tmp_path):
    """test-derive_param_confirmed_resp.R, "derive_param_confirmed_resp Test 1: default
    confirmed response" (ref_confirm 28, source_pd): CRSP 1 Y on 2020-01-01 (the PR that the
    CR of 02-01 confirms, although the confirmed BOR is the CR), every other subject N."""
    r = responses(tmp_path, CONF_ADSL, CONF_OVR)
    p = pd_dates(tmp_path, CONF_PD)
    got = bor_json(str(r), "--sd-min-days", "28", "--pd-dates", str(p))
    dates = column(got, "first_confirmed_response_date")
    assert dates == {s: ("2020-01-01" if s == "1" else None) for s in CONF_ADSL}
    assert (got["1"]["bor_confirmed"], got["1"]["bor_confirmed_date"]) == ("CR", "2020-02-01")


def test_confirmed_resp_test_2_accept_sd(tmp_path):
    """test-derive_param_confirmed_resp.R, "derive_param_confirmed_resp Test 2: accept SD"
    (ref_confirm 14, max_nr_ne 0, accept_sd; subject 7's records replaced by ND on
    2020-04-02): CRSP 1 Y 2020-01-01, 2 Y 2020-02-01, 3 Y 2019-11-12, 5 Y 2020-01-01; 4, 6,
    7, 8 and 9 N."""
    ovr = [o for o in CONF_OVR if o[0] != "7"] + [("7", "2020-04-02", "ND")]
    r = responses(tmp_path, CONF_ADSL, ovr)
    p = pd_dates(tmp_path, CONF_PD)
    got = bor_json(
        str(r),
        *("--sd-min-days", "28", "--confirm-days", "14", "--max-ne", "0", "--accept-sd"),
        *("--pd-dates", str(p)),
    )
    expected = {"1": "2020-01-01", "2": "2020-02-01", "3": "2019-11-12", "5": "2020-01-01"}
    assert column(got, "first_confirmed_response_date") == {s: expected.get(s) for s in CONF_ADSL}


def test_confirmed_resp_test_4_no_source_pd(tmp_path):
    """test-derive_param_confirmed_resp.R, "derive_param_confirmed_resp Test 4: No
    source_pd" (our ``--after-pd keep``): subject 1 (SD, PD, PR 02-16, CR 03-21) responds
    after the PD, Y on 2020-02-16; subject 2 (SD, CR 02-01, PD 02-16, CR 03-21) is N: its
    CRs straddle a PD."""
    ref = {"1": "2020-01-01", "2": "2019-12-12"}
    ovr = [
        ("1", "2020-01-01", "SD"),
        ("1", "2020-02-01", "PD"),
        ("1", "2020-02-16", "PR"),
        ("1", "2020-03-21", "CR"),
        ("2", "2020-01-01", "SD"),
        ("2", "2020-02-01", "CR"),
        ("2", "2020-02-16", "PD"),
        ("2", "2020-03-21", "CR"),
    ]
    r = responses(tmp_path, ref, ovr)
    got = bor_json(str(r), "--after-pd", "keep")
    assert column(got, "first_confirmed_response_date") == {"1": "2020-02-16", "2": None}
    # with our default (drop) both stop at their PD: no confirmed response
    got = bor_json(str(r))
    assert column(got, "first_confirmed_response_date") == {"1": None, "2": None}


# ------------------------------------------------- test-derive_param_confirmed_bor.R


def test_confirmed_bor_test_4_no_source_pd_keeps_records_after_pd(tmp_path):
    """test-derive_param_confirmed_bor.R, "derive_param_confirmed_bor Test 4: No source_pd"
    (ref_start_window 28, ref_confirm 28): subject 9's confirmed BOR is SD on 2020-03-06
    ("expected is now SD"); with the PD source (Test 1) it is PD on 2020-02-16."""
    r = responses(tmp_path, CONF_ADSL, CONF_OVR)
    kept = bor_json(str(r), "--sd-min-days", "28", "--after-pd", "keep")
    assert (kept["9"]["bor_confirmed"], kept["9"]["bor_confirmed_date"]) == ("SD", "2020-03-06")
    p = pd_dates(tmp_path, CONF_PD)
    cut = bor_json(str(r), "--sd-min-days", "28", "--pd-dates", str(p))
    assert (cut["9"]["bor_confirmed"], cut["9"]["bor_confirmed_date"]) == ("PD", "2020-02-16")


# ------------------------------------------------- test-derive_param_bor.R


def test_bor_test_2_with_source_pd(tmp_path):
    """test-derive_param_bor.R, "derive_param_bor Test 2: With source_pd" (ref_start_window
    28; PD dates 9 2020-02-16, 2 2020-03-01, 6 2020-02-05): subject 2's BOR "is now PR as PD
    removed CR records" (PR on 2020-02-01) and 6's "is now MISSING as PD removed all
    records"; the others keep Test 1's values (1 CR 02-01, 3 CR 2019-11-12, 4 PR 01-01)."""
    adsl = {k: v for k, v in CONF_ADSL.items() if k != "9"}
    ovr = [o for o in CONF_OVR if o[0] != "9"]
    r = responses(tmp_path, adsl, ovr)
    p = pd_dates(tmp_path, [("2", "2020-03-01"), ("6", "2020-02-05")])
    got = bor_json(str(r), "--sd-min-days", "28", "--pd-dates", str(p))
    assert (got["2"]["bor"], got["2"]["bor_date"]) == ("PR", "2020-02-01")
    assert (got["6"]["bor"], got["6"]["bor_date"]) == ("MISSING", None)
    assert got["6"]["first_response_date"] is None
    assert (got["1"]["bor"], got["3"]["bor"], got["4"]["bor"]) == ("CR", "CR", "PR")
    assert got["2"]["first_response_date"] == "2020-02-01"


# ------------------------------------------------- test-filter_pd.R


def test_filter_pd_test_2_first_pd_in_adsl_keeps_the_pd_date_itself(tmp_path):
    """test-filter_pd.R, "filter_pd Test 2: first PD in ADSL dataset" (PDDT 01-701-1015
    2016-02-22, 01-701-1034 2016-04-25): records on the PD date are kept, later ones
    dropped (1034's PD of 2016-06-25), a subject without a PD date keeps everything (1035).
    The test has no treatment start; we take 2016-01-01 for all three."""
    ref = dict.fromkeys(("01-701-1015", "01-701-1034", "01-701-1035"), "2016-01-01")
    ovr = [
        ("01-701-1015", "2016-01-25", "CR"),
        ("01-701-1015", "2016-02-22", "PD"),
        ("01-701-1034", "2015-12-07", "SD"),
        ("01-701-1034", "2016-04-25", "PD"),
        ("01-701-1034", "2016-06-25", "PD"),
        ("01-701-1035", "2016-04-25", "SD"),
        ("01-701-1035", "2016-06-25", "PR"),
    ]
    r = responses(tmp_path, ref, ovr)
    p = pd_dates(tmp_path, [("01-701-1015", "2016-02-22"), ("01-701-1034", "2016-04-25")])
    got = bor_json(str(r), "--pd-dates", str(p), "--benefit", "CR,PR")
    # the PD record of the PD date itself is kept: 1015's confirmed BOR is PD, its CR alone
    # is too early for SD (42 days)
    assert (got["01-701-1015"]["bor_confirmed"], got["01-701-1015"]["bor"]) == ("PD", "CR")
    assert got["01-701-1035"]["bor"] == "PR"
    assert column(got, "clinical_benefit") == {
        "01-701-1015": True,
        "01-701-1034": False,
        "01-701-1035": True,
    }


# ------------------------------------------------- bad input and the study settings


def test_bad_pd_dates_file_names_file_row_and_field(tmp_path):
    r = responses(tmp_path, CONF_ADSL, CONF_OVR)
    bad = _write(tmp_path / "pd.csv", "subject_id,pd_date", [("9", "2020-02-16"), ("9", "02/16")])
    res = runner.invoke(app, ["bor", str(r), "--pd-dates", str(bad)])
    assert res.exit_code == 2
    assert "pd.csv, row 3, field 'pd_date': unparseable date '02/16'" in res.stderr
    bad = _write(tmp_path / "pd.csv", "subject_id,pd_date", [("9", "2020-02-16"), ("X", "")])
    res = runner.invoke(app, ["bor", str(r), "--pd-dates", str(bad)])
    assert res.exit_code == 2
    assert "pd.csv, row 3, field 'subject_id': unknown subject 'X'" in res.stderr
    bad = _write(tmp_path / "pd.csv", "subject_id,progression", [("9", "2020-02-16")])
    res = runner.invoke(app, ["bor", str(r), "--pd-dates", str(bad)])
    assert res.exit_code == 2 and "pd.csv" in res.stderr and "pd_date" in res.stderr
    good = pd_dates(tmp_path, CONF_PD)
    res = runner.invoke(app, ["bor", str(r), "--pd-dates", str(good), "--after-pd", "keep"])
    assert res.exit_code == 2 and "after_pd" in res.stderr
    res = runner.invoke(app, ["bor", str(r), "--benefit", "CR,PD"])
    assert res.exit_code == 2 and "--benefit: unknown category 'PD'" in res.stderr
    res = runner.invoke(app, ["bor", str(r), "--after-pd", "sometimes"])
    assert res.exit_code == 2


def test_benefit_parsing():
    assert parse_benefit("sd, cr") == ("CR", "SD")
    assert parse_benefit("CR,PR,SD,NON-CR/NON-PD") == BENEFIT
    assert DEFAULT_BENEFIT == BENEFIT
    for bad in ("", "CR,CR", "CR,MISSING"):
        with pytest.raises(ValueError):
            parse_benefit(bad)
    assert BorOptions(truncate_at_first_pd=False).to_dict()["after_pd"] == "keep"


def test_study_settings_hold_after_pd_and_benefit():
    """A study stores only the options that differ from the defaults; a request overrides
    them with a comma-separated ``benefit`` (query string) or a list (JSON)."""
    params = ReadoutParams(after_pd="keep", benefit="SD,CR,PR")
    assert params.stored() == {"after_pd": "keep", "benefit": ["CR", "PR", "SD"]}
    assert ReadoutParams().stored() == {}
    opts = ReadoutParams.model_validate(params.stored()).to_options()
    assert opts.bor.after_pd == "keep" and opts.bor.benefit == ("CR", "PR", "SD")
    assert opts.dcr_text == "DCR = CR + PR + SD"
    assert ReadoutParams().to_options().dcr_text == "DCR = CR + PR + SD + NON-CR/NON-PD"
    over = ReadoutOverrides.model_validate({"benefit": "CR,PR,SD,NON-CR/NON-PD"})
    assert over.apply(params.stored()).stored() == {"after_pd": "keep"}
    with pytest.raises(ValueError):
        ReadoutParams(benefit=["CR", "NE"])
    with pytest.raises(ValueError):
        ReadoutParams(after_pd="sometimes")


# ------------------------------------------------- the readout (v2v clinical readout)


def test_readout_takes_the_options_and_prints_them(tmp_path):
    """``v2v clinical readout`` on the demo study: ``--benefit CR,PR`` makes DCR count only
    responders (3 of 10 confirmed PR), a progression date for IIT-G05 before its first PR
    (2022-12-07) removes that response (its only scan left comes before the 42-day SD
    minimum: BOR NE, no benefit), and the provenance names the options and the file's SHA-256."""
    from vein2vein.clinical.demo_data import write_demo_csv

    folder = write_demo_csv(tmp_path / "demo")
    res = runner.invoke(app, ["readout", str(folder), "--json", "--no-timepoints"])
    assert res.exit_code == 0, res.output
    base = json.loads(res.stdout)
    g05 = next(s for s in base["subjects"] if s["subject_id"] == "IIT-G05")
    assert (g05["first_response_date"], g05["first_confirmed_response_date"]) == (
        "2022-12-07",
        "2022-12-07",
    )
    assert g05["clinical_benefit"] is True and g05["clinical_benefit_confirmed"] is True
    assert base["groups"][-1]["dcr"]["k"] == 9
    assert base["provenance"]["options"]["bor"]["after_pd"] == "drop"

    p = pd_dates(tmp_path, [("IIT-G05", "2022-11-30")])
    args = ["readout", str(folder), "--json", "--pd-dates", str(p), "--benefit", "CR,PR"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    g05 = next(s for s in doc["subjects"] if s["subject_id"] == "IIT-G05")
    assert g05["first_response_date"] is None and g05["first_confirmed_response_date"] is None
    assert g05["bor_confirmed"] == "NE" and g05["clinical_benefit_confirmed"] is False
    assert not any(t["used_for_bor"] for t in g05["timepoints"] if t["date"] > "2022-11-30")
    assert doc["groups"][-1]["dcr"]["k"] == doc["groups"][-1]["orr"]["k"] == 2
    opts = doc["provenance"]["options"]
    assert opts["bor"]["benefit"] == ["CR", "PR"]
    assert opts["pd_source"].startswith("pd_dates.csv (SHA-256 ")
    assert opts["dcr"] == "subjects whose BOR is one of: CR, PR"

    res = runner.invoke(app, ["readout", str(folder), "--after-pd", "keep"])
    assert res.exit_code == 0, res.output
    assert "'after_pd': 'keep'" in res.stdout  # the provenance printed under the table
    bad = pd_dates(tmp_path, [("IIT-G99", "2022-11-30")])
    res = runner.invoke(app, ["readout", str(folder), "--pd-dates", str(bad)])
    assert res.exit_code == 2
    assert "pd_dates.csv, row 2, field 'subject_id': unknown subject 'IIT-G99'" in res.stderr


def test_benefit_flags_stream_as_json_writes_them():
    """The readout's flag columns (True/False, None for a subject not infused) are written by
    the JSON stream as ``json.dumps`` writes each value; an integer 1 mixed in stays 1."""
    import numpy as np

    from vein2vein.clinical.readout_json import column_texts

    for values in ([True, None, False, True], [None, None], [True, 1, None], [False]):
        col = np.array(values, dtype=object)
        assert column_texts(col) == [json.dumps(v) for v in values]


def test_a_csv_folder_may_carry_its_pd_dates(tmp_path):
    """``pd_dates.csv`` in a CSV folder (so in a stored dataset version) acts as
    ``--pd-dates``: its hash is part of the dataset's input hash and the provenance names it;
    given twice, or with ``--after-pd keep``, it is refused; an unknown subject names file, row
    and field."""
    from vein2vein.clinical.csv_reader import read_csv_folder
    from vein2vein.clinical.demo_data import write_demo_csv
    from vein2vein.clinical.readout import ReadoutOptions, readout
    from vein2vein.clinical.responses import read_pd_dates
    from vein2vein.core.errors import InputError

    folder = write_demo_csv(tmp_path / "demo")
    before = read_csv_folder(folder).input_hash()
    pd_dates(folder, [("IIT-G05", "2022-11-30")])
    ds = read_csv_folder(folder)
    assert ds.input_hash() != before
    r = readout(ds)
    g05 = r.subject("IIT-G05")
    assert g05["first_response_date"] is None and g05["bor_confirmed"] == "NE"
    assert r.provenance.options["pd_source"].startswith("pd_dates.csv of the dataset (SHA-256 ")
    with pytest.raises(InputError, match=r"its own pd_dates\.csv"):
        readout(ds, pd_dates=read_pd_dates(folder / "pd_dates.csv"))
    with pytest.raises(InputError) as exc:
        readout(ds, ReadoutOptions(bor=BorOptions(truncate_at_first_pd=False)))
    assert exc.value.field == "after_pd"
    pd_dates(folder, [("IIT-G05", "2022-11-30"), ("IIT-X", "")])
    with pytest.raises(InputError) as exc:
        read_csv_folder(folder)
    assert (exc.value.file, exc.value.row, exc.value.field) == ("pd_dates.csv", 3, "subject_id")
