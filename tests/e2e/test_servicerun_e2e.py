"""ServiceRun end to end: the operator process, the Kubernetes API sandbox, the Drupal emulator, kubectl.

One operator process serves the whole module (the crash test, last, kills and restarts it). Each test
works in its own namespace with its own Connection, applies YAML with the real kubectl, and polls the
sandbox with deadlines. The emulator's request log is the evidence of what was (not) executed.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import pathlib
import re
import signal
import socket
import textwrap
import time
from collections.abc import Callable, Iterator
from typing import Any

import inprocess
import pytest

from orchestration_operator.api import names
from orchestration_operator.testing.bench import processes
from orchestration_operator.testing.bench import servicerun as bench
from orchestration_operator.testing.drupal import threaded
from orchestration_operator.testing.kube import kubectl as kubectl_module
from orchestration_operator.testing.kube import server

pytestmark = pytest.mark.e2e

ROOT = pathlib.Path(__file__).resolve().parents[2]
G, V = names.GROUP, names.VERSION
RUNS_PATH = f"/apis/{G}/{V}/namespaces"
SECRET_VALUE = "s3cr3t-t0ken"

CATALOG: dict[str, Any] = {
    "services": [
        {"id": "eca::object", "label": "Object", "behaviour": {"kind": "value", "value": {"sent": True}}},
        {"id": "eca::list", "label": "List", "behaviour": {"kind": "value", "value": [1, 2, 3]}},
        {"id": "eca::string", "label": "String", "behaviour": {"kind": "value", "value": "done"}},
        {"id": "eca::nothing", "label": "Nothing", "behaviour": "undefined"},
        {"id": "eca::report", "label": "Report", "behaviour": {"kind": "large", "size": 6000}},
        {
            "id": "eca::token",
            "label": "Token",
            "behaviour": {"kind": "value", "value": {"token": SECRET_VALUE}},
        },
        {"id": "eca::boom", "label": "Boom", "behaviour": {"kind": "error", "message": "Mailer is down."}},
        {
            "id": "eca::welcome",
            "label": "Welcome",
            "config": [
                {"key": "user_id", "label": "User ID", "required": True},
                {"key": "api_token", "label": "API token"},
            ],
            "behaviour": "echo",
        },
        {"id": "eca::counter", "label": "Counter", "behaviour": "counter"},
        {
            "id": "eca::slow",
            "label": "Slow",
            "behaviour": {"kind": "value", "value": "late", "latency_ms": 8000},
        },
        {
            "id": "eca::slowish",
            "label": "Slowish",
            "behaviour": {"kind": "value", "value": "ok", "latency_ms": 2000},
        },
        {
            "id": "eca::brief",
            "label": "Brief",
            "behaviour": {"kind": "value", "value": "ok", "latency_ms": 300},
        },
    ]
}


@dataclasses.dataclass
class Stack:
    sandbox: server.KubeSandbox
    kubectl: kubectl_module.Kubectl
    emulator: threaded.ThreadedEmulator
    directory: pathlib.Path
    operator: processes.Operator | None = None

    def start_operator(self) -> None:
        self.operator = processes.Operator(
            kubeconfig=self.directory / "kubeconfig", log_path=self.directory / "operator.log"
        )

    def namespace(self, name: str, *, url: str | None = None, ready: bool = True, bound: int = 4) -> None:
        """A namespace with the site's credentials and a Connection (Ready, or not)."""
        self.kubectl.apply(
            textwrap.dedent(
                f"""
                apiVersion: v1
                kind: Namespace
                metadata: {{name: {name}}}
                ---
                apiVersion: v1
                kind: Secret
                metadata: {{name: site-credentials, namespace: {name}}}
                stringData: {{username: admin, password: admin}}
                ---
                apiVersion: {G}/{V}
                kind: OrchestrationConnection
                metadata: {{name: site, namespace: {name}}}
                spec:
                  url: {url or self.emulator.url}
                  auth: {{basic: {{secretRef: {{name: site-credentials}}}}}}
                  maxConcurrentRequests: {bound}
                """
            )
        )
        self.connection_ready(name, ready)

    def connection_ready(self, namespace: str, ready: bool) -> None:
        # What the Connection's own handler reports after probing the site (the URL agrees with it).
        condition = {
            "type": "Ready",
            "status": "True" if ready else "False",
            "reason": "Connected" if ready else "Unreachable",
            "message": "" if ready else "connection refused",
            "lastTransitionTime": "2025-05-01T12:00:00Z",
        }
        self.sandbox.patch_object(
            G, V, "orchestrationconnections", namespace, "site",
            {"status": {"conditions": [condition]}}, subresource="status",
        )  # fmt: skip

    def run(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.sandbox.get_object(G, V, "serviceruns", namespace, name)

    def wait_run(
        self, namespace: str, name: str, predicate: Callable[[dict[str, Any]], bool], *, timeout: float = 20.0
    ) -> dict[str, Any]:
        obj = self.sandbox.wait_for_object(
            G, V, "serviceruns", namespace, name, lambda o: o is not None and predicate(o), timeout=timeout
        )
        assert obj is not None
        return obj

    def finished(self, namespace: str, name: str, *, timeout: float = 20.0) -> dict[str, Any]:
        return self.wait_run(
            namespace,
            name,
            lambda o: o.get("status", {}).get("phase") in ("Succeeded", "Failed", "Unknown"),
            timeout=timeout,
        )

    def executes(self, service_id: str) -> int:
        return len(self.emulator.calls("execute", id=service_id))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def srun(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if kubectl_module.find_binary() is None:
        pytest.skip("kubectl is not installed")
    directory = tmp_path_factory.mktemp("servicerun-e2e")
    with inprocess.sandbox_and_emulator(
        directory, loop_name="kube-sandbox", record_requests=50_000, catalog=CATALOG
    ) as parts:
        kubectl = parts.kubectl
        kubectl("apply", "-f", str(ROOT / "crds"))
        kubectl("wait", "--for=condition=established", "crd", "--all", "--timeout=30s")
        result = Stack(sandbox=parts.sandbox, kubectl=kubectl, emulator=parts.emulator, directory=directory)
        try:
            result.start_operator()
            yield result
        finally:
            if result.operator is not None:
                result.operator.stop()
                print(f"--- operator log ---\n{result.operator.logs()[-6000:]}")


def _conditions(obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((c["type"], c["status"], c["reason"]) for c in obj["status"].get("conditions", []))


def _run_yaml(name: str, namespace: str, service: str, extra: str = "", config: str = "{}") -> str:
    return textwrap.dedent(
        f"""
        apiVersion: {G}/{V}
        kind: ServiceRun
        metadata: {{name: {name}, namespace: {namespace}}}
        spec:
          connectionRef: {{name: site}}
          serviceId: {service}
          config: {config}
        """
    ) + textwrap.indent(textwrap.dedent(extra), "  ")


# --- success ----------------------------------------------------------------------------------------------


def test_each_result_shape_succeeds_and_kubectl_wait_returns(srun: Stack) -> None:
    srun.namespace("shapes")
    runs = {
        "object": ("eca::object", ""),
        "list": ("eca::list", ""),
        "string": ("eca::string", ""),
        "nothing": ("eca::nothing", ""),
        "report": ("eca::report", ""),
        "token": ("eca::token", "result: {sensitive: true}\n"),
    }
    srun.kubectl.apply("---".join(_run_yaml(n, "shapes", s, extra) for n, (s, extra) in runs.items()))
    waited = srun.kubectl("wait", "--for=condition=Ready", "srun", "--all", "-n", "shapes", "--timeout=30s")
    assert waited.stdout.count("condition met") == len(runs)

    expected = {"object": {"sent": True}, "list": [1, 2, 3], "string": "done", "nothing": "undefined"}
    for name, value in expected.items():
        status = srun.run("shapes", name)["status"]  # type: ignore[index]
        assert status["phase"] == "Succeeded"
        assert status["result"] == value
        assert (status["attempts"], status["startedAttempt"]) == (1, 1)
        assert "resultRef" not in status
    for name, (service, _) in runs.items():
        obj = srun.run("shapes", name)
        assert obj is not None
        assert _conditions(obj) == [("Ready", "True", "Succeeded")]
        assert srun.executes(service) == 1

    report = srun.run("shapes", "report")["status"]  # type: ignore[index]
    assert report["resultRef"] == {"kind": "ConfigMap", "name": "report-result", "key": "result.json"}
    assert (report["resultTruncated"], report["resultBytes"]) == (True, 6000)
    configmap = srun.sandbox.get_object("", "v1", "configmaps", "shapes", "report-result")
    assert configmap is not None
    stored = configmap["data"]["result.json"].encode()
    assert report["resultDigest"] == "sha256:" + hashlib.sha256(stored).hexdigest()
    assert configmap["metadata"]["ownerReferences"][0]["name"] == "report"

    token = srun.run("shapes", "token")["status"]  # type: ignore[index]
    assert "result" not in token
    assert token["resultRef"] == {"kind": "Secret", "name": "token-result", "key": "result.json"}
    secret = srun.sandbox.get_object("", "v1", "secrets", "shapes", "token-result")
    assert secret is not None
    assert json.loads(base64.b64decode(secret["data"]["result.json"])) == {"token": SECRET_VALUE}

    table = srun.kubectl("get", "srun", "-n", "shapes").stdout
    assert re.search(r"^object\s+eca::object\s+Succeeded\s+True\s+Succeeded\s", table, re.MULTILINE)

    # "Run finished": one Normal Succeeded event per run (posted in the background), never the result.
    deadline = time.monotonic() + 20
    while True:
        events = [
            e
            for e in srun.sandbox.list_objects("", "v1", "events", "shapes")
            if e["involvedObject"]["kind"] == "ServiceRun" and e["reason"] == "Succeeded"
        ]
        if len(events) >= len(runs) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert sorted(e["involvedObject"]["name"] for e in events) == sorted(runs)
    assert {e["type"] for e in events} == {"Normal"}
    by_name = {e["involvedObject"]["name"]: e["message"] for e in events}
    assert by_name["token"].startswith('"eca::token" returned ')
    assert SECRET_VALUE not in "".join(by_name.values())
    assert "sent" not in by_name["object"]


# --- refused or failed --------------------------------------------------------------------------------------


def test_a_service_exception_fails_the_run_with_its_message(srun: Stack) -> None:
    srun.namespace("boom")
    srun.kubectl.apply(_run_yaml("boom", "boom", "eca::boom"))
    obj = srun.finished("boom", "boom")
    status = obj["status"]
    assert status["phase"] == "Failed"
    assert _conditions(obj) == [("Ready", "False", "ServiceFailed"), ("Stalled", "True", "ServiceFailed")]
    assert status["error"] == {
        "httpStatus": 500,
        "reason": "ServiceFailed",
        "message": "Mailer is down.",
    }
    assert srun.executes("eca::boom") == 1
    assert "ServiceFailed" in srun.kubectl("get", "events", "-n", "boom").stdout


@pytest.mark.parametrize(
    ("name", "service", "config", "reason", "message"),
    [
        (
            "unknown",
            "eca::does_not_exist",
            "{}",
            "ServiceNotFound",
            'service "eca::does_not_exist" is not in the catalog of connection "site"',
        ),
        (
            "missing-key",
            "eca::welcome",
            "{api_token: x}",
            "ValidationFailed",
            'config key "user_id" is required (User ID) but not set',
        ),
    ],
)
def test_a_refused_run_never_calls_execute(
    srun: Stack, name: str, service: str, config: str, reason: str, message: str
) -> None:
    srun.namespace(f"refused-{name}")
    srun.kubectl.apply(_run_yaml(name, f"refused-{name}", service, config=config))
    obj = srun.finished(f"refused-{name}", name)
    assert obj["status"]["phase"] == "Failed"
    assert _conditions(obj) == [("Ready", "False", reason), ("Stalled", "True", reason)]
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert message in ready["message"]
    assert "Execute was not called" in ready["message"]
    assert srun.emulator.calls("execute", id=service) == []


def test_config_from_a_secret_reaches_the_service(srun: Stack) -> None:
    srun.namespace("secretconfig")
    # The way READMEs tell people to create credentials (kubectl sends protobuf).
    srun.kubectl(
        "create", "secret", "generic", "api", f"--from-literal=token={SECRET_VALUE}", "-n", "secretconfig"
    )
    extra = (
        "configFrom:\n- {key: api_token, secretKeyRef: {name: api, key: token}}\nresult: {sensitive: true}\n"
    )
    srun.kubectl.apply(_run_yaml("welcome", "secretconfig", "eca::welcome", extra, config='{user_id: "7"}'))
    obj = srun.finished("secretconfig", "welcome")
    assert obj["status"]["phase"] == "Succeeded"
    (call,) = [
        c for c in srun.emulator.calls("execute", id="eca::welcome") if c.body["config"].get("user_id") == "7"
    ]
    assert call.body["config"] == {"user_id": "7", "api_token": SECRET_VALUE}
    assert SECRET_VALUE not in json.dumps(obj)


def test_a_run_waits_for_its_secret_and_goes_on_when_it_appears(srun: Stack) -> None:
    srun.namespace("latesecret")
    extra = "configFrom:\n- {key: api_token, secretKeyRef: {name: later, key: token}}\n"
    srun.kubectl.apply(_run_yaml("welcome", "latesecret", "eca::welcome", extra, config='{user_id: "8"}'))
    obj = srun.wait_run("latesecret", "welcome", lambda o: o.get("status", {}).get("phase") == "Pending")
    assert _conditions(obj) == [
        ("Ready", "False", "SecretNotFound"),
        ("Reconciling", "True", "SecretNotFound"),
    ]
    srun.kubectl("create", "secret", "generic", "later", "--from-literal=token=abc", "-n", "latesecret")
    assert srun.finished("latesecret", "welcome", timeout=20)["status"]["phase"] == "Succeeded"


def test_the_spec_cannot_be_edited(srun: Stack) -> None:
    srun.namespace("immutable")
    srun.kubectl.apply(_run_yaml("run", "immutable", "eca::object"))
    srun.finished("immutable", "run")
    edited = srun.kubectl(
        "patch",
        "srun",
        "run",
        "-n",
        "immutable",
        "--type=merge",
        "-p",
        '{"spec":{"config":{"a":"b"}}}',
        check=False,
    )
    assert edited.returncode != 0
    assert (
        "spec is immutable; create a new ServiceRun or set the drupal-orchestration.io/rerun" in edited.stderr
    )


def test_the_connections_bound_on_concurrent_calls_holds_across_runs(srun: Stack) -> None:
    srun.namespace("bound", bound=2)
    srun.kubectl.apply("---".join(_run_yaml(f"brief-{i}", "bound", "eca::brief") for i in range(6)))
    for i in range(6):
        assert srun.finished("bound", f"brief-{i}")["status"]["phase"] == "Succeeded"
    calls = srun.emulator.calls("execute", id="eca::brief")
    assert len(calls) == 6
    assert bench.peak_concurrency([(c.time, c.time + (c.duration or 0.0)) for c in calls]) == 2


# --- rerun, TTL --------------------------------------------------------------------------------------------


def test_the_rerun_annotation_executes_once_per_value(srun: Stack) -> None:
    srun.namespace("rerun")
    srun.kubectl.apply(_run_yaml("count", "rerun", "eca::counter"))
    assert srun.finished("rerun", "count")["status"]["result"] == {"calls": 1}

    def answered(value: str, calls: int) -> Callable[[dict[str, Any]], bool]:
        def check(obj: dict[str, Any]) -> bool:
            status = obj.get("status", {})
            return (
                status.get("rerun") == value
                and status.get("phase") == "Succeeded"
                and (status.get("result") == {"calls": calls})
            )

        return check

    srun.kubectl("annotate", "srun", "count", "-n", "rerun", f"{names.RERUN_ANNOTATION}=first")
    srun.wait_run("rerun", "count", answered("first", 2))

    # Another annotation changes the object (kopf handles it) but not the rerun value: nothing runs.
    srun.kubectl("annotate", "srun", "count", "-n", "rerun", "note=hello")
    srun.wait_run(
        "rerun",
        "count",
        lambda o: "note" in o["status"].get("kopf", {}).get("last-handled-configuration", ""),
    )
    assert srun.emulator.execute_count("eca::counter") == 2

    srun.kubectl(
        "annotate", "srun", "count", "-n", "rerun", f"{names.RERUN_ANNOTATION}=second", "--overwrite"
    )
    obj = srun.wait_run("rerun", "count", answered("second", 3))
    assert (obj["status"]["attempts"], obj["status"]["startedAttempt"]) == (1, 1)
    assert srun.emulator.execute_count("eca::counter") == 3


def test_ttl_deletes_a_finished_run_and_its_result(srun: Stack) -> None:
    srun.namespace("ttl")
    srun.kubectl.apply(
        _run_yaml("short", "ttl", "eca::object", "ttlSecondsAfterFinished: 0\nresult: {maxStatusBytes: 0}\n")
    )
    srun.sandbox.wait_for_object("", "v1", "configmaps", "ttl", "short-result", lambda o: o is not None)
    srun.sandbox.wait_for_object(G, V, "serviceruns", "ttl", "short", lambda o: o is None, timeout=20)
    srun.sandbox.wait_for_object(
        "", "v1", "configmaps", "ttl", "short-result", lambda o: o is None, timeout=20
    )


# --- waiting for the connection --------------------------------------------------------------------------


def test_a_connection_that_is_down_leaves_runs_waiting_until_it_recovers(srun: Stack) -> None:
    dead = f"http://127.0.0.1:{_free_port()}"
    before = srun.executes("eca::string")
    srun.namespace("down", url=dead, ready=False)
    srun.kubectl.apply("---".join(_run_yaml(f"wait-{i}", "down", "eca::string") for i in range(3)))
    for i in range(3):
        obj = srun.wait_run("down", f"wait-{i}", lambda o: o.get("status", {}).get("phase") == "Pending")
        assert _conditions(obj) == [
            ("Ready", "False", "ConnectionNotReady"),
            ("Reconciling", "True", "ConnectionNotReady"),
        ]
    assert srun.executes("eca::string") == before
    # Waiting costs one status write (Pending), then nothing: no retry bookkeeping, no error logs.
    writes = [
        r
        for r in srun.sandbox.request_log()
        if r.method == "PATCH" and r.path.startswith(f"{RUNS_PATH}/down/serviceruns/")
    ]
    assert len(writes) == 3
    assert "failed temporarily" not in (srun.directory / "operator.log").read_text()

    srun.kubectl(
        "patch",
        "oconn",
        "site",
        "-n",
        "down",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"url": srun.emulator.url}}),
    )
    srun.connection_ready("down", True)
    for i in range(3):
        obj = srun.finished("down", f"wait-{i}", timeout=30)
        assert obj["status"]["phase"] == "Succeeded"
    assert srun.executes("eca::string") == before + 3


