"""The real kubectl against the sandbox: the commands users and READMEs rely on."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from orchestration_operator.testing.kube import kubectl, process, samples, server

pytestmark = pytest.mark.e2e

WIDGET = {
    "apiVersion": f"{samples.GROUP}/v1",
    "kind": "Widget",
    "metadata": {"name": "w1"},
    "spec": {"size": 3},
}


@pytest.fixture
def crd(kubectl: kubectl.Kubectl) -> None:
    kubectl.apply(samples.crd(schema=samples.STRICT_SCHEMA))
    kubectl("wait", "--for=condition=established", f"crd/widgets.{samples.GROUP}", "--timeout=10s")


class Lines:
    """Collects a background kubectl's stdout lines; ``wait_for`` polls with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, count: int, *, timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.lines) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {self.lines!r} within {timeout} s")
            time.sleep(0.02)
        return self.lines


@pytest.fixture
def background() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
        proc.communicate(timeout=10)


def test_apply_crd_and_wait_established(kubectl: kubectl.Kubectl, kube_sandbox: server.KubeSandbox) -> None:
    out = kubectl.apply(samples.crd()).stdout
    assert out.strip() == f"customresourcedefinition.apiextensions.k8s.io/widgets.{samples.GROUP} created"
    waited = kubectl("wait", "--for=condition=established", f"crd/widgets.{samples.GROUP}", "--timeout=10s")
    assert (
        waited.stdout.strip()
        == f"customresourcedefinition.apiextensions.k8s.io/widgets.{samples.GROUP} condition met"
    )
    assert "widgets" in kubectl("api-resources", f"--api-group={samples.GROUP}", "-o", "name").stdout


@pytest.mark.usefixtures("crd")
def test_get_table_yaml_and_jsonpath(kubectl: kubectl.Kubectl) -> None:
    assert kubectl.apply(WIDGET).stdout.strip() == f"widget.{samples.GROUP}/w1 created"
    table = kubectl("get", "widgets").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "SIZE", "AGE"]
    assert table[1].split()[:2] == ["w1", "3"]  # a missing cell prints blank, as for real CRD columns
    by_short_name = kubectl("get", "wd", "w1", "-o", "yaml").stdout
    obj = yaml.safe_load(by_short_name)
    assert (obj["kind"], obj["metadata"]["generation"], obj["spec"]) == ("Widget", 1, {"size": 3})
    jsonpath = kubectl(
        "get", "widget", "w1", "-o", "jsonpath={.metadata.name}/{.spec.size}/{.metadata.generation}"
    )
    assert jsonpath.stdout == "w1/3/1"
    assert kubectl("get", "sandbox").stdout.split()[:4] == ["NAME", "READY", "SIZE", "AGE"]  # category


