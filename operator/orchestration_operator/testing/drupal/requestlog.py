"""What the emulated site was asked, how often and with what: the evidence tests assert on.

Every request to the emulated site (not to the control API) gets a ``RequestRecord`` when it arrives;
its ``status`` is filled in when the answer leaves (``None`` if the connection was dropped or hung).
Counters are exact and unbounded by the log's size limit: ``execute_count`` counts how many times a
service's behaviour actually ran, which differs from the number of execute requests whenever auth,
a fault before the service, or an unknown id stopped a request.

Reads from another thread are safe: mutations and snapshots happen under one lock, and ``calls``
returns copies.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

# Record fields that ``calls(**match)`` compares with the record itself; other keys match the body.
RECORD_MATCH_FIELDS = frozenset({"method", "status", "user", "auth", "fault"})


@dataclass
class RequestRecord:
    """One request to the emulated site."""

    seq: int
    time: float
    method: str
    path: str
    query: str
    route: str | None
    body: Any
    body_text: str
    headers: dict[str, str] = field(default_factory=dict)
    remote: str | None = None
    user: str | None = None
    auth: str | None = None
    status: int | None = None
    fault: str | None = None
    duration: float | None = None

    def matches(self, route: str | None, match: dict[str, Any]) -> bool:
        if route is not None and self.route != route:
            return False
        for key, expected in match.items():
            if key in RECORD_MATCH_FIELDS:
                if getattr(self, key) != expected:
                    return False
            elif not isinstance(self.body, dict) or key not in self.body or self.body[key] != expected:
                return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})


class RequestLog:
    """Bounded list of records plus exact counters per route and per executed service."""

    def __init__(self, *, limit: int = 100_000) -> None:
        self._records: collections.deque[RequestRecord] = collections.deque(maxlen=limit)
        self._routes: collections.Counter[str] = collections.Counter()
        self._executions: collections.Counter[str] = collections.Counter()
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def open(self, **fields: Any) -> RequestRecord:
        with self._lock:
            record = RequestRecord(seq=next(self._seq), **fields)
            self._records.append(record)
            self._routes[record.route or "-"] += 1
            return record

    def executed(self, service_id: str) -> int:
        """Count one run of ``service_id``'s behaviour; return the count so far."""
        with self._lock:
            self._executions[service_id] += 1
            return self._executions[service_id]

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return [copy.copy(record) for record in self._records]

    def calls(self, route: str | None = None, /, **match: Any) -> list[RequestRecord]:
        with self._lock:
            return [copy.copy(r) for r in self._records if r.matches(route, match)]

    def request_count(self, route: str | None = None) -> int:
        with self._lock:
            return sum(self._routes.values()) if route is None else self._routes[route]

    def execute_count(self, service_id: str) -> int:
        with self._lock:
            return self._executions[service_id]

    def counts(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {"requests": dict(self._routes), "executions": dict(self._executions)}

    def reset(self) -> int:
        with self._lock:
            cleared = len(self._records)
            self._records.clear()
            self._routes.clear()
            self._executions.clear()
            return cleared
