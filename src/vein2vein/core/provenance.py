"""Provenance of a computed result: method, options, input hash and library versions.

Every statistical or clinical result carries one, and reports print it, so a reviewer can tell
exactly how a number was produced and reproduce it.
"""

from __future__ import annotations

import datetime as dt
import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from typing import Any

from vein2vein import __version__
from vein2vein.core.canonical import sha256_hex, to_jsonable


@lru_cache(maxsize=256)
def _version(name: str) -> str:
    # reading package metadata is slow; versions cannot change while the process runs
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def library_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed versions of the named distributions (plus python and vein2vein)."""
    out = {"python": platform.python_version(), "vein2vein": __version__}
    for name in names:
        out[name] = _version(name)
    return out


@dataclass(frozen=True)
class Provenance:
    method: str
    options: Mapping[str, Any]
    input_hash: str
    library_versions: Mapping[str, str]
    computed_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "options": to_jsonable(dict(self.options)),
            "input_hash": self.input_hash,
            "library_versions": dict(self.library_versions),
            "computed_at": self.computed_at,
        }

    def summary(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in sorted(to_jsonable(dict(self.options)).items()))
        libs = ", ".join(f"{k} {v}" for k, v in sorted(self.library_versions.items()))
        return (
            f"Method: {self.method}\nOptions: {opts or '(defaults)'}\n"
            f"Input SHA-256: {self.input_hash}\nSoftware: {libs}\nComputed: {self.computed_at}"
        )


def make_provenance(
    method: str,
    options: Mapping[str, Any],
    inputs: Any,
    libraries: Iterable[str] = ("numpy", "scipy"),
) -> Provenance:
    """Build the provenance of a result computed by ``method`` with ``options`` on ``inputs``."""
    return Provenance(
        method=method,
        options=dict(options),
        input_hash=sha256_hex(inputs),
        library_versions=library_versions(libraries),
    )