# --- stops and crashes (last: they restart the operator) ----------------------------------------------------


def _wait_for_call(srun: Stack, service: str, *, before: int = 0) -> None:
    deadline = time.monotonic() + 20
    while srun.executes(service) <= before:
        assert time.monotonic() < deadline, f"{service} was never called"
        time.sleep(0.02)


@pytest.mark.parametrize(
    "path",
    [
        "handler",  # the Connection exists first: usually kopf's own handler makes the call
        "wake-up",  # the run waits for its Connection and is woken outside kopf when it turns Ready
    ],
)
def test_a_graceful_stop_lets_the_call_in_flight_record_its_outcome(srun: Stack, path: str) -> None:
    namespace = f"rolling-{path}"
    before = srun.executes("eca::slowish")
    if path == "handler":
        srun.namespace(namespace)
        srun.kubectl.apply(_run_yaml("update", namespace, "eca::slowish"))
    else:
        srun.kubectl("create", "namespace", namespace)
        srun.kubectl.apply(_run_yaml("update", namespace, "eca::slowish"))
        srun.wait_run(namespace, "update", lambda o: o.get("status", {}).get("phase") == "Pending")
        srun.namespace(namespace)
    _wait_for_call(srun, "eca::slowish", before=before)
    assert srun.operator is not None
    try:
        code = srun.operator.stop(signum=signal.SIGTERM)  # as Kubernetes does in a rolling update
        obj = srun.run(namespace, "update")
    finally:
        srun.start_operator()  # the next tests need an operator even when this one fails
    assert code == 0, (srun.directory / "operator.log").read_text()[-3000:]
    assert obj is not None
    assert (obj["status"]["phase"], obj["status"]["result"]) == ("Succeeded", "ok")
    assert srun.executes("eca::slowish") == before + 1


