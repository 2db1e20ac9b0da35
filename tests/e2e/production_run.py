"""One production-like run of the operator, for ``test_production_like.py``.

What makes it production-like:
- the Helm chart is rendered by the real helm; its CRDs, ServiceAccount, RBAC and Service are applied to
  the Kubernetes API sandbox by the real kubectl, and the operator process runs with the arguments of the
  rendered Deployment (JSON logs, metrics and health ports, scope) and a token whose permissions are
  exactly what the stored ClusterRoles/Roles and bindings grant its ServiceAccount;
- kubectl applies the resources a platform engineer would (Secrets, the four kinds), and the test only
  reads what the operator wrote: statuses, Events, owned ConfigMaps and Secrets, the site's records, the
  CloudEvents a receiver got, ``/metrics`` and the log.

:func:`start` brings the stack up, :func:`drive` applies the scenario and waits (with deadlines) until
every resource reached its goal, collecting the live objects on the way; ``Run`` holds what the tests
assert on. The operator keeps running until the module's tests are done.
"""

from __future__ import annotations

import dataclasses
import pathlib
import socket
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import yaml
from eventpoll_stack import Receiver, http_sink

from conftest import condition, eventually
from orchestration_operator.testing import background, helm, promtext, stack
from orchestration_operator.testing.drupal import threaded, users
from orchestration_operator.testing.kube import endpoints, process, server
from orchestration_operator.testing.kube import kubectl as kubectl_module

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "orchestration-operator"
G, V = "drupal-orchestration.io", "v1alpha1"
RELEASE, RELEASE_NS = "oo", "ops"
SERVICE_ACCOUNT = "oo-orchestration-operator"
OPERATOR_USER = f"system:serviceaccount:{RELEASE_NS}:{SERVICE_ACCOUNT}"
NS = "prod"
NOW = int(time.time())

# Values that must never leave the Secrets (and the site, and the receiver) they were given to.
SECRETS = {
    "password": "pr0d-pa55w0rd-7f3a",
    "wrong password": "wr0ng-pa55-91c2",
    "webhook URL token": "hook-t0ken-4e8b",
    "sink URL token": "sink-t0ken-d21f",
    "sink header value": "hdr-v4lue-5c1b",
    "config value": "cfg-v4lue-a7e0",
    "sensitive result": "res-v4lue-0b9d",
}
USER = "orchestration"

