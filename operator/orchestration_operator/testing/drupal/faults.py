"""Faults on demand: what a slow PHP, a proxy or a flaky network does to requests of the emulated site.

A ``Fault`` matches requests by route name (``"*"`` for any) and, optionally, by top-level body fields
(``service_id="eca::x"`` is ``match={"id": "eca::x"}``); it applies to the next ``times`` matching
requests (``None``: every one). Its ``stage`` says where it strikes:

- ``"before"``: the request never reaches Drupal (a proxy answers, the connection drops);
- ``"after"``: the module ran (a service executed!) and then its answer is delayed, replaced or lost,
  which is how a client meets an execute whose outcome is unknown.

Kinds: ``latency`` (wait ``latency_ms``, then go on; several add up), ``http_500`` (Drupal's generic
500 page), ``http_502`` / ``http_504`` (nginx pages), ``http_429`` (with ``Retry-After``), ``hang``
(no answer until the client gives up; closed after ``hang_seconds`` or at shutdown),
``malformed_json`` (a PHP warning printed before the JSON, still ``application/json``; after only),
``truncated`` (``Content-Length`` of the full body, half of it sent, then the connection closes; after
only), ``reset`` (TCP reset without an answer), ``close`` (clean close without an answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import socket
import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from aiohttp import web

from orchestration_operator.testing.drupal import errors, pages

FaultKind = Literal[
    "latency",
    "http_500",
    "http_502",
    "http_504",
    "http_429",
    "hang",
    "malformed_json",
    "truncated",
    "reset",
    "close",
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
AFTER_ONLY = frozenset({"malformed_json", "truncated"})
FaultStage = Literal["before", "after"]

PHP_WARNING = (
    b'<br />\n<b>Warning</b>:  Undefined array key "config" in '
    b"<b>/var/www/html/web/modules/contrib/orchestration/src/Controller/Connect.php</b>"
    b" on line <b>57</b><br />\n"
)


@dataclass
class Fault:
    """One fault specification (see the module docstring). ``id`` and ``hits`` are set by the emulator."""

    kind: FaultKind
    route: str = "*"
    match: dict[str, Any] = field(default_factory=dict)
    times: int | None = 1
    stage: FaultStage | None = None
    latency_ms: int = 1000
    retry_after: int | str = 1
    hang_seconds: float = 300.0
    id: int = 0
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise errors.FaultError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if self.stage is None:
            self.stage = "after" if self.kind in AFTER_ONLY else "before"
        if self.stage not in ("before", "after"):
            raise errors.FaultError(f"fault stage must be 'before' or 'after', not {self.stage!r}")
        if self.kind in AFTER_ONLY and self.stage != "after":
            raise errors.FaultError(f"a {self.kind} fault damages a real answer: its stage is 'after'")
        if self.times is not None and (not isinstance(self.times, int) or self.times < 1):
            raise errors.FaultError("times must be a positive integer, or None for every request")
        if isinstance(self.match, Mapping):
            self.match = dict(self.match)
        if not isinstance(self.match, dict):
            raise errors.FaultError("match must be a mapping of body fields to values")
        if self.latency_ms < 0 or self.hang_seconds < 0:
            raise errors.FaultError("latency_ms and hang_seconds must not be negative")

    @classmethod
    def from_data(cls, data: object) -> Fault:
        if not isinstance(data, dict):
            raise errors.FaultError("a fault is a JSON object")
        data = dict(data)
        service_id = data.pop("service_id", None)
        data.pop("id", None)
        data.pop("hits", None)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise errors.FaultError(f"unknown fault fields: {sorted(unknown)}")
        if service_id is not None:
            data["match"] = {**(data.get("match") or {}), "id": service_id}
        try:
            return cls(**data)
        except TypeError as exc:
            raise errors.FaultError(f"invalid fault: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        """Rebuild a fault read back from the control API (keeps ``id`` and ``hits``)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})

    def matches(self, route: str | None, body: Any) -> bool:
        if self.route != "*" and self.route != route:
            return False
        if not self.match:
            return True
        return isinstance(body, dict) and all(key in body and body[key] == v for key, v in self.match.items())


