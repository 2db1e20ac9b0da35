"""Unmodified kopf, as a process, against the sandbox: a whole lifecycle, a dropped watch and a 410."""

from __future__ import annotations

import pathlib
import time
from collections.abc import Callable
from typing import Any

import pytest

from orchestration_operator.testing.kube import kubectl, process, samples, server

pytestmark = pytest.mark.e2e

PROBE_OPERATOR = pathlib.Path(__file__).with_name("kopf_probe_operator.py")
PROBES = (samples.GROUP, "v1", "probes")


def _wait_watched(sandbox: server.KubeSandbox, *, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while sandbox.watch_count(resource="probes") == 0:
        if time.monotonic() > deadline:
            raise AssertionError("kopf did not start watching probes")
        time.sleep(0.02)


def _status(
    sandbox: server.KubeSandbox, predicate: Callable[[dict[str, Any]], bool], timeout: float = 15
) -> dict[str, Any]:
    found = sandbox.wait_for_object(
        *PROBES,
        "default",
        "p1",
        lambda o: o is not None and predicate(o.get("status") or {}),
        timeout=timeout,
    )
    assert found is not None
    return found


def test_kopf_lifecycle_dropped_watch_and_410(
    kube_sandbox: server.KubeSandbox,
    kubectl: kubectl.Kubectl,
    kopf_operator: Callable[..., process.KopfProcess],
) -> None:
    kube_sandbox.apply_objects([samples.crd(plural="probes", kind="Probe", short_names=("pb",))])
    operator = kopf_operator(PROBE_OPERATOR)
    _wait_watched(kube_sandbox)

    # Create: the create handler, kopf's finalizer and status writes through /status.
    kubectl.apply(samples.obj("p1", kind="Probe", spec={"size": 1}))
    kubectl("wait", "--for=condition=Ready", "probe/p1", "--timeout=20s")
    obj = _status(kube_sandbox, lambda s: s.get("phase") == "Created")
    assert obj["metadata"]["finalizers"] == ["sandbox.example.com/probe"]
    assert obj["status"]["observedSize"] == 1
    assert any(m == "PATCH" and "/probes/p1/status" in p for m, p, *_ in kube_sandbox.request_log())

    # kopf posted Events about it (POST with generateName), visible to kubectl.
    deadline = time.monotonic() + 10
    while not [
        e
        for e in kube_sandbox.list_objects("", "v1", "events", "default")
        if e["involvedObject"]["name"] == "p1"
    ]:
        assert time.monotonic() < deadline, "kopf posted no event"
        time.sleep(0.05)
    assert "probe created" in kubectl("get", "events", "--field-selector=involvedObject.name=p1").stdout

    # The timer keeps writing status.
    ticks = _status(kube_sandbox, lambda s: int(s.get("ticks") or 0) >= 2)["status"]["ticks"]
    _status(kube_sandbox, lambda s: int(s.get("ticks") or 0) > ticks)

    # Update.
    kubectl("patch", "probe", "p1", "--type=merge", "-p", '{"spec":{"size":2}}')
    _status(kube_sandbox, lambda s: s.get("phase") == "Updated" and s.get("observedSize") == 2)

    # A dropped watch: kopf reconnects from its last resourceVersion and sees later changes.
    assert kube_sandbox.close_watches(resource="probes") >= 1
    _wait_watched(kube_sandbox)
    kubectl("patch", "probe", "p1", "--type=merge", "-p", '{"spec":{"size":3}}')
    _status(kube_sandbox, lambda s: s.get("observedSize") == 3)

    # Compacted history: kopf's resume gets an in-stream 410, it re-lists and keeps working.
    seen = kube_sandbox.request_count
    kube_sandbox.compact()
    kubectl("patch", "probe", "p1", "--type=merge", "-p", '{"spec":{"size":4}}')
    _status(kube_sandbox, lambda s: s.get("observedSize") == 4, timeout=20)
    later = kube_sandbox.request_log(since=seen)
    relists = [p for m, p, *_ in later if m == "GET" and "/probes" in p and "watch=" not in p]
    assert relists, f"kopf did not re-list probes after the 410; requests: {later}"

    # Delete: kubectl waits until kopf's delete handler has run and its finalizer is gone.
    deleted = kubectl("delete", "probe", "p1", "--timeout=20s")
    assert deleted.stdout.strip() == f'probe.{samples.GROUP} "p1" deleted'
    assert kube_sandbox.get_object(*PROBES, "default", "p1") is None
    operator.wait_for_log(r"probe p1 deleted")
    assert "Traceback" not in operator.logs()
    assert operator.stop() == 0


PROBE_RBAC: list[dict[str, Any]] = [
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "probe-operator"},
        "rules": [
            {
                "apiGroups": ["apiextensions.k8s.io"],
                "resources": ["customresourcedefinitions"],
                "verbs": ["list", "watch"],
            },
            {"apiGroups": [samples.GROUP], "resources": ["probes"], "verbs": ["list", "watch", "patch"]},
            {"apiGroups": [samples.GROUP], "resources": ["probes/status"], "verbs": ["patch"]},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
        ],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "probe-operator"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "probe-operator"},
        "subjects": [{"kind": "ServiceAccount", "name": "probe", "namespace": "default"}],
    },
]


def test_kopf_works_with_exactly_the_rbac_applied(
    kube_sandbox: server.KubeSandbox,
    kubectl: kubectl.Kubectl,
    kopf_operator: Callable[..., process.KopfProcess],
    tmp_path: pathlib.Path,
) -> None:
    kube_sandbox.auth.anonymous = None  # every request must carry a token
    kube_sandbox.add_token("probe-token", user="system:serviceaccount:default:probe", rbac=True)
    kube_sandbox.apply_objects([samples.crd(plural="probes", kind="Probe"), *PROBE_RBAC])
    restricted = kube_sandbox.write_kubeconfig(tmp_path / "probe.kubeconfig", token="probe-token")
    operator = kopf_operator(PROBE_OPERATOR, kubeconfig=restricted)
    _wait_watched(kube_sandbox)
    kube_sandbox.create_object(samples.obj("p1", kind="Probe", spec={"size": 1}))
    _status(kube_sandbox, lambda s: s.get("phase") == "Created")
    kube_sandbox.delete_object(*PROBES, "default", "p1")
    kube_sandbox.wait_for_object(*PROBES, "default", "p1", lambda o: o is None)
    refused = [r for r in kube_sandbox.request_log() if r.status in (401, 403)]
    assert refused == []
    assert operator.stop() == 0
    assert kubectl  # the kubeconfig fixture's admin token still works for people
