"""Lazy exports for packages whose submodules are heavy (scipy, pandas): PEP 562 ``__getattr__``.

``v2v`` mounts every feature's command line at start-up; importing a feature package must not
import scipy until a command actually computes something.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """Return ``(__getattr__, __dir__, __all__)`` for ``package``; ``exports`` maps each public
    name to the submodule that defines it."""
    shadowed = frozenset(exports) & frozenset(exports.values())
    if shadowed:
        _keep_functions_over_submodules(package, shadowed)
    names = sorted(exports)

    def __getattr__(name: str) -> Any:
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return names

    return __getattr__, __dir__, names


class _ExportsOverSubmodules(types.ModuleType):
    """A package whose export shares its submodule's name (``clinical.readout`` the function in
    ``clinical/readout.py``): importing the submodule makes the import system bind that name on
    the package to the module, after which ``__getattr__`` is never asked again, and ``from
    package import readout`` would give the module or the function depending on what was
    imported before (seen: a test that failed only after another one). The binding of such a
    name to its submodule is ignored; the submodule stays importable by its dotted path."""

    _v2v_shadowed: frozenset[str] = frozenset()

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._v2v_shadowed and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


def _keep_functions_over_submodules(package: str, names: frozenset[str]) -> None:
    module = sys.modules[package]
    module.__class__ = _ExportsOverSubmodules
    object.__setattr__(module, "_v2v_shadowed", names)
