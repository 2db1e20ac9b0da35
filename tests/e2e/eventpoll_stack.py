"""What the EventPoll end-to-end tests add to the shared stack (``conftest.py``).

- :class:`Receiver`: a small aiohttp server recording every CloudEvent POSTed to it, per path, and
  answering per path: accept (202), fail (503), or block (hold the request until :meth:`release`);
- :class:`Polls`: EventPolls of one namespace as the tests look at them (status, Ready, Events, the
  emulator's poll count, ConfigMaps), and the manifests they apply;
- :class:`OwnStack`: a sandbox, an emulator and an operator of their own, for the tests that kill the
  operator (the session's operator serves every other module).

Everything polls with deadlines; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import pathlib
import threading
from collections.abc import Iterator
from typing import Any, Literal

from aiohttp import web

from conftest import GROUP, ROOT, VERSION, condition, eventually
from orchestration_operator.testing import background, stack
from orchestration_operator.testing.drupal import threaded
from orchestration_operator.testing.kube import kubectl as kubectl_module
from orchestration_operator.testing.kube import process, server

Mode = Literal["accept", "fail", "block"]
PLURAL = "eventpolls"


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
            self.release()
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
            if gate is not None:
                gate.set()

        self._loop.call(release())

    def deliveries(self, path: str, *, accepted: bool | None = None) -> list[Delivery]:
        with self._lock:
            found = [d for d in self._deliveries if d.path == path]
        if accepted is not None:
            found = [d for d in found if (200 <= d.status < 300) == accepted]
        return found


@contextlib.contextmanager
def running_receiver() -> Iterator[Receiver]:
    with background.BackgroundLoop(name="cloudevents-receiver") as loop:
        receiver = Receiver(loop)
        receiver.start()
        try:
            yield receiver
        finally:
            receiver.stop()


def http_sink(name: str, url: str, **fields: Any) -> dict[str, Any]:
    """An HTTP sink that gives up on an event after one try (the next cycle tries again)."""
    retry = {"maxAttempts": 1, "backoff": {"initialInterval": "100ms", "maxInterval": "200ms"}}
    return {"name": name, "http": {"url": url, "timeout": "5s", "retry": retry, **fields}}


@dataclasses.dataclass
class Polls:
    """EventPolls of one namespace, as a person (and kubectl) sees them."""

    sandbox: server.KubeSandbox
    emulator: threaded.ThreadedEmulator
    kubectl: kubectl_module.Kubectl
    namespace: str
    receiver: Receiver

    def apply(self, name: str, *, poll: str, mode: str = "timestamp", **spec: Any) -> None:
        """Apply an EventPoll of Connection ``site`` (interval 1 s unless ``spec`` says otherwise)."""
        manifest = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "EventPoll",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": {"connectionRef": {"name": "site"}, "name": poll, "mode": mode, "interval": "1s", **spec},
        }
        self.kubectl.apply(manifest)

    def get(self, name: str) -> dict[str, Any]:
        found = self.sandbox.get_object(GROUP, VERSION, PLURAL, self.namespace, name)
        assert found is not None, f"eventpoll {name} not found"
        return found

    def status(self, name: str) -> dict[str, Any]:
        status: dict[str, Any] = self.get(name).get("status") or {}
        return status

    def ready(self, name: str) -> tuple[str | None, str | None]:
        """(status, reason) of the Ready condition."""
        found = condition(self.get(name))
        return found.get("status"), found.get("reason")

    def wait_ready(self, name: str, status: str, reason: str, *, timeout: float = 20.0) -> dict[str, Any]:
        eventually(
            lambda: self.ready(name) == (status, reason),
            timeout=timeout,
            what=f"{name} Ready={status} {reason}",
        )
        return self.status(name)

    def wait_status(self, name: str, what: str, **fields: Any) -> dict[str, Any]:
        """Wait until the status has these field values; return it."""

        def probe() -> dict[str, Any] | None:
            status = self.status(name)
            return status if all(status.get(k) == v for k, v in fields.items()) else None

        return eventually(probe, timeout=30, what=what)

    def polls(self, poll_name: str) -> int:
        return len(self.emulator.calls("poll", name=poll_name))

    def events_of(self, name: str) -> list[tuple[str, str]]:
        return [
            (e["type"], e["reason"])
            for e in self.sandbox.list_objects("", "v1", "events", self.namespace)
            if e["involvedObject"]["name"] == name and e["involvedObject"]["kind"] == "EventPoll"
        ]

    def wait_event(self, name: str, type_: str, reason: str) -> None:
        eventually(
            lambda: (type_, reason) in self.events_of(name), timeout=10, what=f"Event {reason} on {name}"
        )

    def configmap(self, name: str) -> dict[str, Any] | None:
        return self.sandbox.get_object("", "v1", "configmaps", self.namespace, name)


class OwnStack:
    """A sandbox, an emulator (demo users), a receiver and an operator that tests may kill and restart."""

    def __init__(self, state: pathlib.Path, loop: background.BackgroundLoop, receiver: Receiver) -> None:
        self.state = state
        self.sandbox = server.KubeSandbox(record_requests=10_000)
        loop.call(self.sandbox.start())
        self._loop = loop
        self.emulator = threaded.ThreadedEmulator.start(loop=loop)
        self.kubeconfig = self.sandbox.write_kubeconfig(state / "kubeconfig")
        self.kubectl = kubectl_module.Kubectl(self.kubeconfig, cache_dir=state / "kubectl-cache")
        self.operator: process.LoggedProcess | None = None
        self.starts = 0
        self.polls = Polls(self.sandbox, self.emulator, self.kubectl, "default", receiver)

    def set_up(self) -> None:
        self.kubectl("apply", "-f", str(ROOT / "crds"))
        self.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=30s")
        self.start_operator()
        self.kubectl.apply(
            [
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "creds", "namespace": "default"},
                    "type": "kubernetes.io/basic-auth",
                    "stringData": {"username": "admin", "password": "admin"},
                },
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "OrchestrationConnection",
                    "metadata": {"name": "site", "namespace": "default"},
                    "spec": {"url": self.emulator.url, "auth": {"basic": {"secretRef": {"name": "creds"}}}},
                },
            ]
        )
        self.kubectl("wait", "--for=condition=Ready", "oconn/site", "--timeout=30s")

    def start_operator(self) -> None:
        self.starts += 1  # a log of its own: an old "started" line must not count for the new process
        log = self.state / f"operator-{self.starts}.log"
        self.operator = stack.start_operator(kubeconfig=self.kubeconfig, log_path=log)

    def kill_operator(self) -> None:
        """SIGKILL: no cleanup at all."""
        assert self.operator is not None
        self.operator.popen.kill()
        self.operator.popen.wait(timeout=10)
        self.operator.stop()  # closes its log

    def close(self) -> None:
        if self.operator is not None:
            self.operator.stop()
        logs = "".join(p.read_text(errors="replace") for p in sorted(self.state.glob("operator-*.log")))
        print(f"--- operator logs ---\n{logs[-8000:]}")
        self.emulator.stop()
        self._loop.call(self.sandbox.stop())


def pretty(obj: Any) -> str:
    return json.dumps(obj, indent=1, sort_keys=True)
