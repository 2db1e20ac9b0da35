"""Standby replicas through kopf peering, exactly as the chart runs them (``peering.enabled: true``,
``replicaCount: 2``): its ClusterKopfPeering object, its RBAC (a token allowed exactly what the rendered
ClusterRole grants), and each replica's Deployment arguments and ``POD_ID``.

Two operator processes meet in the peering object: the one of higher priority works, the other stands by
and takes over when the first stops. Each ServiceRun is executed exactly once, by the replica that works
at the time; the standby replica's log never mentions it.
"""

from __future__ import annotations

import json
import pathlib
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import inprocess
import pytest

from orchestration_operator.api import names
from orchestration_operator.testing import helm
from orchestration_operator.testing.bench import processes
from orchestration_operator.testing.kube import kubectl as kubectl_module

pytestmark = pytest.mark.e2e

ROOT = pathlib.Path(__file__).resolve().parents[2]
G, V = names.GROUP, names.VERSION
CHART = ROOT / "charts" / "orchestration-operator"
RELEASE, RELEASE_NS = "oo", "ops"
OPERATOR_USER = f"system:serviceaccount:{RELEASE_NS}:oo-orchestration-operator"
VALUES = {"peering": {"enabled": True}, "replicaCount": 2}
NS = "ha"
FINISHED = ("Succeeded", "Failed", "Unknown")
CATALOG: dict[str, Any] = {
    "services": [
        {"id": "eca::brief", "label": "Brief", "behaviour": {"kind": "value", "value": "ok"}},
        # Longer than the standby replica's wake-up delays (2 s, then 4 s, 8 s: jittered, doubling).
        {
            "id": "eca::long",
            "label": "Long",
            "behaviour": {"kind": "value", "value": "ok", "latency_ms": 10000},
        },
    ]
}


class Cluster:
    def __init__(self, parts: inprocess.Parts, directory: pathlib.Path) -> None:
        sandbox = self.sandbox = parts.sandbox
        self.emulator = parts.emulator
        self.directory = directory
        self.kubectl = parts.kubectl
        self.rendered = helm.template(CHART, release=RELEASE, namespace=RELEASE_NS, values=VALUES)
        sandbox.add_token(
            "sa-token",
            user=OPERATOR_USER,
            groups=("system:serviceaccounts", f"system:serviceaccounts:{RELEASE_NS}"),
            rbac=True,
        )
        self.operator_kubeconfig = sandbox.write_kubeconfig(
            directory / "operator.kubeconfig", token="sa-token"
        )

    def deployment_args(self, index: int) -> tuple[str, list[str]]:
        """Replica ``index``'s Deployment name (its pod's name stands in for ``POD_ID``) and arguments,
        without the health and metrics ports (two processes on one machine; ``Operator`` turns them off)."""
        deployments = [obj for obj in self.rendered if obj["kind"] == "Deployment"]
        deployment = deployments[index]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        args = [a for a in container["args"] if not a.startswith(("--health-port", "--metrics-port"))]
        return deployment["metadata"]["name"], args

    def replica(self, index: int) -> processes.Operator:
        """Replica ``index`` of the chart (replica 0 has the highest priority), with the chart's RBAC."""
        name, args = self.deployment_args(index)
        return processes.Operator(
            kubeconfig=self.operator_kubeconfig,
            log_path=self.directory / f"replica-{index}.log",
            args=args,
            env={"POD_ID": name},  # kopf's identity in the peering object, as the chart sets it
            standalone=False,
        )

    def site(self, namespace: str, *, url: str) -> None:
        """A namespace with the site's credentials and its Connection ``site``."""
        self.kubectl.apply(
            textwrap.dedent(
                f"""
                apiVersion: v1
                kind: Namespace
                metadata: {{name: {namespace}}}
                ---
                apiVersion: v1
                kind: Secret
                metadata: {{name: creds, namespace: {namespace}}}
                stringData: {{username: admin, password: admin}}
                ---
                apiVersion: {G}/{V}
                kind: OrchestrationConnection
                metadata: {{name: site, namespace: {namespace}}}
                spec:
                  url: {url}
                  auth: {{basic: {{secretRef: {{name: creds}}}}}}
                """
            )
        )

    def create_run(self, name: str, *, namespace: str = NS, service: str = "eca::brief") -> None:
        self.kubectl.apply(
            textwrap.dedent(
                f"""
                apiVersion: {G}/{V}
                kind: ServiceRun
                metadata: {{name: {name}, namespace: {namespace}}}
                spec: {{connectionRef: {{name: site}}, serviceId: "{service}"}}
                """
            )
        )

    def run(self, name: str, *, namespace: str = NS, service: str = "eca::brief") -> dict[str, Any]:
        self.create_run(name, namespace=namespace, service=service)
        return self.finished(name, namespace=namespace)

    def finished(self, name: str, *, namespace: str = NS, timeout: float = 30) -> dict[str, Any]:
        obj = self.sandbox.wait_for_object(
            G,
            V,
            "serviceruns",
            namespace,
            name,
            lambda o: o is not None and (o.get("status") or {}).get("phase") in FINISHED,
            timeout=timeout,
        )
        assert obj is not None
        return obj

    def executes(self, service: str = "eca::brief") -> int:
        return len(self.emulator.calls("execute", id=service))


