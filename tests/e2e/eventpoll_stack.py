"""The stack the EventPoll end-to-end tests run against, shared by one test module at a time.

- the Kubernetes API sandbox on a background loop, with the project's CRDs applied by the real kubectl;
- the Drupal emulator (poll items fed through its in-process API), with a basic-auth Connection to it;
- :class:`Receiver`: a small aiohttp server recording every CloudEvent POSTed to it, per path, and
  answering per path: accept (202), fail (503), or block (hold the request until :meth:`release`);
- the operator itself, as a process (``python -m orchestration_operator run``), which tests may
  SIGKILL and start again.

Everything polls with deadlines; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import pathlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal, TypeVar

from aiohttp import web

from orchestration_operator.testing import background
from orchestration_operator.testing.drupal import threaded
from orchestration_operator.testing.kube import kubectl as kubectl_module
from orchestration_operator.testing.kube import process, server

ROOT = pathlib.Path(__file__).resolve().parents[2]
GROUP, VERSION = "drupal-orchestration.io", "v1alpha1"
NAMESPACE = "default"
CONNECTION = "site"

T = TypeVar("T")
Mode = Literal["accept", "fail", "block"]


def wait_for(what: str, probe: Callable[[], T | None], *, timeout: float = 20.0, interval: float = 0.05) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {found!r}")
        time.sleep(interval)


@dataclasses.dataclass(frozen=True)
class Delivery:
    """One request the receiver got: its CloudEvent (headers folded in for binary mode) and answer."""

    path: str
    headers: dict[str, str]
    event: dict[str, Any]
    status: int


class Receiver:
    """Records CloudEvents per path; each path accepts, fails or blocks (see the module doc)."""

    def __init__(self, loop: background.BackgroundLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._modes: dict[str, Mode] = {}
        self._accept_first: dict[str, int] = {}
        self._blocked = 0
        self._release: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    def start(self) -> None:
        async def start() -> None:
            self._release = asyncio.Event()
            app = web.Application()
            app.router.add_post("/{path:.*}", self._handle)
            self._runner = web.AppRunner(app, shutdown_timeout=0.5)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.url = f"http://127.0.0.1:{port}"

        self._loop.call(start())

    def stop(self) -> None:
        if self._runner is not None:
            self._loop.call(self._runner.cleanup())

    async def _handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        if headers.get("content-type", "").startswith("application/cloudevents+json"):
            event = json.loads(body)
        else:
            event = {k[3:]: v for k, v in headers.items() if k.startswith("ce-")}
            event["data"] = json.loads(body) if body else None
        mode = self._modes.get(path, "accept")
        with self._lock:
            seen = sum(1 for d in self._deliveries if d.path == path)
        if mode == "block" and seen >= self._accept_first.get(path, 0):
            gate = self._release
            assert gate is not None
            with self._lock:
                self._blocked += 1
            await gate.wait()
        status = 503 if mode == "fail" else 202
        with self._lock:
            self._deliveries.append(Delivery(path, headers, event, status))
        return web.Response(status=status)

    def endpoint(self, path: str, mode: Mode = "accept", *, accept_first: int = 0) -> str:
        """The URL of ``path``, answering per ``mode`` (``block``: after ``accept_first`` accepted)."""
        self._modes[path] = mode
        self._accept_first[path] = accept_first
        return self.url + path

    def set_mode(self, path: str, mode: Mode) -> None:
        self._modes[path] = mode

    @property
    def blocked(self) -> int:
        with self._lock:
            return self._blocked

    def release(self) -> None:
        """Answer every request blocked so far (later ones block again, while their path blocks)."""

        async def release() -> None:
            gate, self._release = self._release, asyncio.Event()
            assert gate is not None
            gate.set()

        self._loop.call(release())

    def deliveries(self, path: str, *, accepted: bool | None = None) -> list[Delivery]:
        with self._lock:
            found = [d for d in self._deliveries if d.path == path]
        if accepted is not None:
            found = [d for d in found if (200 <= d.status < 300) == accepted]
        return found


class Operator:
    """``orchestration-operator run`` as a process against the sandbox; ``kill()`` is a SIGKILL."""

    def __init__(self, kubeconfig: pathlib.Path, log_dir: pathlib.Path) -> None:
        self.kubeconfig = kubeconfig
        self.log_dir = log_dir
        self.proc: process.KopfProcess | None = None
        self.starts = 0

    def start(self, sandbox: server.KubeSandbox) -> process.KopfProcess:
        self.starts += 1
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT / "operator"), env.get("PYTHONPATH", "")) if p
        )
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["PYTHONUNBUFFERED"] = "1"
        command = [
            sys.executable,
            "-m",
            "orchestration_operator",
            "run",
            "--standalone",
            "--namespace",
            NAMESPACE,
            "--health-port",
            "0",
            "--metrics-port",
            "0",
        ]
        self.proc = process.KopfProcess(
            command, env=env, log_path=self.log_dir / f"operator-{self.starts}.log", cwd=None
        )
        # Its startup handlers ran (a killed predecessor's watch may linger in the sandbox for a while,
        # so the watch count alone does not tell that this process is up).
        self.proc.wait_for_log(r"Activity 'create_eventpoll_state' succeeded", timeout=30)
        wait_for("a watch on EventPolls", lambda: sandbox.watch_count(resource="eventpolls") > 0, timeout=30)
        return self.proc

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.popen.kill()
        self.proc.popen.wait(timeout=10)
        self.proc.stop()  # closes the log

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def logs(self) -> str:
        return "".join(
            path.read_text(errors="replace") for path in sorted(self.log_dir.glob("operator-*.log"))
        )


@dataclasses.dataclass
class Stack:
    sandbox: server.KubeSandbox
    kubectl: kubectl_module.Kubectl
    emulator: threaded.ThreadedEmulator
    receiver: Receiver
    operator: Operator

    def eventpoll(self, name: str) -> dict[str, Any]:
        found = self.sandbox.get_object(GROUP, VERSION, "eventpolls", NAMESPACE, name)
        assert found is not None, f"eventpoll {name} not found"
        return found

    def status(self, name: str) -> dict[str, Any]:
        status: dict[str, Any] = self.eventpoll(name).get("status") or {}
        return status

    def ready(self, name: str) -> tuple[str | None, str | None]:
        """(status, reason) of the Ready condition."""
        for condition in self.status(name).get("conditions") or []:
            if condition["type"] == "Ready":
                return condition["status"], condition["reason"]
        return None, None

    def wait_ready(self, name: str, status: str, reason: str, *, timeout: float = 20.0) -> dict[str, Any]:
        wait_for(
            f"{name} Ready={status} ({reason})", lambda: self.ready(name) == (status, reason), timeout=timeout
        )
        return self.status(name)

    def polls(self, poll_name: str) -> int:
        return len(self.emulator.calls("poll", name=poll_name))

    def events_of(self, name: str) -> list[tuple[str, str]]:
        return [
            (e["type"], e["reason"])
            for e in self.sandbox.list_objects("", "v1", "events", NAMESPACE)
            if e["involvedObject"]["name"] == name and e["involvedObject"]["kind"] == "EventPoll"
        ]

    def wait_event(self, name: str, type_: str, reason: str) -> None:
        wait_for(
            f"Event {type_} {reason} on {name}", lambda: (type_, reason) in self.events_of(name), timeout=10
        )

    def configmap(self, name: str) -> dict[str, str]:
        found = self.sandbox.get_object("", "v1", "configmaps", NAMESPACE, name)
        return dict((found or {}).get("data") or {})


def eventpoll_manifest(name: str, *, poll: str, mode: str = "timestamp", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "EventPoll",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"connectionRef": {"name": CONNECTION}, "name": poll, "mode": mode, "interval": "1s", **spec},
    }


def http_sink(name: str, url: str, **fields: Any) -> dict[str, Any]:
    retry = {"maxAttempts": 1, "backoff": {"initialInterval": "100ms", "maxInterval": "200ms"}}
    return {"name": name, "http": {"url": url, "timeout": "5s", "retry": retry, **fields}}


def _connection_manifests(url: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "site-credentials", "namespace": NAMESPACE},
            "type": "kubernetes.io/basic-auth",
            "stringData": {"username": "admin", "password": "admin"},
        },
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "OrchestrationConnection",
            "metadata": {"name": CONNECTION, "namespace": NAMESPACE},
            "spec": {
                "url": url,
                "auth": {"basic": {"secretRef": {"name": "site-credentials"}}},
                "maxConcurrentRequests": 4,
            },
        },
    ]


def _wait_connection_ready(stack: Stack) -> None:
    """The operator's Connection handlers probe the emulator and say Ready."""
    stack.kubectl("wait", "--for=condition=Ready", f"orchestrationconnection/{CONNECTION}", "--timeout=30s")


