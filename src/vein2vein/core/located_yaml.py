"""Reading a YAML document file as plain data with the line of every field, so that a rule broken
anywhere is reported where the user can find it::

    epcam_iit_v1.yaml line 42, tests[3].criterion.limit: must be ...

PyYAML's safe loader composes the node tree (plain data only, no Python objects); a duplicated
key, which YAML lets pass with the last value winning, is refused, and so are anchors and
aliases (a few lines must not expand to millions of values). A YAML timestamp is kept as the
text typed. One piece for every file format of the kind: the master batch record
(``manufacturing/mbr_yaml.py``) and the specification (``quality/spec_yaml.py``).
"""

from __future__ import annotations

from typing import Any

import yaml

from vein2vein.core.errors import InputError

MAX_BYTES = 1_000_000


class YamlError(InputError):
    """A file that cannot be used, located as ``FILE line N, PATH: problem``."""

    def __init__(self, file: str, line: int | None, path: str | None, problem: str) -> None:
        super().__init__(problem, file=file, row=line, field=path)
        where = file + (f" line {line}" if line is not None else "")
        self.message = f"{where}, {path}: {problem}" if path else f"{where}: {problem}"
        self.args = (self.message,)
        self.line = line
        self.path = path
        self.problem = problem


def read(text: str, file: str) -> tuple[Any, dict[str, int]]:
    """The plain data of a YAML document and the line of each path (``tests[3].unit``, 0-based
    list indices; ``""`` is the document); ``YamlError`` for text that is not a usable file."""
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
    return _value(node, "", lines, file, set()), lines


def line_of(path: str, lines: dict[str, int]) -> int | None:
    """The line of ``path``, or of its nearest ancestor present in the file."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return lines.get("")


def _value(node: yaml.Node, path: str, lines: dict[str, int], file: str, seen: set[int]) -> Any:
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


class BlockDumper(yaml.SafeDumper):
    """Block style, keys in the model's order, long text as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


BlockDumper.add_representer(str, _str)


def write(data: Any, header: str = "") -> str:
    """YAML text of plain data; ``header`` lines become comments at the top."""
    body = str(yaml.dump(data, Dumper=BlockDumper, sort_keys=False, allow_unicode=True, width=100))
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comments + body
