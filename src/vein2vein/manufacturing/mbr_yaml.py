"""The MBR as a YAML file: read it with every problem located by file, line and field, and write
it back (``docs/manufacturing.md`` describes the format).

Reading is :mod:`vein2vein.core.located_yaml` (PyYAML's safe loader, the line of every node by
its path such as ``operations[3].parameters[1].par.high``, duplicated keys and aliases refused),
so a rule broken anywhere in :mod:`domain` is reported at its line::

    epcam_v1.yaml line 42, operations[3].parameters[1].par.high: must be ≥ nor.high

Pure: no database or web code.
"""

from __future__ import annotations

from vein2vein.core import located_yaml
from vein2vein.core.located_yaml import MAX_BYTES, YamlError
from vein2vein.manufacturing.domain import Mbr, MbrError, from_data, to_data

__all__ = ["MAX_BYTES", "YamlError", "dump", "parse"]


def parse(text: str, file: str = "mbr.yaml") -> Mbr:
    """An MBR from YAML text; ``YamlError`` names the file, line and field of the first problem."""
    data, lines = located_yaml.read(text, file)
    try:
        return from_data(data)
    except MbrError as exc:
        line = located_yaml.line_of(exc.path, lines)
        raise YamlError(file, line, exc.path or None, exc.message) from None


def dump(mbr: Mbr, header: str = "") -> str:
    """YAML text of an MBR (``parse(dump(m)) == m``); ``header`` lines become comments."""
    return located_yaml.write(to_data(mbr), header)
