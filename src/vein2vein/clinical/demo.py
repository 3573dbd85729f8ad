"""Demo records of the clinical feature: Helixa's EpCAM IIT study with the synthetic dataset
of :mod:`vein2vein.clinical.demo_data` uploaded as version 1 (through the same store
functions as a real upload, so the audit trail records it).

Called by ``vein2vein.demo.generator.load_demo`` inside its unit of work, so ``v2v demo``
stays idempotent (it loads nothing into a database that already holds records).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from vein2vein.demo.context import DemoContext
from vein2vein.store.uow import UnitOfWork

from .datasets import add_version
from .demo_data import CUTOFF, write_demo_csv
from .schemas import ReadoutParams
from .studies import add_study
from .tables import DatasetVersion, Study
from .upload import UploadedFile, parse_upload

DEMO_STUDY_CODE = "HLX-EPC-01-IIT"
DEMO_STUDY_TITLE = "EpCAM CAR-T in advanced gastric cancer: investigator-initiated dose escalation"

#: the program the demo study belongs to (the EpCAM IIT)
DEMO_PROGRAM_CODE = "HLX-EPC-01"


def demo_files() -> list[UploadedFile]:
    """The synthetic IIT as the four CSV files of the CSV-folder format."""
    with tempfile.TemporaryDirectory(prefix="v2v-demo-") as tmp:
        folder = write_demo_csv(Path(tmp))
        return [UploadedFile(p.name, p.read_bytes()) for p in sorted(folder.glob("*.csv"))]


def load_clinical_demo(uow: UnitOfWork, ctx: DemoContext) -> tuple[Study, DatasetVersion]:
    """Create the demo study under the EpCAM program and upload the synthetic dataset as v1."""
    program = ctx.programs[DEMO_PROGRAM_CODE]
    study = add_study(
        uow,
        program,
        code=DEMO_STUDY_CODE,
        title=DEMO_STUDY_TITLE,
        description="Ten synthetic patients at 0.3, 1 and 3 x 10^6 cells/kg, consistent with "
        "every figure of the sponsor's press release (issue 3). Data cut-off "
        f"{CUTOFF.isoformat()}.",
        options=ReadoutParams(cutoff=CUTOFF),
    )
    version = add_version(
        uow,
        study,
        parse_upload(demo_files(), "csv"),
        comment="Synthetic demo dataset (vein2vein.clinical.demo_data)",
    )
    return study, version