@dataclasses.dataclass
class Infrastructure:
    sandbox: server.KubeSandbox
    kubeconfig: pathlib.Path
    kubectl: kubectl_module.Kubectl
    emulator: threaded.ThreadedEmulator
    receiver: Receiver


def infrastructure(tmp: pathlib.Path) -> Iterator[Infrastructure]:
    """Sandbox (CRDs applied), emulator, receiver and the Connection: everything but the operator."""
    if kubectl_module.find_binary() is None:
        import pytest

        pytest.skip("kubectl is not installed (set KUBECTL or put kubectl on PATH)")
    with background.BackgroundLoop(name="eventpoll-e2e") as loop:
        sandbox = server.KubeSandbox(record_requests=10_000)
        loop.call(sandbox.start())
        emulator = threaded.ThreadedEmulator.start(loop=loop)
        receiver = Receiver(loop)
        receiver.start()
        try:
            kubeconfig = sandbox.write_kubeconfig(tmp / "kubeconfig")
            kubectl = kubectl_module.Kubectl(kubeconfig, cache_dir=tmp / "kubectl-cache")
            kubectl("apply", "-f", str(ROOT / "crds"))
            kubectl("wait", "--for=condition=established", "--timeout=30s", "-f", str(ROOT / "crds"))
            kubectl.apply(_connection_manifests(emulator.url))
            yield Infrastructure(sandbox, kubeconfig, kubectl, emulator, receiver)
        finally:
            receiver.release()
            receiver.stop()
            emulator.stop()
            loop.call(sandbox.stop())


def stack_with_operator(infra: Infrastructure, log_dir: pathlib.Path) -> Iterator[Stack]:
    operator = Operator(infra.kubeconfig, log_dir)
    stack = Stack(infra.sandbox, infra.kubectl, infra.emulator, infra.receiver, operator)
    operator.start(infra.sandbox)
    try:
        _wait_connection_ready(stack)
        yield stack
    finally:
        operator.stop()
        print(f"--- operator log tail ---\n{operator.logs()[-8000:]}")