CATALOG: dict[str, Any] = {
    "services": [
        {"id": "eca::object", "label": "Object", "behaviour": {"kind": "value", "value": {"sent": True}}},
        {"id": "eca::report", "label": "Report", "behaviour": {"kind": "large", "size": 6000}},
        {
            "id": "eca::token",
            "label": "Token",
            "behaviour": {"kind": "value", "value": {"token": SECRETS["sensitive result"]}},
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
    ]
}

MODES: dict[str, dict[str, Any]] = {"cluster": {}, "namespaced": {"watchNamespaces": [NS]}}

RUNS = {  # name: (serviceId, extra spec lines)
    "report": ("eca::report", ""),
    "token": ("eca::token", "result: {sensitive: true}"),
    "welcome": (
        "eca::welcome",
        "config: {user_id: '7'}\n"
        "configFrom:\n- {key: api_token, secretKeyRef: {name: api, key: token}}\n"
        "result: {sensitive: true}",
    ),
    "boom": ("eca::boom", ""),
    "refused": ("eca::nope", ""),  # not in the catalog
    "invalid": ("eca::welcome", "config: {api_token: plain}"),  # its required user_id is missing
    "ttl": ("eca::object", "ttlSecondsAfterFinished: 0"),
}
# Polls of each EventPoll before its Events are counted (there must not be one per poll); the failing one
# backs off (about 1 s, 2 s, 4 s...).
POLL_CYCLES = {"orders": 5, "alerts": 3}
ORDERS = [{"timestamp": NOW - 30 + 10 * i, "data": {"order": i}} for i in range(3)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclasses.dataclass
class Run:
    mode: str
    sandbox: server.KubeSandbox
    kubectl: kubectl_module.Kubectl
    emulator: threaded.ThreadedEmulator
    receiver: Receiver
    operator: process.LoggedProcess
    rendered: list[dict[str, Any]]
    args: list[str]
    metrics_url: str
    health_url: str
    # Filled by drive():
    live: dict[tuple[str, str], dict[str, Any]] = dataclasses.field(default_factory=dict)
    requests: list[endpoints.RequestRecord] = dataclasses.field(default_factory=list)
    polled: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)  # name: (polls, Events)
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    metrics_text: str = ""
    scraped_at: float = 0.0
    metrics: promtext.Samples = dataclasses.field(default_factory=lambda: promtext.Samples(()))

    def get(self, plural: str, name: str, namespace: str = NS) -> dict[str, Any] | None:
        group, version = ("", "v1") if plural in ("configmaps", "secrets", "events") else (G, V)
        return self.sandbox.get_object(group, version, plural, namespace, name)

    def wait_reason(self, plural: str, name: str, reason: str, *, timeout: float = 20) -> dict[str, Any]:
        return eventually(
            lambda: (
                (obj := self.get(plural, name)) is not None and condition(obj).get("reason") == reason and obj
            ),
            timeout=timeout,
            what=f"{plural}/{name} Ready reason {reason}",
        )

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        found = self.sandbox.list_objects("", "v1", "events", NS)
        found.sort(key=lambda e: int(e["metadata"]["resourceVersion"]))
        return [e for e in found if name is None or (e.get("involvedObject") or {}).get("name") == name]

    def reasons(self, name: str) -> list[str]:
        return [e["reason"] for e in self.events(name)]


def rbac_objects(rendered: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kinds = ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
    return [obj for obj in rendered if obj["kind"] in kinds]


def deployment_args(rendered: list[dict[str, Any]]) -> list[str]:
    (deployment,) = [obj for obj in rendered if obj["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return list(container["args"])


def start(mode: str, state: pathlib.Path, emulator_loop: background.BackgroundLoop) -> Iterator[Run]:
    """The sandbox with the chart applied, the emulator, a CloudEvents receiver, the operator process."""
    started = time.monotonic()
    metrics_port, health_port = free_port(), free_port()
    values = {**MODES[mode], "metrics": {"port": metrics_port}, "health": {"port": health_port}}
    rendered = helm.template(CHART, release=RELEASE, namespace=RELEASE_NS, values=values)
    with background.BackgroundLoop(name=f"production-{mode}") as loop:
        sandbox = server.KubeSandbox(record_requests=50_000)
        loop.call(sandbox.start())
        emulator = threaded.ThreadedEmulator.start(
            loop=emulator_loop, catalog=CATALOG, users=[users.User(USER, SECRETS["password"])]
        )
        receiver = Receiver(loop)
        receiver.start()
        operator: process.LoggedProcess | None = None
        try:
            kubectl = kubectl_module.Kubectl(
                sandbox.write_kubeconfig(state / "admin.kubeconfig"), cache_dir=state / "kubectl-cache"
            )
            crds = [obj for obj in rendered if obj["kind"] == "CustomResourceDefinition"]
            kubectl.apply(crds)
            kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=30s")
            kubectl("create", "namespace", RELEASE_NS)
            kubectl("create", "namespace", NS)
            # Everything but the CRDs (applied above) and the Deployment (the process below is its pod).
            kubectl.apply(
                [obj for obj in rendered if obj["kind"] not in ("CustomResourceDefinition", "Deployment")]
            )
            token = f"sa-token-{mode}"
            sandbox.add_token(
                token,
                user=OPERATOR_USER,
                groups=("system:serviceaccounts", f"system:serviceaccounts:{RELEASE_NS}"),
                rbac=True,
            )
            operator_kubeconfig = sandbox.write_kubeconfig(state / "operator.kubeconfig", token=token)
            args = deployment_args(rendered)
            operator = process.start_process(
                [sys.executable, "-m", "orchestration_operator", "run", *args],
                kubeconfig=operator_kubeconfig,
                log_path=state / "operator.log",
            )
            operator.wait_for_log(stack.OPERATOR_STARTED, timeout=60)
            yield Run(
                mode=mode,
                sandbox=sandbox,
                kubectl=kubectl,
                emulator=emulator,
                receiver=receiver,
                operator=operator,
                rendered=rendered,
                args=args,
                metrics_url=f"http://127.0.0.1:{metrics_port}/metrics",
                health_url=f"http://127.0.0.1:{health_port}/healthz",
                timings={"operator started": time.monotonic() - started},
            )
        finally:
            if operator is not None:
                operator.stop()
                print(f"--- operator log ({operator.log_path}) ---\n{operator.logs()[-8000:]}")
            receiver.stop()
            emulator.stop()
            loop.call(sandbox.stop())


def manifests(receiver: Receiver) -> str:
    """Every object of the scenario, as a platform engineer would apply them."""

    def connection(name: str, secret: str, password: str) -> str:
        return f"""
apiVersion: v1
kind: Secret
metadata: {{name: {secret}}}
type: kubernetes.io/basic-auth
stringData: {{username: {USER}, password: {password}}}
---
apiVersion: {G}/{V}
kind: OrchestrationConnection
metadata: {{name: {name}}}
spec:
  url: URL
  auth: {{basic: {{secretRef: {{name: {secret}}}}}}}
  timeout: 5s
"""

    def run(name: str, service: str, extra: str) -> str:
        return (
            f"apiVersion: {G}/{V}\nkind: ServiceRun\nmetadata: {{name: {name}}}\n"
            f"spec:\n  connectionRef: {{name: site}}\n  serviceId: {service}\n"
            + textwrap.indent(extra, "  ")
            + "\n"
        )

    sink_secret = {
        "url": f"{receiver.url}/binary/{SECRETS['sink URL token']}",
        "Authorization": f"Bearer {SECRETS['sink header value']}",
    }
    polls = [
        {
            "apiVersion": f"{G}/{V}",
            "kind": "EventPoll",
            "metadata": {"name": "orders"},
            "spec": {
                "connectionRef": {"name": "site"},
                "name": "orders",
                "mode": "timestamp",
                "interval": "1s",
                "startFrom": {"timestamp": NOW - 60},
                "sinks": [
                    http_sink("structured", receiver.endpoint("/structured")),
                    {
                        "name": "binary",
                        "http": {
                            "urlFrom": {"secretKeyRef": {"name": "sink", "key": "url"}},
                            "mode": "binary",
                            "headersFrom": {"secretRef": {"name": "sink"}},
                        },
                    },
                    {"name": "ring", "configMap": {"name": "orders-ring", "maxEvents": 2}},
                ],
            },
        },
        {
            "apiVersion": f"{G}/{V}",
            "kind": "EventPoll",
            "metadata": {"name": "alerts"},
            "spec": {
                "connectionRef": {"name": "site"},
                "name": "alerts",
                "mode": "timestamp",
                "interval": "1s",
                "startFrom": {"timestamp": NOW - 60},
                "sinks": [http_sink("down", receiver.endpoint("/down", "fail"))],
            },
        },
    ]
    documents = [
        connection("site", "creds", SECRETS["password"]),
        connection("wrong", "wrong-creds", SECRETS["wrong password"]),
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "hook-url"},
                "stringData": {"url": f"https://hooks.example/in?token={SECRETS['webhook URL token']}"},
            }
        ),
        f"apiVersion: {G}/{V}\nkind: OrchestrationWebhook\nmetadata: {{name: hook}}\n"
        "spec:\n  connectionRef: {name: site}\n  urlFrom: {secretKeyRef: {name: hook-url, key: url}}\n",
        f"apiVersion: {G}/{V}\nkind: OrchestrationWebhook\nmetadata: {{name: waiting}}\n"
        "spec:\n  connectionRef: {name: missing}\n  url: https://hooks.example/waiting\n",
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "api"},
                "stringData": {"token": SECRETS["config value"]},
            }
        ),
        *(run(name, service, extra) for name, (service, extra) in RUNS.items()),
        yaml.safe_dump(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sink"}, "stringData": sink_secret}
        ),
        *(yaml.safe_dump(poll) for poll in polls),
    ]
    return "\n---\n".join(documents)


