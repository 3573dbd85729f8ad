"""Response categories as small integer codes, so the engine can work on numpy arrays.

The codes are internal; every public output carries the labels below (RECIST 1.1 wording, or the
iRECIST wording of Seymour et al., Lancet Oncol 2017;18:e143-52, in iRECIST mode).
"""

from __future__ import annotations

import numpy as np

CR, PR, SD, NN, PD, NE, ND, UPD, NONE, MISSING = range(10)

LABELS: tuple[str | None, ...] = (
    "CR",
    "PR",
    "SD",
    "NON-CR/NON-PD",
    "PD",
    "NE",
    "ND",
    "UPD",
    None,
    "MISSING",
)
IRECIST_LABELS: tuple[str | None, ...] = (
    "iCR",
    "iPR",
    "iSD",
    "NON-iCR/NON-iUPD",
    "iCPD",
    "NE",
    "ND",
    "iUPD",
    None,
    "MISSING",
)

#: Labels accepted in ``responses.csv`` / RS ``RSSTRESC`` (both spellings of the iRECIST ones).
PARSE: dict[str, int] = {
    "CR": CR,
    "PR": PR,
    "SD": SD,
    "NON-CR/NON-PD": NN,
    "NONCR/NONPD": NN,
    "NON-CR/NONPD": NN,
    "PD": PD,
    "NE": NE,
    "ND": ND,
    "ICR": CR,
    "IPR": PR,
    "ISD": SD,
    "NON-ICR/NON-IUPD": NN,
    "ICPD": PD,
    "IUPD": UPD,
}

#: admiralonco's order for the best response (``derive_param_bor``/``_confirmed_bor``
#: ``tmp_order``): smaller is better; iUPD ranks with PD.
BEST_ORDER = np.array([1, 2, 3, 4, 5, 6, 7, 5, 99, 8], dtype=np.int64)

#: admiralonco ``adrs`` vignette ``worst_resp()``: when one date has several records the one
#: with the highest value is kept (PD worst, NE only when nothing else was recorded).
WORST_ORDER = np.array([2, 3, 4, 5, 7, 1, 0, 6, -1, -1], dtype=np.int64)

RESPONDER = (CR, PR)
DISEASE_CONTROL = (CR, PR, SD, NN)
