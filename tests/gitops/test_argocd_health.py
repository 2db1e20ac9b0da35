"""The Argo CD health checks (deploy/argocd/health/*/health.lua), run by a real Lua runtime.

Argo CD runs them with gopher-lua, a Lua 5.1: lupa's Lua 5.1 runtime is the closest match. Each script
sees the resource as the global `obj` and returns a table with `status` and `message`.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import lupa.lua51
import pytest
import yaml
from gitops_cases import CASES, ROOT, Case, params

HEALTH = ROOT / "deploy" / "argocd" / "health"
KINDS = ["EventPoll", "OrchestrationConnection", "OrchestrationWebhook", "ServiceRun"]


def health(obj: dict[str, Any]) -> tuple[str, str]:
    group = obj["apiVersion"].split("/")[0]
    script = (HEALTH / f"{group}_{obj['kind']}" / "health.lua").read_text()
    lua = lupa.lua51.LuaRuntime(unpack_returned_tuples=False)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(script)
    return result["status"], result["message"]


def test_every_kind_has_a_health_check_and_a_status_object() -> None:
    assert sorted(path.name for path in HEALTH.iterdir()) == [f"drupal-orchestration.io_{k}" for k in KINDS]
    assert sorted({case.object["kind"] for case in CASES}) == KINDS


@pytest.mark.parametrize("case", params())
def test_health_of_each_status_object(case: Case) -> None:
    assert health(case.object) == case.argocd


@pytest.mark.parametrize("case", params())
def test_each_outcome_where_it_belongs(case: Case) -> None:
    """Argo CD's verdict and kstatus's agree wherever the status follows the conventions."""
    agreeing = {"Healthy": {"Current", "Terminating"}, "Degraded": {"Failed"}, "Progressing": {"InProgress"}}
    if case.object.get("status") and not case.conventions_broken:
        assert case.kstatus in agreeing[case.argocd[0]]


def test_every_health_status_is_exercised() -> None:
    assert {case.argocd[0] for case in CASES} == {"Healthy", "Progressing", "Degraded"}
    for kind in KINDS:
        seen = {case.argocd[0] for case in CASES if case.object["kind"] == kind}
        assert {"Healthy", "Progressing"} <= seen, kind


def test_argocd_configmap_snippet_holds_the_lua_files_verbatim() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sync-argocd-health"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"{result.stderr.strip()}: run scripts/sync-argocd-health"
    snippet = yaml.safe_load((ROOT / "deploy" / "argocd" / "argocd-cm-health.yaml").read_text())
    assert snippet["metadata"]["name"] == "argocd-cm"
    assert snippet["data"] == {
        f"resource.customizations.health.drupal-orchestration.io_{kind}": (
            HEALTH / f"drupal-orchestration.io_{kind}" / "health.lua"
        ).read_text()
        for kind in KINDS
    }
