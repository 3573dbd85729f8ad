"""The registry of CTD sections the program's tables can be generated for (issue 14; docs/ctd.md).

Each entry names its builder, ``module:function`` in ``vein2vein.insights``, called as
``builder(session, scope, program, stamp) -> (Document, record ids)`` in the generating unit of
work. A section whose records this installation does not keep yet is listed with the reason
and refused by name when asked for, never filled with anything else: adding it later is one
builder and its entry here.

==============  ==========================================  ====================================
section         what                                        filled from
==============  ==========================================  ====================================
3.2.P.5.4       batch analyses                              batch records, specifications, QC
                                                            results, QA dispositions
3.2.P.3.3       batch history (process description)         batch records, MBR versions, QA
                                                            dispositions
3.2.P.2         comparability summary                       approved comparability protocols
                                                            and their stored runs
==============  ==========================================  ====================================
"""

from __future__ import annotations

from dataclasses import dataclass

from vein2vein.core.errors import InputError, RuleViolation

__all__ = ["FORMATS", "SECTIONS", "CtdSection", "available", "find", "media_type"]

#: output formats: media type and file extension
FORMATS = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


@dataclass(frozen=True)
class CtdSection:
    code: str
    title: str
    builder: str | None
    unavailable: str = ""
    aliases: tuple[str, ...] = ()

    @property
    def available(self) -> bool:
        return self.builder is not None


SECTIONS: tuple[CtdSection, ...] = (
    CtdSection(
        "3.2.P.5.4",
        "Batch analyses",
        "ctd_batches:batch_analyses_document",
        aliases=("batch-analyses",),
    ),
    CtdSection(
        "3.2.P.3.3",
        "Batch history (description of the manufacturing process)",
        "ctd_batches:batch_history_document",
        aliases=("batch-history",),
    ),
    CtdSection(
        "3.2.P.2",
        "Comparability summary (pharmaceutical development)",
        "ctd_comparability_read:comparability_document",
        aliases=("comparability",),
    ),
)


def find(code: str) -> CtdSection:
    """The section named ``code`` (or an alias); ``InputError`` naming the known ones."""
    wanted = (code or "").strip()
    for s in SECTIONS:
        if wanted.upper() == s.code.upper() or wanted.lower() in s.aliases:
            return s
    known = ", ".join(s.code for s in SECTIONS)
    raise InputError(f"unknown CTD section {wanted!r}: one of {known}", field="section")


def available(code: str) -> CtdSection:
    """The section, refused with ``RuleViolation`` when it cannot be generated yet."""
    s = find(code)
    if not s.available:
        raise RuleViolation(
            f"CTD section {s.code} ({s.title}) is not available yet: {s.unavailable}"
        )
    return s


def media_type(fmt: str) -> str:
    value = (fmt or "").strip().lower()
    if value not in FORMATS:
        raise InputError(f"the format is {' or '.join(FORMATS)}", field="format")
    return FORMATS[value]
