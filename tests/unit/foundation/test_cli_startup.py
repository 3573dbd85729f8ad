"""`v2v` starts fast (issue 15): the sub-apps load when used, and `v2v --help` imports none of
the heavy libraries; `v2v coi din check` loads only the pure ISBT 128 code and an I-MR chart no
scipy; the help line declared for each sub-app is the sub-app's own."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from vein2vein.features import FEATURES, feature

HEAVY = ("scipy", "ortools", "matplotlib", "pandas", "numpy", "sqlalchemy", "alembic", "fastapi")


def _modules_after(code: str) -> set[str]:
    probe = (
        f"import sys\n{code}\nprint('loaded:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    found = [line for line in out.splitlines() if line.startswith("loaded:")]
    assert found, out
    return set(filter(None, found[-1].removeprefix("loaded:").split(",")))


def test_help_imports_no_heavy_library() -> None:
    loaded = _modules_after(
        "from typer.testing import CliRunner\n"
        "import vein2vein.features as f\n"
        "r = CliRunner().invoke(f.create_cli(), ['--help'])\n"
        "assert r.exit_code == 0 and 'schedule' in r.output, r.output"
    )
    assert loaded == set(), f"`v2v --help` imported {sorted(loaded)}"


def test_a_sub_app_loads_only_itself() -> None:
    loaded = _modules_after(
        "from typer.testing import CliRunner\n"
        "import vein2vein.features as f\n"
        "r = CliRunner().invoke(f.create_cli(), ['db', '--help'])\n"
        "assert r.exit_code == 0, r.output"
    )
    assert not loaded & {"scipy", "ortools", "matplotlib", "pandas"}


def test_din_check_loads_only_the_isbt_128_code() -> None:
    loaded = _modules_after(
        "from typer.testing import CliRunner\n"
        "import vein2vein.features as f\n"
        "r = CliRunner().invoke(f.create_cli(), ['coi', 'din', 'check', 'G123 498 654 321 H'])\n"
        "assert r.exit_code == 0 and 'valid' in r.output, r.output"
    )
    assert not loaded & {"scipy", "ortools", "matplotlib", "pandas", "sqlalchemy"}, loaded


def test_an_imr_chart_from_csv_files_needs_no_scipy(tmp_path) -> None:
    data = tmp_path / "cpv.csv"
    data.write_text("value\n" + "".join(f"{100 + (i * 7) % 5}\n" for i in range(60)))
    loaded = _modules_after(
        "from typer.testing import CliRunner\n"
        "import vein2vein.features as f\n"
        f"args = ['stats', 'chart', {str(data)!r}, {str(data)!r}, '--json']\n"
        "r = CliRunner().invoke(f.create_cli(), args)\n"
        "assert r.exit_code == 0, r.output"
    )
    assert not loaded & {"scipy", "ortools", "matplotlib", "pandas", "sqlalchemy"}, loaded


@pytest.mark.parametrize(
    ("name", "mount"), [(m.name, m) for f in FEATURES for m in f.cli], ids=lambda v: str(v)[:20]
)
def test_declared_help_is_the_sub_apps_own(name: str, mount: object) -> None:
    owner = next(f for f in FEATURES if mount in f.cli)
    app = feature(owner.name).load(mount.target)  # type: ignore[attr-defined]
    assert isinstance(app, typer.Typer)
    own = (app.info.help or "").strip().splitlines()[0]
    assert mount.help == own, f"features.py declares {mount.help!r} for `v2v {name}`"  # type: ignore[attr-defined]
