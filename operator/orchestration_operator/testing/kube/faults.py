"""Fault injection for tests: failing chosen requests, latency, dropped watches, compacted history.

``Faults`` is handed to ``KubeSandbox`` (or created by it) and can be changed while it runs:

    faults.fail(429, verb="patch", resource="servicerun", times=2, retry_after=1)
    faults.fail(500, method="POST", path=r"/events$")
    faults.delay(0.2, verb="watch")
    faults.close_watches(resource="servicerun")   # streams end, clients reconnect from their last RV
    faults.compact()                              # every RV handed out so far is now too old: 410

Request rules match on any of ``method``, ``path`` (a regex searched in the URL path), ``verb``,
``group``, ``resource`` (plural), ``subresource``, ``namespace`` and ``name``; each fires ``times`` times
(``None``: until removed). ``server`` consults them before authentication.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from orchestration_operator.testing.kube import auth, errors, store

_ERRORS: dict[int, type[errors.ApiError]] = {
    400: errors.BadRequest,
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.Conflict,
    410: errors.Gone,
    422: errors.Invalid,
    429: errors.TooManyRequests,
    500: errors.InternalError,
    503: errors.ServiceUnavailable,
}


@dataclasses.dataclass
class Rule:
    """Which requests a fault applies to, and how many more times."""

    method: str | None = None
    path: str | None = None
    verb: str | None = None
    group: str | None = None
    resource: str | None = None
    subresource: str | None = None
    namespace: str | None = None
    name: str | None = None
    times: int | None = 1
    hits: int = 0

    def matches(self, method: str, path: str, attrs: auth.Attributes | None) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path is not None and not re.search(self.path, path):
            return False
        for field in ("verb", "group", "resource", "subresource", "namespace", "name"):
            wanted = getattr(self, field)
            if wanted is not None and (attrs is None or getattr(attrs, field) != wanted):
                return False
        return True


@dataclasses.dataclass
class Failure(Rule):
    status: int = 500
    message: str | None = None
    retry_after: int | None = None

    def error(self) -> errors.ApiError:
        cls = _ERRORS.get(self.status)
        message = self.message or f"injected fault: HTTP {self.status}"
        headers = {}
        details: dict[str, Any] | None = None
        if self.status == 429:
            headers["Retry-After"] = str(self.retry_after if self.retry_after is not None else 1)
            details = {"retryAfterSeconds": self.retry_after if self.retry_after is not None else 1}
        if cls is None:
            error = errors.ApiError(message, details=details, headers=headers)
            error.code = self.status
            return error
        return cls(message, details=details, headers=headers)


@dataclasses.dataclass
class Delay(Rule):
    seconds: float = 0.0


class Faults:
    """The faults currently armed; thread-safe enough for tests (plain list appends and reads)."""

    def __init__(self) -> None:
        self.failures: list[Failure] = []
        self.delays: list[Delay] = []
        self._store: store.Store | None = None

    def bind(self, db: store.Store) -> None:
        self._store = db

    def fail(
        self,
        status: int,
        *,
        times: int | None = 1,
        message: str | None = None,
        retry_after: int | None = None,
        **match: Any,
    ) -> Failure:
        """Answer ``status`` to the next ``times`` matching requests."""
        rule = Failure(times=times, status=status, message=message, retry_after=retry_after, **match)
        self.failures.append(rule)
        return rule

    def delay(self, seconds: float, *, times: int | None = None, **match: Any) -> Delay:
        """Add ``seconds`` of latency to matching requests (all by default)."""
        rule = Delay(times=times, seconds=seconds, **match)
        self.delays.append(rule)
        return rule

    def clear(self) -> None:
        self.failures.clear()
        self.delays.clear()

    def failure_for(self, method: str, path: str, attrs: auth.Attributes | None) -> errors.ApiError | None:
        for rule in self.failures:
            if rule.matches(method, path, attrs):
                rule.hits += 1
                return rule.error()
        return None

    def latency_for(self, method: str, path: str, attrs: auth.Attributes | None) -> float:
        total = 0.0
        for rule in self.delays:
            if rule.matches(method, path, attrs):
                rule.hits += 1
                total += rule.seconds
        return total

    def close_watches(self, *, resource: str | None = None, group: str | None = None) -> int:
        """End the open watch streams (of one resource, or all); returns how many were closed.

        Call on the sandbox's loop (``KubeSandbox.close_watches`` does that from any thread).
        """
        if self._store is None:
            return 0
        closed = 0
        for col in self._store.collections():
            if (group is not None and col.storage[0] != group) or (
                resource is not None and col.storage[1] != resource
            ):
                continue
            for watcher in tuple(col.watchers):
                watcher.close()
                closed += 1
        return closed

    def compact(self) -> int:
        """Compact the history: resuming from any resourceVersion handed out so far gets 410."""
        if self._store is None:
            return 0
        return self._store.compact()