class FaultSet:
    """The active faults, in the order they were added (thread-safe)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            fault.id = next(self._ids)
            self._faults.append(fault)
            return fault

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [fault for fault in self._faults if fault.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> int:
        with self._lock:
            count = len(self._faults)
            self._faults.clear()
            return count

    def snapshot(self) -> list[Fault]:
        with self._lock:
            return [dataclasses.replace(fault) for fault in self._faults]

    def take(self, route: str | None, body: Any, *, stage: FaultStage) -> list[Fault]:
        """Consume the faults that strike this request at ``stage``: all latencies, then at most one other."""
        taken: list[Fault] = []
        with self._lock:
            for fault in list(self._faults):
                if fault.stage != stage or not fault.matches(route, body):
                    continue
                if fault.kind != "latency" and any(f.kind != "latency" for f in taken):
                    continue
                fault.hits += 1
                taken.append(dataclasses.replace(fault))
                if fault.times is not None and fault.hits >= fault.times:
                    self._faults.remove(fault)
        return taken


class Dropped(Exception):
    """The fault took over the connection: no regular answer must be sent."""

    def __init__(self, response: web.StreamResponse | None = None, *, status: int | None = None) -> None:
        super().__init__("connection taken over by a fault")
        self.response = response
        self.status = status


def _reset(request: web.BaseRequest) -> None:
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # SO_LINGER with a zero timeout makes close() send a RST instead of a FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _close(request: web.BaseRequest) -> None:
    if request.transport is not None:
        request.transport.close()


async def interruptible_sleep(seconds: float, closing: asyncio.Event) -> None:
    """Sleep ``seconds`` or until the emulator shuts down, whichever comes first."""
    if seconds <= 0:
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(closing.wait(), timeout=seconds)


async def strike(
    fault: Fault,
    request: web.BaseRequest,
    *,
    closing: asyncio.Event,
    site: str,
    response: web.Response | None = None,
) -> web.StreamResponse | None:
    """Apply ``fault``: return the answer to send instead, ``None`` to go on, or raise ``Dropped``."""
    kind = fault.kind
    if kind == "latency":
        await interruptible_sleep(fault.latency_ms / 1000, closing)
        return None
    if kind == "http_500":
        return web.Response(status=500, text=pages.unexpected_error(site=site), content_type="text/html")
    if kind in ("http_502", "http_504"):
        code, reason = (502, "Bad Gateway") if kind == "http_502" else (504, "Gateway Time-out")
        return web.Response(status=code, text=pages.proxy_error(code, reason), content_type="text/html")
    if kind == "http_429":
        return web.Response(
            status=429,
            text=pages.proxy_error(429, "Too Many Requests"),
            content_type="text/html",
            headers={"Retry-After": str(fault.retry_after)},
        )
    if kind == "hang":
        await interruptible_sleep(fault.hang_seconds, closing)
        _close(request)
        raise Dropped()
    if kind == "reset":
        _reset(request)
        raise Dropped()
    if kind == "close":
        _close(request)
        raise Dropped()
    assert response is not None, f"{kind} faults need the real answer"
    body = response.body if isinstance(response.body, bytes) else b""
    if kind == "malformed_json":
        return web.Response(
            status=response.status, body=PHP_WARNING + body, headers={"Content-Type": "application/json"}
        )
    # truncated: promise the whole body, send half of it, hang up.
    partial = body[: len(body) // 2]
    stream = web.StreamResponse(status=response.status, headers={"Content-Type": response.content_type})
    stream.content_length = max(len(body), 1)
    await stream.prepare(request)
    await stream.write(partial)
    _close(request)
    raise Dropped(stream, status=response.status)
