"""Lazy exports for packages whose submodules are heavy (scipy, pandas): PEP 562 ``__getattr__``.

``v2v`` mounts every feature's command line at start-up; importing a feature package must not
import scipy until a command actually computes something.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """Return ``(__getattr__, __dir__, __all__)`` for ``package``; ``exports`` maps each public
    name to the submodule that defines it."""
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
