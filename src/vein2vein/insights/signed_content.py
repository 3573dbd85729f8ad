"""The signed records of the insights feature, for ``v2v audit verify``: each part's readers
of what was signed, joined (``features.py`` names this one function)."""

from __future__ import annotations

from vein2vein.auth.signatures import ContentReader


def content_readers() -> dict[str, ContentReader]:
    from vein2vein.insights import comparability_signed, cpv_baselines

    return {**comparability_signed.content_readers(), **cpv_baselines.content_readers()}
