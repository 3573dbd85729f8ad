"""The specification as a YAML file: read it with every problem located by file, line and field,
and write it back (``docs/quality.md`` describes the format).

Reading goes through :mod:`vein2vein.core.located_yaml` (no duplicated keys, no anchors, the
line of every field), so a rule broken anywhere in :mod:`domain` is reported at its line::

    epcam_iit_v1.yaml line 42, tests[3].criterion.limit: 70.05 is written more finely than ...

Writing then reading gives the same specification (``parse(dump(s)) == s``).
Pure: no database or web code.
"""

from __future__ import annotations

from pathlib import Path

from vein2vein.core.located_yaml import YamlError, line_of, read, write
from vein2vein.quality.domain import SpecError, Specification, from_data, to_data

__all__ = ["DEMO_DIR", "YamlError", "dump", "load_demo", "parse"]

#: the demo specifications shipped with the package
DEMO_DIR = Path(__file__).resolve().parent / "spec"


def parse(text: str, file: str = "spec.yaml") -> Specification:
    """A specification from YAML text; ``YamlError`` names the file, line and field of the first
    problem."""
    data, lines = read(text, file)
    try:
        return from_data(data)
    except SpecError as exc:
        raise YamlError(file, line_of(exc.path, lines), exc.path or None, exc.message) from None


def dump(spec: Specification, header: str = "") -> str:
    """YAML text of a specification (``parse(dump(s)) == s``); ``header`` lines become
    comments."""
    return write(to_data(spec), header)


def load_demo(name: str = "epcam_iit_v1.yaml") -> Specification:
    """A demo specification shipped in ``quality/spec/``."""
    path = DEMO_DIR / name
    return parse(path.read_text(encoding="utf-8"), file=name)
