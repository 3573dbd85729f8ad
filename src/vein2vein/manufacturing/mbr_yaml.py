"""The MBR as a YAML file: read it with every problem located by file, line and field, and write
it back (``docs/manufacturing.md`` describes the format).

Reading composes the YAML node tree (PyYAML's safe loader: plain data only, no Python objects)
and keeps the line of every node by its path (``operations[3].parameters[1].par.high``), so a
rule broken anywhere in :mod:`domain` is reported at its line::

    epcam_v1.yaml line 42, operations[3].parameters[1].par.high: must be ≥ nor.high

A duplicated key, which YAML itself lets pass with the last value winning, is refused.
Pure: no database or web code.
"""

from __future__ import annotations

from typing import Any

import yaml

from vein2vein.core.errors import InputError
from vein2vein.manufacturing.domain import Mbr, MbrError, from_data, to_data

MAX_BYTES = 1_000_000


class YamlError(InputError):
    """An MBR file that cannot be used, located as ``FILE line N, PATH: problem``."""

    def __init__(self, file: str, line: int | None, path: str | None, problem: str) -> None:
        super().__init__(problem, file=file, row=line, field=path)
        where = file + (f" line {line}" if line is not None else "")
        self.message = f"{where}, {path}: {problem}" if path else f"{where}: {problem}"
        self.args = (self.message,)
        self.line = line
        self.path = path


def parse(text: str, file: str = "mbr.yaml") -> Mbr:
    """An MBR from YAML text; ``YamlError`` names the file, line and field of the first problem."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise YamlError(file, None, None, f"larger than {MAX_BYTES:,} bytes")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlError(file, line, None, f"not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlError(file, None, None, f"not valid YAML: {exc}") from None
    if node is None:
        raise YamlError(file, None, None, "the file is empty")
    lines: dict[str, int] = {}
    data = _value(node, "", lines, file, set())
    try:
        return from_data(data)
    except MbrError as exc:
        raise YamlError(file, _line_of(exc.path, lines), exc.path or None, exc.message) from None


def _value(node: yaml.Node, path: str, lines: dict[str, int], file: str, seen: set[int]) -> Any:
    """Plain data of ``node``, the line of each path in ``lines``. A node met twice is an alias
    (``*name``): refused, so that a few lines cannot expand to millions of values."""
    lines[path] = node.start_mark.line + 1
    if id(node) in seen:
        raise YamlError(file, lines[path], path or None, "anchors and aliases are not allowed")
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if not isinstance(key, str | int | float) or isinstance(key, bool):
                raise YamlError(file, key_node.start_mark.line + 1, path or None, "a key is text")
            key = str(key)
            sub = f"{path}.{key}" if path else key
            if key in out:
                raise YamlError(file, key_node.start_mark.line + 1, sub, "this key appears twice")
            lines[sub] = key_node.start_mark.line + 1
            out[key] = _value(value_node, sub, lines, file, seen)
            lines[sub] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _value(item, f"{path}[{i}]", lines, file, seen) for i, item in enumerate(node.value)
        ]
    return _scalar(node)


_CONSTRUCTOR = yaml.SafeLoader("")


def _scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return None
    value = _CONSTRUCTOR.construct_object(node, deep=True)
    if hasattr(value, "isoformat"):  # a YAML timestamp: keep it as the text typed
        return str(node.value)
    return value


def _line_of(path: str, lines: dict[str, int]) -> int | None:
    """The line of ``path``, or of its nearest ancestor present in the file."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return lines.get("")


class _Dumper(yaml.SafeDumper):
    """Block style, keys in the model's order, long text as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(mbr: Mbr, header: str = "") -> str:
    """YAML text of an MBR (``parse(dump(m)) == m``); ``header`` lines become comments."""
    body = yaml.dump(to_data(mbr), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comments + body
