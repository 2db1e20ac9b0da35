"""The end-to-end stack, one per session: the API sandbox, the Drupal emulator, the operator process.

The sandbox and the emulator serve in this process from background threads (tests read their state
directly); the operator runs as ``orchestration-operator run --standalone`` in its own process, as on
a cluster. The real kubectl applies YAML. Each test gets a namespace of its own (``namespace``), so
one operator serves every module without tests seeing each other's objects.

``drifted`` starts the one slow check early: a webhook overwritten by an administrator, restored only
by the resync (30 s at least); the modules that use the stack request it first, and the last webhook
test checks the outcome, so the wait overlaps with everything else.

When a test fails, the operator's log tail is printed (pytest shows it with the failure).
"""

from __future__ import annotations

import dataclasses
import itertools
import pathlib
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import inprocess
import pytest

from orchestration_operator.testing import background, stack
from orchestration_operator.testing.drupal import threaded, users
from orchestration_operator.testing.kube import kubectl as kubectl_module
from orchestration_operator.testing.kube import process, server

ROOT = pathlib.Path(__file__).resolve().parents[2]
GROUP, VERSION = "drupal-orchestration.io", "v1alpha1"
USER, PASSWORD = "orchestration", "change-me"

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], *, timeout: float = 15.0, what: str = "the condition") -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not reached within {timeout:g} s (last value: {value!r})")
        time.sleep(0.05)


def condition(obj: dict[str, Any] | None, type_: str = "Ready") -> dict[str, Any]:
    """The condition ``type_`` of ``obj`` ({} when absent)."""
    for found in ((obj or {}).get("status") or {}).get("conditions") or []:
        if found.get("type") == type_:
            return dict(found)
    return {}


@dataclasses.dataclass
class Stack:
    sandbox: server.KubeSandbox
    emulator: threaded.ThreadedEmulator
    operator: process.LoggedProcess
    kubectl: kubectl_module.Kubectl
    state: pathlib.Path
    _names: Iterator[int] = dataclasses.field(default_factory=itertools.count)

    def new_namespace(self) -> str:
        name = f"e2e-{next(self._names)}"
        self.kubectl("create", "namespace", name)
        return name

    def apply(self, namespace: str, manifest: str) -> None:
        self.kubectl("apply", "-n", namespace, "-f", "-", input=manifest)

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.sandbox.get_object(GROUP, VERSION, plural, namespace, name)

    def wait_reason(
        self,
        plural: str,
        namespace: str,
        name: str,
        reason: str,
        *,
        status: str | None = None,
        timeout: float = 15,
    ) -> dict[str, Any]:
        """Wait until the object's Ready condition has ``reason`` (and ``status``); return the object."""

        def probe() -> dict[str, Any] | None:
            obj = self.get(plural, namespace, name)
            ready = condition(obj)
            matches = ready.get("reason") == reason and (status is None or ready.get("status") == status)
            return obj if matches else None

        return eventually(probe, timeout=timeout, what=f"{plural}/{name} Ready reason {reason}")

    def gone(self, plural: str, namespace: str, name: str, *, timeout: float = 15) -> None:
        eventually(
            lambda: self.get(plural, namespace, name) is None, timeout=timeout, what=f"{plural}/{name} gone"
        )

    def wait_events(
        self, namespace: str, name: str, count: int, *, timeout: float = 10
    ) -> list[tuple[str, str, str]]:
        """Wait until object ``name`` has ``count`` Events (kopf posts them after the status write)."""

        def probe() -> list[tuple[str, str, str]] | None:
            found = self.events(namespace, name)
            return found if len(found) >= count else None

        return eventually(probe, timeout=timeout, what=f"{count} events about {name}")

    def wait_event(
        self, namespace: str, name: str, reason: str, *, timeout: float = 10
    ) -> tuple[str, str, str]:
        """Wait for an Event with ``reason`` about object ``name``; return it."""

        def probe() -> tuple[str, str, str] | None:
            return next((e for e in self.events(namespace, name) if e[1] == reason), None)

        return eventually(probe, timeout=timeout, what=f"a {reason} event about {name}")

    def events(self, namespace: str, name: str) -> list[tuple[str, str, str]]:
        """(type, reason, message) of the Events about object ``name``, oldest first."""
        found = self.sandbox.list_objects("", "v1", "events", namespace)
        return [
            (e.get("type", ""), e.get("reason", ""), e.get("message", ""))
            for e in sorted(found, key=lambda e: int(e["metadata"]["resourceVersion"]))  # creation order
            if (e.get("involvedObject") or {}).get("name") == name
        ]


@pytest.fixture(scope="session")
def e2e(
    tmp_path_factory: pytest.TempPathFactory, drupal_emulator_loop: background.BackgroundLoop
) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("e2e")
    with inprocess.sandbox_and_emulator(
        state,
        loop_name="e2e-sandbox",
        record_requests=20_000,
        loop=drupal_emulator_loop,
        users=[users.User(USER, PASSWORD), users.User("editor", "editor", permissions=frozenset())],
    ) as parts:
        kubectl = parts.kubectl
        kubectl("apply", "-f", str(ROOT / "crds"))
        kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=30s")
        operator: process.LoggedProcess | None = None
        try:
            operator = stack.start_operator(kubeconfig=parts.kubeconfig, log_path=state / "operator.log")
            yield Stack(
                sandbox=parts.sandbox,
                emulator=parts.emulator,
                operator=operator,
                kubectl=kubectl,
                state=state,
            )
        finally:
            if operator is not None:
                operator.stop()
                print(f"--- operator log ({operator.log_path}) ---\n{operator.logs()[-8000:]}")


@pytest.fixture
def namespace(e2e: Stack) -> str:
    return e2e.new_namespace()


DRIFT_URL = "https://hooks.example/drift"


@pytest.fixture(scope="session")
def drifted(e2e: Stack) -> float:
    """A webhook (resync 30 s, the minimum) that an administrator overwrote; returns when."""
    namespace = e2e.new_namespace()
    e2e.apply(namespace, connection_yaml(url=e2e.emulator.url))
    e2e.apply(namespace, webhook_yaml("drift", url=DRIFT_URL, resyncInterval="30s"))
    e2e.wait_reason("orchestrationwebhooks", namespace, "drift", "Registered", status="True")
    e2e.emulator.set_webhook("drift", "https://admin.example/overwritten")
    return time.monotonic()


def connection_yaml(
    name: str = "site", *, url: str, secret: str = "creds", username: str = USER, password: str = PASSWORD
) -> str:
    return f"""
apiVersion: v1
kind: Secret
metadata: {{name: {secret}}}
type: kubernetes.io/basic-auth
stringData: {{username: {username}, password: {password}}}
---
apiVersion: {GROUP}/{VERSION}
kind: OrchestrationConnection
metadata: {{name: {name}}}
spec:
  url: {url}
  auth: {{basic: {{secretRef: {{name: {secret}}}}}}}
  probeInterval: 10s
  timeout: 5s
"""


def webhook_yaml(
    name: str, *, connection: str = "site", url: str = "https://hooks.example/in", **spec: Any
) -> str:
    lines = [f"  {key}: {value}" for key, value in spec.items()]
    target = "" if "urlFrom" in spec else f"  url: {url}\n"
    return (
        f"apiVersion: {GROUP}/{VERSION}\nkind: OrchestrationWebhook\nmetadata: {{name: {name}}}\n"
        f"spec:\n  connectionRef: {{name: {connection}}}\n{target}" + "\n".join(lines) + "\n"
    )
