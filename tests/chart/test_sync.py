"""Generated copies stay equal to their sources: the chart's CRDs and the static manifests in deploy/."""

from __future__ import annotations

import subprocess
import sys

import yaml
from chartlib import CHART, ROOT, Helm

from orchestration_operator.testing import k8s_models


def test_chart_crds_are_copies_of_the_canonical_crds() -> None:
    sources = {p.name: p.read_bytes() for p in (ROOT / "crds").glob("*.yaml")}
    copies = {p.name: p.read_bytes() for p in (CHART / "files" / "crds").glob("*.yaml")}
    assert copies == sources, (
        "charts/orchestration-operator/files/crds/ differs from crds/: run scripts/sync-chart-crds"
    )


def test_sync_chart_crds_check_agrees() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sync-chart-crds"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")


def test_deploy_manifests_are_rendered_from_the_chart(helm: Helm) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "render-deploy"), "--check", "--helm", helm.path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"{result.stderr.strip()}: run scripts/render-deploy"


def test_deploy_kustomization_lists_valid_manifests() -> None:
    kustomization = yaml.safe_load((ROOT / "deploy" / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["namespace.yaml", "orchestration-operator.yaml"]
    objects = [
        obj
        for name in kustomization["resources"]
        for obj in yaml.safe_load_all((ROOT / "deploy" / name).read_text())
        if obj
    ]
    namespace = objects[0]
    assert (namespace["kind"], namespace["metadata"]["name"]) == ("Namespace", "orchestration-operator")
    for obj in objects:
        assert k8s_models.problems(obj) == []
        if obj["kind"] in ("Deployment", "Service", "ServiceAccount"):
            assert obj["metadata"]["namespace"] == "orchestration-operator"
