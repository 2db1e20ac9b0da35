"""In-memory fakes for the reconcile steps: a site whose client answers from a script, a site source,
Secrets, Connection and claim lookups, and builders of Connection and Webhook models.

Every fake records what was asked of it, so a row of a table can assert that a step did (or did not)
call the site.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from orchestration_operator import client
from orchestration_operator.api import conditions, connection, webhook
from orchestration_operator.reconcile import claims, lookups, sites
from orchestration_operator.reconcile import webhook as reconcile_webhook

NOW = datetime.datetime(2025, 5, 1, 12, 0, 0, tzinfo=datetime.UTC)
NAMESPACE = "team"

SERVICES = [
    client.Service(id="eca::send_welcome_email", label="Send welcome email"),
    client.Service(id="tool::entity:load", label="Load entity"),
]


class FakeClient:
    """Answers list/register/unregister from scripted outcomes (a value or an exception to raise)."""

    def __init__(self) -> None:
        self.services: list[client.Service] | BaseException = list(SERVICES)
        self.register_error: BaseException | None = None
        self.unregister_error: BaseException | None = None
        self.calls: list[tuple[str, ...]] = []

    async def list_services(self) -> list[client.Service]:
        self.calls.append(("list",))
        if isinstance(self.services, BaseException):
            raise self.services
        return list(self.services)

    async def register_webhook(self, webhook_id: str, url: str) -> str:
        self.calls.append(("register", webhook_id, url))
        if self.register_error is not None:
            raise self.register_error
        return client.webhook_key(webhook_id)

    async def unregister_webhook(self, webhook_id: str) -> str:
        self.calls.append(("unregister", webhook_id))
        if self.unregister_error is not None:
            raise self.unregister_error
        return client.webhook_key(webhook_id)


@dataclasses.dataclass
class FakeConfig:
    fingerprint: str = "fp-1"


class FakeSite:
    def __init__(self) -> None:
        self.client = FakeClient()
        self.config = FakeConfig()
        self.remembered: list[client.Service] | None = None

    async def refresh_catalog(self) -> Any:
        services = await self.client.list_services()
        self.remembered = list(services)
        return sites.Catalog(services={s.id: s for s in services}, fetched_at=0.0)


class FakeSites:
    """A site source: one FakeSite per connection name; ``error`` makes ``site_for`` fail."""

    def __init__(self) -> None:
        self.by_name: dict[str, FakeSite] = {}
        self.error: sites.SiteConfigError | None = None
        self.cached: dict[sites.SiteKey, FakeSite] = {}
        self.asked: list[tuple[str, bool]] = []

    def site(self, name: str = "site") -> FakeSite:
        return self.by_name.setdefault(name, FakeSite())

    async def site_for(self, conn: connection.OrchestrationConnection, *, fresh: bool = False) -> Any:
        self.asked.append((conn.metadata.name or "", fresh))
        if self.error is not None:
            raise self.error
        return self.site(conn.metadata.name or "")

    def peek(self, key: sites.SiteKey) -> Any:
        return self.cached.get(key)

    def calls(self, name: str = "site") -> list[tuple[str, ...]]:
        return self.site(name).client.calls


class FakeSecrets:
    def __init__(self, secrets: dict[str, dict[str, bytes]] | None = None) -> None:
        self.secrets = secrets or {}
        self.reads = 0

    async def read_secret(self, *, namespace: str, name: str) -> Mapping[str, bytes] | None:
        assert namespace == NAMESPACE
        self.reads += 1
        return self.secrets.get(name)


def ready_condition(reason: str = conditions.CONNECTED, status: str = "True") -> dict[str, Any]:
    return {
        "type": "Ready",
        "status": status,
        "reason": reason,
        "message": "",
        "lastTransitionTime": "2025-05-01T11:00:00Z",
        "observedGeneration": 1,
    }


def make_connection(
    name: str = "site",
    *,
    ready: str | None = "True",
    reason: str = conditions.CONNECTED,
    generation: int = 1,
    uid: str | None = None,
    status: dict[str, Any] | None = None,
    spec: dict[str, Any] | None = None,
) -> connection.OrchestrationConnection:
    body_status = dict(status or {})
    if ready is not None and "conditions" not in body_status:
        body_status["conditions"] = [ready_condition(reason, ready)]
    return connection.OrchestrationConnection.model_validate(
        {
            "metadata": {
                "name": name,
                "namespace": NAMESPACE,
                "generation": generation,
                "uid": uid or f"uid-{name}",
            },
            "spec": {
                "url": "https://drupal.example",
                "auth": {"basic": {"secretRef": {"name": "creds"}}},
                "probeInterval": "1m",
                **(spec or {}),
            },
            "status": body_status,
        }
    )


class FakeConnections:
    def __init__(self, *conns: connection.OrchestrationConnection) -> None:
        self.conns = {conn.metadata.name: conn for conn in conns}

    def get(self, namespace: str, name: str) -> connection.OrchestrationConnection | lookups.Unavailable:
        assert namespace == NAMESPACE
        conn = self.conns.get(name)
        if conn is None:
            return lookups.Unavailable(
                conditions.CONNECTION_NOT_FOUND,
                f'OrchestrationConnection "{name}" not found in namespace "{namespace}"',
            )
        return conn


class FakeClaims:
    def __init__(self) -> None:
        self.by_key: dict[claims.ClaimKey, list[claims.Claim]] = {}

    def add(self, body: Mapping[str, Any]) -> None:
        for key, claim in claims.claims_of(body).items():
            self.by_key.setdefault(key, []).append(claim)

    def claimants(self, key: claims.ClaimKey) -> Sequence[claims.Claim]:
        return list(self.by_key.get(key, []))


def webhook_body(
    name: str = "hook",
    *,
    uid: str | None = None,
    created: str = "2025-05-01T10:00:00Z",
    generation: int = 1,
    deleting: str | None = None,
    status: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    spec.setdefault("connectionRef", {"name": "site"})
    if "urlFrom" not in spec:
        spec.setdefault("url", "https://hooks.example/in")
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": NAMESPACE,
        "uid": uid or f"uid-{name}",
        "generation": generation,
        "creationTimestamp": created,
    }
    if deleting is not None:
        metadata["deletionTimestamp"] = deleting
    return {"metadata": metadata, "spec": spec, "status": status or {}}


def make_webhook(body: Mapping[str, Any]) -> webhook.OrchestrationWebhook:
    return webhook.OrchestrationWebhook.model_validate(body)


def registered_status(
    key: str = "hook",
    *,
    connection_name: str = "site",
    url: str = "https://hooks.example/in",
    at: str = "2025-05-01T11:59:00Z",
    generation: int = 1,
) -> dict[str, Any]:
    return {
        "observedGeneration": generation,
        "registeredKey": key,
        "registeredConnection": connection_name,
        "urlDigest": reconcile_webhook.url_digest(url),
        "lastRegisteredTime": at,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": conditions.REGISTERED,
                "message": "",
                "lastTransitionTime": "2025-05-01T11:00:00Z",
                "observedGeneration": generation,
            }
        ],
    }


def triples(found: Sequence[conditions.Condition]) -> set[tuple[str, str, str]]:
    """The conditions as exact ``(type, status, reason)`` triples."""
    return {(c.type, c.status, c.reason) for c in found}