@pytest.mark.usefixtures("crd")
def test_patch_status_and_wait(kubectl: kubectl.Kubectl) -> None:
    kubectl.apply(WIDGET)
    assert kubectl("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"size":5}}').returncode == 0
    ready = '{"status":{"phase":"Done","conditions":[{"type":"Ready","status":"True","reason":"Done"}]}}'
    kubectl("patch", "widget", "w1", "--subresource=status", "--type=merge", "-p", ready)
    assert kubectl("wait", "--for=condition=Ready", "widget/w1", "--timeout=10s").stdout.strip() == (
        f"widget.{samples.GROUP}/w1 condition met"
    )
    kubectl("wait", "--for=jsonpath={.status.phase}=Done", "widget/w1", "--timeout=10s")
    row = kubectl("get", "widget", "w1", "--no-headers").stdout.split()
    assert row[:3] == ["w1", "True", "5"]
    generation = kubectl("get", "widget", "w1", "-o", "jsonpath={.metadata.generation}").stdout
    assert generation == "2"  # the status write did not move it


@pytest.mark.usefixtures("crd")
def test_wait_until_a_later_change(
    kubectl: kubectl.Kubectl, kube_sandbox: server.KubeSandbox, background: list[subprocess.Popen[str]]
) -> None:
    kubectl.apply(WIDGET)
    waiter = kubectl.start("wait", "--for=condition=Ready", "widget/w1", "--timeout=20s")
    background.append(waiter)
    deadline = time.monotonic() + 10
    while kube_sandbox.watch_count(resource="widgets") == 0:  # kubectl is watching now
        assert time.monotonic() < deadline
        time.sleep(0.02)
    condition = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    kube_sandbox.patch_object(
        samples.GROUP, "v1", "widgets", "default", "w1", condition, subresource="status"
    )
    out, err = waiter.communicate(timeout=15)
    assert (waiter.returncode, out.strip()) == (0, f"widget.{samples.GROUP}/w1 condition met"), err


@pytest.mark.usefixtures("crd")
def test_delete_waits_for_the_finalizer(
    kubectl: kubectl.Kubectl, kube_sandbox: server.KubeSandbox, background: list[subprocess.Popen[str]]
) -> None:
    kubectl.apply({**WIDGET, "metadata": {"name": "w1", "finalizers": ["example.com/hold"]}})
    deleter = kubectl.start("delete", "widget", "w1", "--timeout=20s")
    background.append(deleter)
    marked = kube_sandbox.wait_for_object(
        samples.GROUP,
        "v1",
        "widgets",
        "default",
        "w1",
        lambda o: bool(o and o["metadata"].get("deletionTimestamp")),
    )
    assert marked is not None
    assert deleter.poll() is None  # still waiting for the finalizer
    kube_sandbox.patch_object(
        samples.GROUP, "v1", "widgets", "default", "w1", {"metadata": {"finalizers": None}}
    )
    out, err = deleter.communicate(timeout=15)
    assert (deleter.returncode, out.strip()) == (0, f'widget.{samples.GROUP} "w1" deleted'), err
    assert kube_sandbox.get_object(samples.GROUP, "v1", "widgets", "default", "w1") is None


@pytest.mark.usefixtures("crd")
def test_server_side_apply(kubectl: kubectl.Kubectl) -> None:
    labelled = {
        **WIDGET,
        "metadata": {"name": "w1", "labels": {"a": "1", "b": "2"}},
        "spec": {"size": 3, "note": "x"},
    }
    assert (
        kubectl.apply(labelled, "--server-side").stdout.strip()
        == f"widget.{samples.GROUP}/w1 serverside-applied"
    )
    trimmed = {**WIDGET, "metadata": {"name": "w1", "labels": {"a": "1"}}, "spec": {"size": 4}}
    kubectl.apply(trimmed, "--server-side")
    obj = kubectl.json("get", "widget", "w1")
    assert (obj["metadata"]["labels"], obj["spec"]) == ({"a": "1"}, {"size": 4})
    dry = kubectl.apply({**WIDGET, "metadata": {"name": "w2"}}, "--server-side", "--dry-run=server")
    assert dry.stdout.strip() == f"widget.{samples.GROUP}/w2 serverside-applied (server dry run)"
    assert kubectl("get", "widget", "w2", check=False).returncode == 1


@pytest.mark.usefixtures("crd")
def test_get_watch_prints_rows_for_events(
    kubectl: kubectl.Kubectl, kube_sandbox: server.KubeSandbox, background: list[subprocess.Popen[str]]
) -> None:
    kubectl.apply(WIDGET)
    watcher = kubectl.start("get", "widgets", "-w")
    background.append(watcher)
    lines = Lines(watcher)
    lines.wait_for(2)  # header and the existing object
    deadline = time.monotonic() + 10
    while kube_sandbox.watch_count(resource="widgets") == 0:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    kube_sandbox.patch_object(samples.GROUP, "v1", "widgets", "default", "w1", {"spec": {"size": 7}})
    kube_sandbox.delete_object(samples.GROUP, "v1", "widgets", "default", "w1")
    rows = [line.split()[:2] for line in lines.wait_for(4)]
    assert rows == [["NAME", "READY"], ["w1", "3"], ["w1", "7"], ["w1", "7"]]


def test_namespaces_and_their_contents(kubectl: kubectl.Kubectl, kube_sandbox: server.KubeSandbox) -> None:
    kubectl.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "team"},
            "data": {"a": "1"},
        }
    )
    assert kubectl("get", "configmaps", "-n", "team", "--no-headers").stdout.split()[:2] == ["c", "1"]
    missing = kubectl("get", "configmaps", "-n", "nowhere", "c", check=False)
    assert missing.returncode == 1
    # kubectl looks the namespace up after a 404, and reports that.
    assert missing.stderr == 'Error from server (NotFound): namespaces "nowhere" not found\n'
    kubectl("delete", "namespace", "team", "--timeout=20s")
    assert kube_sandbox.get_object("", "v1", "namespaces", None, "team") is None
    assert kube_sandbox.get_object("", "v1", "configmaps", "team", "c") is None


