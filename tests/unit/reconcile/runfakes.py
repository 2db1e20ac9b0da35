"""In-memory collaborators of ``reconcile.servicerun`` for table-driven tests."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json
from collections.abc import Mapping
from typing import Any

from orchestration_operator import client
from orchestration_operator.api import names
from orchestration_operator.reconcile import runstate
from orchestration_operator.reconcile import servicerun as reconcile

NOW = datetime.datetime(2025, 5, 1, 12, 0, 0, tzinfo=datetime.UTC)
UID = "0f6b1c1e-1111-2222-3333-444455556666"

CATALOG = [
    {
        "id": "eca::send_welcome_email",
        "label": "Send welcome email",
        "config": [
            {"key": "user_id", "label": "User ID", "description": "The numeric user ID.", "required": True},
            {"key": "subject", "label": "Subject", "required": False},
            {
                "key": "tone",
                "label": "Tone",
                "options": [{"key": "warm", "name": "Warm"}, {"key": "formal", "name": "Formal"}],
            },
            {"key": "count", "type": "integer"},
        ],
    },
    {"id": "eca::noop", "label": "No-op", "config": []},
]


def services(raw: list[dict[str, Any]] = CATALOG) -> dict[str, client.Service]:
    return {s["id"]: client.Service.model_validate(s) for s in raw}


def result(value: Any) -> client.ExecuteResult:
    return client.ExecuteResult(value=value, raw=json.dumps(value).encode())


@dataclasses.dataclass
class FakeCatalog:
    services: Mapping[str, client.Service]


@dataclasses.dataclass
class FakeConfig:
    max_concurrent_requests: int = 4


class FakeExecutor:
    """Answers execute calls from a list of outcomes (a result or an exception), one per call."""

    def __init__(self, *outcomes: client.ExecuteResult | BaseException, delay: float = 0.0) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[str, dict[str, Any], float | None]] = []
        self.delay = delay
        self.in_flight = 0
        self.peak = 0

    async def execute(
        self, service_id: str, config: Mapping[str, Any] | None = None, *, read_timeout: float | None = None
    ) -> client.ExecuteResult:
        self.calls.append((service_id, dict(config or {}), read_timeout))
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        finally:
            self.in_flight -= 1
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class FakeSite:
    def __init__(
        self,
        executor: FakeExecutor,
        *,
        catalog: Mapping[str, client.Service] | None = None,
        refreshed: Mapping[str, client.Service] | None = None,
        catalog_error: client.OrchestrationError | None = None,
        limit: int = 4,
    ) -> None:
        self.key = ("team", "site")
        self.config = FakeConfig(limit)
        self.client = executor
        self._catalog = services() if catalog is None else catalog
        self._refreshed = refreshed
        self._error = catalog_error
        self.catalog_calls: list[float | None] = []

    async def catalog(self, *, max_age: float | None = None) -> FakeCatalog:
        self.catalog_calls.append(max_age)
        if self._error is not None:
            raise self._error
        if max_age is not None and self._refreshed is not None:
            return FakeCatalog(self._refreshed)
        return FakeCatalog(self._catalog)


class FakeSources:
    def __init__(
        self,
        *,
        secrets: dict[str, dict[str, bytes]] | None = None,
        configmaps: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.secrets = secrets or {}
        self.configmaps = configmaps or {}
        self.reads: list[tuple[str, str]] = []

    async def read_secret(self, *, namespace: str, name: str) -> Mapping[str, bytes] | None:
        assert namespace == "team"
        self.reads.append(("Secret", name))
        return self.secrets.get(name)

    async def get_configmap(self, *, namespace: str, name: str) -> Mapping[str, str] | None:
        assert namespace == "team"
        self.reads.append(("ConfigMap", name))
        return self.configmaps.get(name)


class FakeOwned:
    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.objects: dict[tuple[str, str], tuple[Mapping[str, Any], Mapping[str, Any]]] = {}

    async def get_configmap(self, *, namespace: str, name: str) -> Mapping[str, str] | None:
        return None

    async def put_configmap(
        self, *, namespace: str, name: str, data: Mapping[str, str], owner: Mapping[str, Any]
    ) -> None:
        if self.fail:
            raise RuntimeError("the API server said no")
        self.objects[("ConfigMap", name)] = (dict(data), dict(owner))

    async def put_secret(
        self, *, namespace: str, name: str, data: Mapping[str, bytes], owner: Mapping[str, Any]
    ) -> None:
        if self.fail:
            raise RuntimeError("the API server said no")
        self.objects[("Secret", name)] = (dict(data), dict(owner))


class FakeWriter:
    def __init__(self, *, error: BaseException | None = None) -> None:
        self.error = error
        self.writes: list[tuple[dict[str, Any], str | None]] = []

    async def write_start(self, status: Mapping[str, Any], *, resource_version: str | None) -> None:
        if self.error is not None:
            raise self.error
        self.writes.append((dict(status), resource_version))


@dataclasses.dataclass
class World:
    """One test's collaborators, and the Deps built from them."""

    executor: FakeExecutor
    site: FakeSite | None = None
    unavailable: reconcile.Unavailable | None = None
    sources: FakeSources = dataclasses.field(default_factory=FakeSources)
    owned: FakeOwned = dataclasses.field(default_factory=FakeOwned)
    writer: FakeWriter = dataclasses.field(default_factory=FakeWriter)
    ledger: runstate.Ledger = dataclasses.field(default_factory=runstate.Ledger)
    gates: runstate.Gates = dataclasses.field(default_factory=runstate.Gates)
    connections_asked: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        if self.site is None:
            self.site = FakeSite(self.executor)

    async def _site(self, name: str) -> reconcile.Site:
        self.connections_asked.append(name)
        if self.unavailable is not None:
            raise self.unavailable
        assert self.site is not None
        return self.site

    def deps(self) -> reconcile.Deps:
        return reconcile.Deps(
            site=self._site,
            sources=self.sources,
            owned=self.owned,
            writer=self.writer,
            ledger=self.ledger,
            gates=self.gates,
            clock=lambda: NOW,
            monotonic=lambda: 100.0,
            random=lambda: 0.5,
        )


def make_run(
    *,
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    rerun: str | None = None,
    kopf_retry: int = 0,
    name: str = "welcome",
    **spec_fields: Any,
) -> reconcile.Run:
    full_spec: dict[str, Any] = {
        "connectionRef": {"name": "site"},
        "serviceId": "eca::send_welcome_email",
        "config": {"user_id": "42"},
    }
    full_spec.update(spec or {})
    full_spec.update(spec_fields)
    return reconcile.Run(
        namespace="team",
        name=name,
        uid=UID,
        generation=1,
        resource_version="17",
        spec=full_spec,
        status=status or {},
        annotations={} if rerun is None else {names.RERUN_ANNOTATION: rerun},
        retry=kopf_retry,
    )


def conds(status: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The (type, status, reason) triples of a status patch's conditions, by type (order is no API)."""
    return sorted((c["type"], c["status"], c["reason"]) for c in status.get("conditions", []))


def message(status: Mapping[str, Any], type_: str = "Ready") -> str:
    return str(next(c["message"] for c in status["conditions"] if c["type"] == type_))
