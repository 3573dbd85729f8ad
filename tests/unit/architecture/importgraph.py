"""The static import graph of the ``vein2vein`` package (read from the source with ``ast``).

Every ``import`` and ``from ... import`` counts, at module level or inside a function: a lazy
import is still a dependency of the module that makes it.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import vein2vein

SRC = Path(vein2vein.__file__).resolve().parent


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in SRC.rglob("*.py")}


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module.split(".")
    is_package = modules()[module].name == "__init__.py"
    base = package if is_package else package[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def imports_of(module: str) -> frozenset[str]:
    """Names a module imports (absolute), with ``from x import y`` giving ``x.y`` when ``x.y`` is a
    module of ours and ``x`` otherwise."""
    tree = ast.parse(modules()[module].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            found.add(base)
            for alias in node.names:
                if f"{base}.{alias.name}" in modules():
                    found.add(f"{base}.{alias.name}")
    return frozenset(found)


def closure(module: str) -> dict[str, str]:
    """Every module reachable from ``module`` through our own modules -> the importer that first
    reached it (for a readable failure)."""
    seen: dict[str, str] = {}
    todo = [module]
    while todo:
        current = todo.pop()
        for name in imports_of(current):
            if name in seen:
                continue
            seen[name] = current
            # a module of ours, or a package whose __init__ runs
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if prefix in modules() and prefix not in seen:
                    seen[prefix] = current
                    todo.append(prefix)
            if name in modules():
                todo.append(name)
    return seen