def test_a_run_whose_operator_was_killed_mid_call_ends_unknown_without_a_second_call(srun: Stack) -> None:
    srun.namespace("crash")
    srun.kubectl.apply(_run_yaml("slow", "crash", "eca::slow"))
    _wait_for_call(srun, "eca::slow")
    marked = srun.run("crash", "slow")
    assert marked is not None
    assert (marked["status"]["phase"], marked["status"]["startedAttempt"]) == ("Running", 1)

    assert srun.operator is not None
    srun.operator.kill()  # SIGKILL: no cleanup, the call's outcome is never recorded
    srun.start_operator()

    obj = srun.finished("crash", "slow", timeout=30)
    status = obj["status"]
    assert status["phase"] == "Unknown"
    assert _conditions(obj) == [("Ready", "False", "OutcomeUnknown"), ("Stalled", "True", "OutcomeUnknown")]
    assert (status["startedAttempt"], status["attempts"]) == (1, 1)
    assert status["error"]["reason"] == "OutcomeUnknown"
    assert srun.executes("eca::slow") == 1


def test_results_and_secrets_never_reach_the_operator_log(srun: Stack) -> None:
    assert srun.operator is not None
    log = (srun.directory / "operator.log").read_text()
    assert "Handler 'servicerun_handler' succeeded" in log
    for text in (SECRET_VALUE, "Mailer is down", '"sent"', "x" * 100):
        assert text not in log
