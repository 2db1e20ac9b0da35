"""Who owns a webhook key: claims of OrchestrationWebhooks on ``(namespace, connection, key)``.

Drupal stores a webhook under ``Html::getId(webhookId)`` and silently overwrites an existing key, so
two webhooks of one connection whose ids normalize to the same key (``a_b``, ``a-b``, ``A__B``) would
overwrite each other's URL at every resync. Instead, every webhook *claims* keys, and only the owner
of a key ever registers or unregisters it:

* the key its spec asks for (``wanted``; only when the spec is valid), and
* the key its status says it registered (``held``), until it has unregistered it: a webhook moving to
  another key (or connection) keeps its old key until the old registration is gone, so that nobody
  registers the old key just before it is unregistered.

The owner of a key is the **oldest** claimant, by ``metadata.creationTimestamp`` then name: stable,
the same answer in every replica, and never the newcomer. Every other claimant is refused with
``KeyConflict`` and registers nothing.

``handlers/webhook.py`` keeps the claims of every webhook in a kopf index (:func:`claims_of` is the
index function) and publishes a wake-up on a key's topic when its claimants change.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping
from typing import Any

import pydantic

from orchestration_operator import client
from orchestration_operator.api import durations, webhook

ClaimKey = tuple[str, str, str]
"""(namespace, connection name, Drupal key)."""

_FAR_FUTURE = datetime.datetime.max.replace(tzinfo=datetime.UTC)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Claim:
    """One webhook's claim on one key."""

    name: str
    uid: str
    created: datetime.datetime | None
    wanted: bool = False
    """Its spec asks for this key."""
    held: bool = False
    """Its status says it registered this key."""
    release_deadline: datetime.datetime | None = None
    """Set while it is being deleted with ``deletionPolicy: Delete`` and holds the key: until when it
    tries to unregister (``deletionTimestamp + unregisterTimeout``). A Connection being deleted waits
    for such claims, so that deleting a namespace unregisters its webhooks."""

    @property
    def order(self) -> tuple[datetime.datetime, str]:
        return (self.created or _FAR_FUTURE, self.name)


def owner(claims: Iterable[Claim]) -> Claim | None:
    """The claim that owns the key: the oldest (creationTimestamp, then name)."""
    return min(claims, key=lambda claim: claim.order, default=None)


def _time(value: Any) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)
    return None


def claims_of(body: Mapping[str, Any]) -> dict[ClaimKey, Claim]:
    """Every claim of one OrchestrationWebhook object (a raw body as the API server sends it)."""
    metadata = body.get("metadata") or {}
    namespace, name = metadata.get("namespace") or "", metadata.get("name") or ""
    created = _time(metadata.get("creationTimestamp"))
    deleting = _time(metadata.get("deletionTimestamp"))
    common = {"name": name, "uid": metadata.get("uid") or "", "created": created}
    found: dict[ClaimKey, dict[str, Any]] = {}

    spec: webhook.OrchestrationWebhookSpec | None
    try:
        spec = webhook.OrchestrationWebhookSpec.model_validate(body.get("spec") or {})
    except pydantic.ValidationError:
        spec = None
    if spec is not None:
        key = client.webhook_key(spec.effective_webhook_id(name))
        if key:
            found[(namespace, spec.connection_ref.name, key)] = {**common, "wanted": True}

    status = body.get("status") or {}
    held_key, held_connection = status.get("registeredKey"), status.get("registeredConnection")
    if isinstance(held_key, str) and held_key and isinstance(held_connection, str) and held_connection:
        deadline = None
        if deleting is not None and (spec is None or spec.deletion_policy == webhook.DeletionPolicy.DELETE):
            timeout = spec.unregister_timeout if spec is not None else "5m"
            deadline = deleting + durations.parse(timeout)
        claim = found.setdefault((namespace, held_connection, held_key), dict(common))
        claim.update(held=True, release_deadline=deadline)

    return {key: Claim(**values) for key, values in found.items()}


def releasing(
    claims: Iterable[tuple[ClaimKey, Iterable[Claim]]],
    *,
    namespace: str,
    connection: str,
    now: datetime.datetime,
) -> list[str]:
    """Names of the webhooks of ``connection`` that are being deleted and may still unregister a key
    (their ``release_deadline`` is in the future), sorted."""
    names = {
        claim.name
        for (claim_namespace, claim_connection, _), group in claims
        if (claim_namespace, claim_connection) == (namespace, connection)
        for claim in group
        if claim.release_deadline is not None and claim.release_deadline > now
    }
    return sorted(names)
