"""The lean diff-base storage builds exactly kopf's essence, without copying ``status`` first."""

from __future__ import annotations

import copy
from typing import Any

import kopf
import pytest

from orchestration_operator.handlers import runtime

BODIES: list[dict[str, Any]] = [
    {"apiVersion": "v1", "kind": "X", "metadata": {"name": "a"}},
    {
        "apiVersion": "drupal-orchestration.io/v1alpha1",
        "kind": "ServiceRun",
        "metadata": {
            "name": "welcome",
            "namespace": "team",
            "uid": "u-1",
            "resourceVersion": "17",
            "labels": {"app": "shop"},
            "annotations": {
                "drupal-orchestration.io/rerun": "2",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
            },
        },
        "spec": {"connectionRef": {"name": "site"}, "serviceId": "eca::x", "config": {"a": [1, {"b": 2}]}},
        "status": {
            "phase": "Succeeded",
            "result": {"big": "x" * 1000},
            "kopf": {"progress": {"h": {"success": True}}, "last-handled-configuration": "{}"},
        },
    },
]


@pytest.mark.parametrize("raw", BODIES, ids=["minimal", "servicerun"])
@pytest.mark.parametrize("extra", [None, ["status.phase"]], ids=["plain", "extra-field"])
def test_the_essence_is_kopfs(raw: dict[str, Any], extra: list[str] | None) -> None:
    source = copy.deepcopy(raw)
    body = kopf.Body(source)  # type: ignore[arg-type]
    ours = runtime.LeanStatusDiffBaseStorage(name="kopf").build(body=body, extra_fields=extra)
    kopfs = kopf.StatusDiffBaseStorage(name="kopf").build(body=body, extra_fields=extra)
    assert ours == kopfs
    assert ("status" in ours) is (extra is not None and "status" in raw)
    before = copy.deepcopy(ours)
    source["metadata"]["labels"] = {"changed": "yes"}
    source.get("spec", {}).get("config", {}).get("a", [None, {}])[1]["b"] = 3
    assert ours == before  # a copy, not a view of the body
