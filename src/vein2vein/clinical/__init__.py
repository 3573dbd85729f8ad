"""Clinical readout engine (pure: no database, no web): RECIST 1.1 and iRECIST time-point
responses, best overall response, ORR/DCR with exact intervals, OS/PFS/DOR, Kaplan-Meier
medians, readers for the CSV folder format and CDISC SDTM, figures and the report.

One call for every caller (CLI today, the study web page later)::

    from vein2vein.clinical import read_csv_folder, readout, ReadoutOptions
    result = readout(read_csv_folder("study/"), ReadoutOptions(cutoff=date(2025, 3, 1)))
    result.to_dict()        # the JSON of `v2v clinical readout --json`
    result.response_table() # ORR/DCR/medians by dose group (DataFrame)
    result.plot_data()      # waterfall / spider / swimmer / KM data for any plotting library

See docs/clinical.md.
"""

# Submodules import scipy and pandas; load them on first use so that `v2v` starts quickly
# (PEP 562 module __getattr__).
from __future__ import annotations

from vein2vein.core.lazy import lazy_exports

_EXPORTS = {
    "BorOptions": "bor",
    "BorResult": "bor",
    "ClinicalDataset": "dataset",
    "GroupSummary": "readout",
    "KaplanMeier": "survival",
    "Proportion": "rates",
    "ReadoutOptions": "readout",
    "ReadoutResult": "readout",
    "bor_from_responses": "responses",
    "clopper_pearson": "rates",
    "derive_bor": "bor",
    "kaplan_meier": "survival",
    "read_csv_folder": "csv_reader",
    "read_responses": "responses",
    "read_sdtm": "sdtm",
    "readout": "readout",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
