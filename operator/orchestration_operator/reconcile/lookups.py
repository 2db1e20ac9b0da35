"""What webhook passes look up in the operator's indexes: Connections, and who owns a webhook key.

``reconcile.webhook`` (the registration pass) and ``reconcile.unregistering`` (the old key, the
finalizer) ask these collaborators, which ``handlers/webhook.py`` implements over kopf indexes and the
site registry; the tests use in-memory fakes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

from orchestration_operator.api import base, conditions, connection
from orchestration_operator.reconcile import claims, failures, sites
from orchestration_operator.reconcile import connection as connection_reconcile


@dataclasses.dataclass(frozen=True)
class Unavailable:
    """The referenced Connection cannot be used: ``reason`` is ConnectionNotFound or ConnectionNotReady."""

    reason: str
    message: str


class Connections(Protocol):
    """Connections by name (the operator's index); readiness is not checked here."""

    def get(self, namespace: str, name: str) -> connection.OrchestrationConnection | Unavailable: ...


class Claims(Protocol):
    """The claimants of a key (the operator's index of webhook claims)."""

    def claimants(self, key: claims.ClaimKey) -> Sequence[claims.Claim]: ...


class SiteSource(connection_reconcile.SiteSource, Protocol):
    """The site registry (``reconcile.sites.SiteRegistry``)."""

    def peek(self, key: sites.SiteKey) -> sites.Site | None:
        """The site's last client, if any (used on delete when its Secret is already gone)."""
        ...


def owner(metadata: base.ObjectMeta, key: claims.ClaimKey, index: Claims) -> claims.Claim | None:
    """The owner of ``key`` among the indexed claimants and this webhook (the index may lag behind)."""
    others = [claim for claim in index.claimants(key) if claim.uid != metadata.uid]
    this = claims.Claim(name=metadata.name or "", uid=metadata.uid or "", created=metadata.creation_timestamp)
    return claims.owner([*others, this])


def readiness(conn: connection.OrchestrationConnection | Unavailable) -> Unavailable | None:
    """Why the Connection cannot be used now (None when it is Ready for its current spec)."""
    if isinstance(conn, Unavailable):
        return conn
    if conn.metadata.deletion_timestamp is not None:
        return Unavailable(
            conditions.CONNECTION_NOT_READY,
            f'OrchestrationConnection "{conn.metadata.name}" is being deleted',
        )
    ready = conditions.find(conn.status.conditions, conditions.READY)
    current = ready is not None and ready.observed_generation in (None, conn.metadata.generation)
    if ready is not None and ready.status == conditions.TRUE and current:
        return None
    if ready is None:
        why = ": it has not been probed yet"
    elif not current:
        why = ": its new spec has not been probed yet"
    else:
        why = f": {ready.reason}: {ready.message}"
    return Unavailable(
        conditions.CONNECTION_NOT_READY, f'OrchestrationConnection "{conn.metadata.name}" is not Ready{why}'
    )


def refused(conn: connection.OrchestrationConnection) -> bool:
    """The site refused the Connection's credentials at its last probe (do not send them again)."""
    ready = conditions.find(conn.status.conditions, conditions.READY)
    return ready is not None and ready.reason in failures.AUTH_REASONS
