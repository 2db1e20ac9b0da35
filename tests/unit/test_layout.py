"""Guards of the project layout that the tools cannot express."""

from __future__ import annotations

import importlib
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_operator_source_root_is_not_a_package() -> None:
    # A package named `operator` would shadow Python's stdlib module of that name.
    assert not (ROOT / "operator" / "__init__.py").exists()


def test_stdlib_operator_module_is_not_shadowed() -> None:
    code = "import operator, sys; print(operator.__file__); print(operator.itemgetter(0)([1]))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT / "operator", capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert "site-packages" not in out[0] or "lib" in out[0]
    assert not out[0].startswith(str(ROOT))
    assert out[1] == "1"


def test_package_imports_from_source_root() -> None:
    module = importlib.import_module("orchestration_operator")
    assert pathlib.Path(module.__file__ or "").parent == ROOT / "operator" / "orchestration_operator"


def test_cli_lists_every_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "orchestration_operator", "--help"],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "operator"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for command in ("run", "local", "check", "emulator", "sandbox", "bench"):
        assert command in out
