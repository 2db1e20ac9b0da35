"""Unregistering a webhook's key: on delete (the finalizer) and when its key or Connection changed.

Only the owner of a key unregisters it (``reconcile.claims``): a webhook whose key now belongs to an
older one leaves it alone. Unregistering goes through the site's shared client, under the key itself
(``Html::getId(key) == key``, so Drupal deletes exactly that key whatever id registered it).

Bounded, so that deletion never hangs: ``unregisterAttempts`` tries within ``unregisterTimeout``
(counted from ``metadata.deletionTimestamp``), then the finalizer is released anyway with a Warning
event (``UnregisterAbandoned``; the key may remain on the site). While a Connection's credentials are
refused, nothing is sent (each try would count as a failed login towards Drupal's flood control).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any, Final

from orchestration_operator import client
from orchestration_operator.api import base, conditions, durations, webhook
from orchestration_operator.reconcile import events, failures, lookups, sites

MAX_UNREGISTER_DELAY: Final = 30.0
"""The longest pause between two attempts to unregister."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Attempt:
    """The outcome of one attempt to unregister a key."""

    done: bool
    failure: failures.Failure | None = None
    skipped: str = ""
    """Why nothing was called although the key is held (another webhook owns it now)."""


async def unregister(
    metadata: base.ObjectMeta,
    conn_name: str,
    key: str,
    *,
    connections: lookups.Connections,
    index: lookups.Claims,
    sites_: lookups.SiteSource,
    deleting: bool,
) -> Attempt:
    """Unregister ``key`` from ``conn_name``'s site if this webhook still owns it."""
    namespace = metadata.namespace or "default"
    owner = lookups.owner(metadata, (namespace, conn_name, key), index)
    if owner is not None and owner.uid != metadata.uid:
        return Attempt(
            done=True, skipped=f'the key "{key}" now belongs to OrchestrationWebhook "{owner.name}"'
        )
    conn = connections.get(namespace, conn_name)
    if isinstance(conn, lookups.Unavailable):
        return Attempt(done=False, failure=failures.Failure(conn.reason, conn.message, False))
    if not deleting or lookups.refused(conn):
        unavailable = lookups.readiness(conn)
        if unavailable is not None:
            # Not Ready: a call would fail anyway, and with refused credentials it would count as a
            # failed login towards Drupal's flood control.
            return Attempt(
                done=False, failure=failures.Failure(unavailable.reason, unavailable.message, False)
            )
    try:
        try:
            site = await sites_.site_for(conn)
        except sites.SiteConfigError:
            # Deleting a namespace deletes the Secret too: the last client still knows the credentials.
            cached = sites_.peek((namespace, conn_name))
            if cached is None:
                raise
            site = cached
        # Unregister under the key itself: Html::getId(key) == key, so Drupal deletes exactly this key
        # whatever webhookId registered it.
        await site.client.unregister_webhook(key)
    except sites.SiteConfigError as error:
        return Attempt(done=False, failure=failures.from_site_config_error(error))
    except client.OrchestrationError as error:
        return Attempt(
            done=False, failure=failures.from_client_error(error, fallback=conditions.REGISTRATION_FAILED)
        )
    return Attempt(done=True)


@dataclasses.dataclass(frozen=True)
class DeletionSettings:
    """What deleting needs from the spec, read leniently: a spec that no longer parses still releases."""

    policy: webhook.DeletionPolicy
    attempts: int
    timeout: datetime.timedelta

    @classmethod
    def of(cls, spec: webhook.OrchestrationWebhookSpec) -> DeletionSettings:
        return cls(spec.deletion_policy, spec.unregister_attempts, durations.parse(spec.unregister_timeout))

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> DeletionSettings:
        defaults = webhook.OrchestrationWebhookSpec.model_fields
        policy = (
            webhook.DeletionPolicy.ORPHAN
            if raw.get("deletionPolicy") == "Orphan"
            else webhook.DeletionPolicy.DELETE
        )
        attempts = raw.get("unregisterAttempts")
        if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 100:
            attempts = defaults["unregister_attempts"].default
        try:
            timeout = durations.parse(str(raw.get("unregisterTimeout")))
        except durations.DurationError:
            timeout = durations.parse(defaults["unregister_timeout"].default)
        return cls(policy, attempts, timeout)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Deletion:
    """The outcome of one attempt of the finalizer's step."""

    done: bool
    delay: float = 0.0
    events: tuple[events.Event, ...] = ()
    status: webhook.OrchestrationWebhookStatus | None = None
    """While retrying: the status that says why (Reconciling, attempt n of N)."""
    log: str = ""
    unregistered: bool = False
    message: str = ""
    """While retrying: why (for kopf's log line)."""


async def release(
    metadata: base.ObjectMeta,
    status: webhook.OrchestrationWebhookStatus,
    settings: DeletionSettings,
    *,
    connections: lookups.Connections,
    index: lookups.Claims,
    sites_: lookups.SiteSource,
    attempt: int,
    now: datetime.datetime,
) -> Deletion:
    """The finalizer's step for a webhook being deleted (its metadata and latest status; its spec may no
    longer parse, hence ``settings``); ``attempt`` counts from 0 (kopf's ``retry``)."""
    conn_name, key = status.registered_connection, status.registered_key
    if settings.policy == webhook.DeletionPolicy.ORPHAN:
        left = f' (the key "{key}" stays on the site)' if key else ""
        return Deletion(done=True, log=f"deletionPolicy is Orphan: not unregistering{left}")
    if not conn_name or not key:
        return Deletion(done=True, log="nothing registered: nothing to unregister")
    outcome = await unregister(
        metadata, conn_name, key, connections=connections, index=index, sites_=sites_, deleting=True
    )
    where = f'the key "{key}" from OrchestrationConnection "{conn_name}"'
    if outcome.done:
        if outcome.skipped:
            return Deletion(done=True, log=f"not unregistering: {outcome.skipped}")
        return Deletion(
            done=True,
            events=(events.Event("Normal", conditions.UNREGISTERED, f"Unregistered {where}."),),
            unregistered=True,
        )
    assert outcome.failure is not None
    failure = outcome.failure
    attempts = attempt + 1
    started = metadata.deletion_timestamp or now
    deadline = started + settings.timeout
    if attempts >= settings.attempts or now >= deadline:
        return Deletion(
            done=True,
            events=(
                events.Event(
                    "Warning",
                    conditions.UNREGISTER_ABANDONED,
                    f"Gave up unregistering {where} after {attempts} attempt(s) (unregisterAttempts "
                    f"{settings.attempts}, unregisterTimeout {durations.format(settings.timeout)}): "
                    f"{failure.reason}: {failure.message}. The key may remain on the site; the "
                    "finalizer is released.",
                ),
            ),
        )
    message = (
        f"Unregistering {where} (attempt {attempts} of {settings.attempts}, until "
        f"{deadline.strftime('%Y-%m-%dT%H:%M:%SZ')}): {failure.reason}: {failure.message}"
    )
    updated = conditions.mark_reconciling(
        status.conditions, reason=failure.reason, message=message, now=now, generation=metadata.generation
    )
    delay = max(
        0.0, min(failures.backoff(attempts, cap=MAX_UNREGISTER_DELAY), (deadline - now).total_seconds())
    )
    return Deletion(
        done=False, delay=delay, status=status.model_copy(update={"conditions": updated}), message=message
    )
