"""Lazy package exports (PEP 562) whose name is also their submodule's name.

``vein2vein.scheduling`` exported the function ``replan`` lazily from its submodule ``replan``;
whoever imported ``vein2vein.scheduling.replan`` first turned the package's ``replan`` into the
module, and a test failed only when run after another one. ``clinical.readout`` and
``stats.capability`` have the same shape.
"""

import importlib
import types

import pytest


@pytest.mark.parametrize(
    ("package", "name"),
    [
        ("vein2vein.scheduling", "replan"),
        ("vein2vein.clinical", "readout"),
        ("vein2vein.stats", "capability"),
    ],
)
def test_an_export_stays_the_function_after_its_submodule_is_imported(package, name):
    pkg = importlib.import_module(package)
    submodule = importlib.import_module(f"{package}.{name}")  # binds the name, were it not kept
    assert isinstance(submodule, types.ModuleType)
    assert getattr(pkg, name) is getattr(submodule, name)
    namespace: dict[str, object] = {}
    exec(f"from {package} import {name}", namespace)
    assert namespace[name] is getattr(submodule, name)


@pytest.mark.parametrize(
    "package", ["vein2vein.scheduling", "vein2vein.clinical", "vein2vein.stats"]
)
def test_every_lazy_export_resolves_to_what_its_module_defines(package):
    pkg = importlib.import_module(package)
    for name, module in pkg._EXPORTS.items():
        defined = getattr(importlib.import_module(f"{package}.{module}"), name)
        assert getattr(pkg, name) is defined, name