def handled(replica: processes.Operator, run: str) -> bool:
    """Whether this replica's log says it handled the run (JSON lines carry the object they are about)."""
    for line in replica.logs().splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("message") == "Handler 'servicerun_handler' succeeded." and (
            (record.get("object") or {}).get("name") == run
        ):
            return True
    return False


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if kubectl_module.find_binary() is None:
        pytest.skip("kubectl is not installed")
    directory = tmp_path_factory.mktemp("peering-e2e")
    with inprocess.sandbox_and_emulator(
        directory, loop_name="kube-sandbox", record_requests=50_000, catalog=CATALOG
    ) as parts:
        result = Cluster(parts, directory)
        kubectl = result.kubectl
        rendered = result.rendered
        kubectl.apply([obj for obj in rendered if obj["kind"] == "CustomResourceDefinition"])
        kubectl("apply", "-f", str(CHART / "crds" / "kopf-peering.yaml"))  # Helm's crds/ folder
        kubectl("wait", "--for=condition=established", "crd", "--all", "--timeout=30s")
        kubectl("create", "namespace", RELEASE_NS)
        # The chart's objects but the CRDs (above) and the Deployments (the processes are their pods).
        kubectl.apply(
            [obj for obj in rendered if obj["kind"] not in ("CustomResourceDefinition", "Deployment")]
        )
        result.site(NS, url=parts.emulator.url)
        yield result


def test_one_replica_works_the_other_stands_by_and_takes_over(cluster: Cluster) -> None:
    first = cluster.replica(1)
    try:
        assert cluster.run("alone")["status"]["phase"] == "Succeeded"
        assert handled(first, "alone")

        second = cluster.replica(0)  # the chart gives replica 0 the highest priority
        try:
            first.wait_for_log(r"Pausing operations in favour of", timeout=30)
            assert cluster.run("while-both")["status"]["phase"] == "Succeeded"
            assert handled(second, "while-both")
            assert not handled(first, "while-both")
        finally:
            assert second.stop(signum=15) == 0  # SIGTERM, as a rolling update does

        first.wait_for_log(r"Resuming operations after the pause", timeout=30)
        assert cluster.run("after")["status"]["phase"] == "Succeeded"
        assert handled(first, "after")
    finally:
        first.stop(signum=15)
    assert cluster.executes() == 3  # each run exactly once, whoever worked at the time
    for replica in ("replica-0", "replica-1"):
        log = (cluster.directory / f"{replica}.log").read_text()
        assert "OutcomeUnknown" not in log
        assert "Traceback" not in log


def test_a_standby_replica_leaves_the_runs_it_had_parked_to_the_working_one(cluster: Cluster) -> None:
    """A replica parks a run (its Connection is down), then a peer takes over and the Connection comes
    back: the working replica executes the run (10 s), and the standby replica's wake-ups, which fire
    meanwhile, touch nothing (they used to find the run in flight and end it Unknown)."""
    namespace = "ha-parked"
    cluster.site(namespace, url="http://127.0.0.1:9")  # nothing listens there: the Connection is down
    first = cluster.replica(1)
    second: processes.Operator | None = None
    try:
        cluster.create_run("parked", namespace=namespace, service="eca::long")
        cluster.sandbox.wait_for_object(
            G,
            V,
            "serviceruns",
            namespace,
            "parked",
            lambda o: o is not None and (o.get("status") or {}).get("phase") == "Pending",
            timeout=30,
        )
        second = cluster.replica(0)
        first.wait_for_log(r"Pausing operations in favour of", timeout=30)
        cluster.kubectl(
            "patch", "oconn", "site", "-n", namespace, "--type=merge", "-p",
            json.dumps({"spec": {"url": cluster.emulator.url}}),
        )  # fmt: skip
        obj = cluster.finished("parked", namespace=namespace, timeout=60)
        assert obj["status"]["phase"] == "Succeeded"
        assert handled(second, "parked")
    finally:
        if second is not None:
            second.stop(signum=15)
        first.stop(signum=15)
    assert cluster.executes("eca::long") == 1
    events = cluster.kubectl.json("get", "events", "-n", namespace)["items"]
    reasons = sorted({e["reason"] for e in events if e["involvedObject"]["name"] == "parked"})
    assert reasons == ["Succeeded"]  # no OutcomeUnknown from the standby replica


def test_the_replicas_left_the_charts_peering_object_and_were_never_refused(cluster: Cluster) -> None:
    listed = cluster.kubectl.json("get", "clusterkopfpeerings")["items"]
    assert [item["metadata"]["name"] for item in listed] == [RELEASE + "-orchestration-operator"]
    requests = [r for r in cluster.sandbox.request_log() if r.user == OPERATOR_USER]
    assert any(r.path.startswith("/apis/kopf.dev/") and r.method == "PATCH" for r in requests)  # peering
    assert [r for r in requests if r.status in (401, 403)] == []  # the chart's RBAC is all they need
    deadline = time.monotonic() + 30
    while True:  # both replicas said goodbye on their graceful stop: nobody is left alive in it
        status = (
            cluster.kubectl.json("get", "clusterkopfpeering", listed[0]["metadata"]["name"]).get("status")
            or {}
        )
        if not status or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == {}
