"""The difference between an audit entry's before and after images, field by field (pure).

An entry keeps its before and after values as canonical JSON (``store/audit.py``); a reviewer
reads what changed, not two blobs. Nested objects are flattened to dotted field names
(``limits.upper``); a list is one value (its elements have no identity to pair them by). Each
field that differs is one :class:`Change`:

======== ================================== =========================================
kind     when                               before / after
======== ================================== =========================================
added    the field is only in *after*       ``None`` / the value
removed  the field is only in *before*      the value / ``None``
changed  in both, with different values     both values
======== ================================== =========================================

Fields equal on both sides are left out. A value that is not an object (a creation records an
object; a few entries record a bare value) is the field ``value``. Values are shown as text:
a string as itself, anything else as canonical JSON (``null``, ``true``, ``12.5``, ``[1,2]``),
so an empty string and a missing value stay distinguishable. Personal data never reaches an
entry in clear (services record a salted SHA-256 of it), so nothing here needs hiding.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"


@dataclass(frozen=True)
class Change:
    field: str
    kind: str
    before: str | None
    after: str | None

    def to_dict(self) -> dict[str, str | None]:
        return {"field": self.field, "kind": self.kind, "before": self.before, "after": self.after}


def text(value: Any) -> str:
    """A value as a reviewer reads it: strings as themselves, others as compact sorted JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted field name, leaf value) pairs of a JSON value; a non-object is ``value``."""
    if not isinstance(value, Mapping):
        yield (prefix or "value"), value
        return
    if not value and prefix:
        yield prefix, value
        return
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, Mapping) and item:
            yield from flatten(item, name)
        else:
            yield name, item


def changes(before: Any, after: Any) -> list[Change]:
    """The fields that differ between ``before`` and ``after`` (either may be None: a creation
    has no before, a removal no after), in the order of *before*'s fields then *after*'s new
    ones."""
    old = dict(flatten(before)) if before is not None else {}
    new = dict(flatten(after)) if after is not None else {}
    out: list[Change] = []
    for name, value in old.items():
        if name not in new:
            out.append(Change(name, REMOVED, text(value), None))
        elif new[name] != value or type(new[name]) is not type(value):
            out.append(Change(name, CHANGED, text(value), text(new[name])))
    for name, value in new.items():
        if name not in old:
            out.append(Change(name, ADDED, None, text(value)))
    return out


def summary(items: list[Change]) -> str:
    """One line per change, for a CSV cell: ``field: before -> after`` (``+`` added, ``-``
    removed)."""
    lines = []
    for c in items:
        if c.kind == ADDED:
            lines.append(f"+ {c.field}: {c.after}")
        elif c.kind == REMOVED:
            lines.append(f"- {c.field}: {c.before}")
        else:
            lines.append(f"~ {c.field}: {c.before} -> {c.after}")
    return "\n".join(lines)