def test_client_side_apply_of_builtin_kinds_uses_strategic_merge(
    kubectl: kubectl.Kubectl, kube_sandbox: server.KubeSandbox
) -> None:
    manifest: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "1", "b": "2"},
    }
    kubectl.apply(manifest)
    kubectl.apply({**manifest, "data": {"a": "3"}})
    assert kube_sandbox.get_object("", "v1", "configmaps", "default", "c")["data"] == {"a": "3"}  # type: ignore[index]
    assert any(r.content_type == "application/strategic-merge-patch+json" for r in kube_sandbox.request_log())


def test_create_secret_configmap_namespace_protobuf(
    kubectl: kubectl.Kubectl, kube_sandbox: server.KubeSandbox
) -> None:
    kubectl("create", "namespace", "team")
    kubectl(
        "create",
        "secret",
        "generic",
        "creds",
        "-n",
        "team",
        "--from-literal=username=admin",
        "--from-literal=password=p4ss",
    )
    kubectl("create", "configmap", "settings", "-n", "team", "--from-literal=mode=fast")
    secret = kube_sandbox.get_object("", "v1", "secrets", "team", "creds")
    assert secret is not None
    assert (secret["type"], secret["data"]) == ("Opaque", {"username": "YWRtaW4=", "password": "cDRzcw=="})
    configmap = kube_sandbox.get_object("", "v1", "configmaps", "team", "settings")
    assert configmap is not None
    assert configmap["data"] == {"mode": "fast"}
    assert kubectl("get", "secret", "creds", "-n", "team", "--no-headers").stdout.split()[:3] == [
        "creds",
        "Opaque",
        "2",
    ]


@pytest.mark.usefixtures("crd")
def test_unknown_field_is_refused_under_strict_validation(kubectl: kubectl.Kubectl) -> None:
    refused = kubectl.apply({**WIDGET, "spec": {"size": 3, "bogus": True}}, check=False)
    assert refused.returncode == 1
    assert 'strict decoding error: unknown field "spec.bogus"' in refused.stderr
    warned = kubectl.apply({**WIDGET, "spec": {"size": 3, "bogus": True}}, "--validate=warn")
    assert 'unknown field "spec.bogus"' in warned.stderr
    assert kubectl.json("get", "widget", "w1")["spec"] == {"size": 3}


@pytest.mark.usefixtures("crd")
def test_cel_rule_refusal_carries_the_rule_message(kubectl: kubectl.Kubectl) -> None:
    refused = kubectl.apply({**WIDGET, "spec": {"size": 50, "color": "red"}}, check=False)
    assert refused.returncode == 1
    # kubectl rewords a 422 from its details: kind, name and each cause.
    assert (
        refused.stderr == 'The Widget "w1" is invalid: spec: Invalid value: "object": red widgets are small\n'
    )


def test_sandbox_command_as_a_process(tmp_path: Any) -> None:
    if kubectl.find_binary() is None:
        pytest.skip("kubectl is not installed")
    with process.start_sandbox_process(kubeconfig=tmp_path / "kubeconfig") as proc:
        assert proc.url.startswith("http://127.0.0.1:")
        client = kubectl.Kubectl(proc.kubeconfig, cache_dir=tmp_path / "cache")
        assert client("get", "namespaces", "-o", "name").stdout.split() == [
            "namespace/default",
            "namespace/kube-node-lease",
            "namespace/kube-public",
            "namespace/kube-system",
        ]
    assert proc.returncode == 0