def drive(run: Run) -> None:
    """Apply the scenario, wait until each resource reached its goal, collect, then delete the webhook."""
    started = time.monotonic()
    run.emulator.add_poll_items("orders", "timestamp", ORDERS)
    run.emulator.add_poll_items("alerts", "timestamp", [{"timestamp": NOW - 5, "data": {"alert": 1}}])
    run.kubectl("apply", "-n", NS, "-f", "-", input=manifests(run.receiver).replace("URL", run.emulator.url))

    run.wait_reason("orchestrationconnections", "site", "Connected")
    run.wait_reason("orchestrationconnections", "wrong", "Forbidden")
    run.wait_reason("orchestrationwebhooks", "hook", "Registered")
    run.wait_reason("orchestrationwebhooks", "waiting", "ConnectionNotFound")
    for name in ("report", "token", "welcome"):
        run.wait_reason("serviceruns", name, "Succeeded")
    run.wait_reason("serviceruns", "boom", "ServiceFailed")
    run.wait_reason("serviceruns", "refused", "ServiceNotFound")
    run.wait_reason("serviceruns", "invalid", "ValidationFailed")
    eventually(
        lambda: run.get("serviceruns", "ttl") is None, timeout=20, what="serviceruns/ttl deleted (TTL)"
    )
    run.wait_reason("eventpolls", "orders", "Polling")
    eventually(
        lambda: (
            (run.get("eventpolls", "orders") or {}).get("status", {}).get("eventsDelivered") == len(ORDERS)
        ),
        what="every order delivered",
    )
    run.wait_reason("eventpolls", "alerts", "SinkFailing")
    run.timings["goals"] = time.monotonic() - started

    listed = run.kubectl.json("get", "oconn,owh,srun,epoll", "-n", NS)["items"]
    run.live = {(obj["kind"], obj["metadata"]["name"]): obj for obj in listed}

    run.kubectl("delete", "-n", NS, "owh", "hook", "--timeout=20s")
    eventually(lambda: "Unregistered" in run.reasons("hook"), what="the Unregistered event of hook")
    run.timings["deleted"] = time.monotonic() - started

    # Several poll cycles of a quiet and of a failing EventPoll, then their Events are counted.
    for name, cycles in POLL_CYCLES.items():
        eventually(
            lambda name=name, cycles=cycles: len(run.emulator.calls("poll", name=name)) >= cycles,
            timeout=30,
            what=f"{cycles} polls of {name}",
        )
    run.polled = {
        name: (len(run.emulator.calls("poll", name=name)), len(run.events(name))) for name in POLL_CYCLES
    }
    run.requests = run.sandbox.request_log()
    run.metrics_text, run.metrics = promtext.scrape(run.metrics_url)
    run.scraped_at = time.time()
    run.timings["drive"] = time.monotonic() - started
    print(f"production run ({run.mode}): " + ", ".join(f"{k} {v:.1f} s" for k, v in run.timings.items()))
