"""Fixtures of the chart tests (helpers in chartlib.py)."""

from __future__ import annotations

import pathlib
import shutil

import pytest
from chartlib import CHART, Helm, Rendered, find_helm


@pytest.fixture(scope="session")
def helm() -> Helm:
    path = find_helm()
    if path is None:
        pytest.fail("no helm binary: run `scripts/fetch-tools .tools/bin` (make test does)")
    return Helm(path)


@pytest.fixture(scope="session")
def default(helm: Helm) -> Rendered:
    return helm.template()


@pytest.fixture
def chart_copy(tmp_path: pathlib.Path) -> pathlib.Path:
    """A copy of the chart whose files/crds/ a test may fill with its own CRDs."""
    copy = tmp_path / "orchestration-operator"
    shutil.copytree(CHART, copy)
    for crd in (copy / "files" / "crds").glob("*.yaml"):
        crd.unlink()
    return copy
