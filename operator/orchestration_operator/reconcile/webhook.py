"""Keeping an OrchestrationWebhook registered on its site (its finalizer is ``reconcile.unregistering``).

:func:`reconcile` is one pass of the webhook's loop (``handlers/webhook.py`` runs it on create, on a
new generation, on a wake-up, and every ``resyncInterval``). Its steps, each of which may end the pass:

1. **Release an old key.** When ``webhookId`` or ``connectionRef`` changed, the key in
   ``status.registeredKey`` (on ``status.registeredConnection``) is unregistered first, with the same
   bounds as on delete (``unregisterAttempts``, ``unregisterTimeout``); then a Warning event, and the
   pass goes on (the old key may remain on the site).
2. **Own the key** (see ``reconcile.claims``): a newer webhook whose id normalizes to an owned key is
   ``Stalled`` with reason ``KeyConflict`` naming the owner, and an Event; nothing is registered.
3. **Due?** A pass registers only when something asks for it: a new generation, another key or
   connection, not Ready yet, the Connection's spec changed, an owner told that a newcomer claims its
   key (it may have overwritten the URL in a race), or ``resyncInterval`` passed (undoing an
   administrator's overwrite; the API cannot read a registration back).
4. **Connection Ready?** Else ``Ready=False, Reconciling=True`` with ``ConnectionNotFound`` or
   ``ConnectionNotReady``; the loop then sleeps until the Connection's topic wakes it.
5. **The URL**: ``url``, or ``urlFrom.secretKeyRef`` read now (``SecretNotFound`` otherwise). A URL
   from a Secret is never put in status, events or messages: ``status.urlDigest`` holds its sha256.
6. **Register** through the site's shared client; ``Ready=True`` (``Registered``) with
   ``registeredKey`` (the key Drupal really stores), ``registeredConnection``, ``urlDigest`` and
   ``lastRegisteredTime``. An Event only when something changed (first registration, new key, new URL,
   recovery), never on a plain resync.

What a pass looks up (Connections, key owners, the sites) comes through ``reconcile.lookups``.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import re
from typing import Any, Final

from orchestration_operator import client
from orchestration_operator.api import conditions, durations, fields, webhook
from orchestration_operator.reconcile import (
    claims,
    events,
    failures,
    lookups,
    ports,
    sites,
    unregistering,
    wakeups,
)

STALLED_RECHECK: Final = 5.0
"""Seconds between reads of a missing URL Secret."""
FALLBACK_RECHECK: Final = 60.0
"""A pass waiting for a wake-up (Connection, key owner) also runs after this long, in case a wake-up
was missed: cheap, it reads only the operator's indexes."""

_ENDPOINT: Final = re.compile(fields.ENDPOINT_URL.pattern or "")


@dataclasses.dataclass(frozen=True)
class Release:
    """An old key being unregistered after webhookId or connectionRef changed."""

    connection: str
    key: str
    attempts: int
    since: datetime.datetime


@dataclasses.dataclass
class WebhookMemory:
    """What a webhook's loop remembers between passes (in memory; a restart only costs a resync)."""

    failures: int = 0
    registered_through: tuple[str | None, int | None] | None = None
    """(uid, generation) of the Connection at the last registration."""
    release: Release | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Pass:
    """The outcome of one pass."""

    status: webhook.OrchestrationWebhookStatus
    delay: float | None
    """Seconds until the next pass; None: wait for a wake-up (and at most FALLBACK_RECHECK)."""
    events: tuple[events.Event, ...] = ()
    topics: frozenset[wakeups.Topic] = frozenset()
    """What should wake the loop before ``delay``."""
    publish: frozenset[wakeups.Topic] = frozenset()
    """Topics to publish once the status is written (a key changed hands)."""
    registered: bool = False
    called: bool = False
    """The site was called to register (successfully or not)."""
    failure: failures.Failure | None = None


# --- helpers -------------------------------------------------------------------------------------------


def url_digest(url: str) -> str:
    """What status shows of a URL: ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(url.encode("utf-8")).hexdigest()


async def read_url(
    spec: webhook.OrchestrationWebhookSpec, *, namespace: str, secrets: ports.SecretReader
) -> str | failures.Failure:
    """The URL to register, or why it cannot be had (never echoing a URL read from a Secret)."""
    if spec.url is not None:
        return spec.url
    assert spec.url_from is not None  # exactly one of them, by the model
    ref = spec.url_from.secret_key_ref
    data = await secrets.read_secret(namespace=namespace, name=ref.name)
    if data is None:
        return failures.Failure(
            conditions.SECRET_NOT_FOUND, f'Secret "{ref.name}" not found in namespace "{namespace}"', True
        )
    if ref.key not in data:
        return failures.Failure(
            conditions.SECRET_NOT_FOUND, f'Secret "{ref.name}" has no key "{ref.key}"', True
        )
    try:
        url = data[ref.key].decode("utf-8").strip()
    except UnicodeDecodeError:
        url = ""
    if not _ENDPOINT.search(url) or len(url) > fields.ENDPOINT_URL.max_length:
        return failures.invalid_spec(
            f'Secret "{ref.name}" key "{ref.key}" does not hold an http:// or https:// URL '
            "(its value is not shown: it may hold a token)"
        )
    return url


def topics_for(hook: webhook.OrchestrationWebhook) -> frozenset[wakeups.Topic]:
    """What should wake a webhook's loop: its Connection and key, and those it still holds.

    The loop subscribes to these *before* a pass reads the indexes, so that a Connection turning Ready
    while the pass runs is not missed.
    """
    namespace = hook.metadata.namespace or "default"
    conn_name = hook.spec.connection_ref.name
    found = {wakeups.connection_topic(namespace, conn_name)}
    key = client.webhook_key(hook.spec.effective_webhook_id(hook.metadata.name or ""))
    if key:
        found.add(wakeups.webhook_key_topic(namespace, conn_name, key))
    held_conn, held_key = hook.status.registered_connection, hook.status.registered_key
    if held_conn and held_key:
        found |= {
            wakeups.connection_topic(namespace, held_conn),
            wakeups.webhook_key_topic(namespace, held_conn, held_key),
        }
    return frozenset(found)


# --- one pass ------------------------------------------------------------------------------------------


async def reconcile(
    hook: webhook.OrchestrationWebhook,
    *,
    connections: lookups.Connections,
    index: lookups.Claims,
    sites_: lookups.SiteSource,
    secrets: ports.SecretReader,
    memory: WebhookMemory,
    now: datetime.datetime,
    forced: bool = False,
) -> Pass:
    """One pass over ``hook`` (its spec parsed, its status the latest known). See the module docstring."""
    spec = hook.spec
    namespace, name = hook.metadata.namespace or "default", hook.metadata.name or ""
    generation = hook.metadata.generation
    webhook_id = spec.effective_webhook_id(name)
    key = client.webhook_key(webhook_id)
    conn_name = spec.connection_ref.name
    resync = durations.seconds(spec.resync_interval)
    status = hook.status
    topics = {wakeups.connection_topic(namespace, conn_name)}
    if not key:  # the CRD's pattern refuses such ids already
        return _failed(
            hook, status, failures.invalid_spec(f"spec.webhookId {webhook_id!r} has no key"), now=now
        )
    claim_key: claims.ClaimKey = (namespace, conn_name, key)
    topics.add(wakeups.webhook_key_topic(*claim_key))
    extra_events: list[events.Event] = []
    publish: set[wakeups.Topic] = set()

    # 1. An old key to release first.
    held = (status.registered_connection, status.registered_key)
    if held[0] and held[1] and held != (conn_name, key):
        old_conn, old_key = held[0], held[1]
        topics |= {
            wakeups.connection_topic(namespace, old_conn),
            wakeups.webhook_key_topic(namespace, old_conn, old_key),
        }
        outcome = await _release_old(
            hook,
            old_conn,
            old_key,
            connections=connections,
            index=index,
            sites_=sites_,
            memory=memory,
            now=now,
        )
        if isinstance(outcome, Pass):
            return dataclasses.replace(outcome, topics=frozenset(topics))
        extra_events.extend(outcome)
        publish.add(wakeups.webhook_key_topic(namespace, old_conn, old_key))
        status = status.model_copy(
            update={"registered_key": None, "registered_connection": None, "url_digest": None}
        )
    memory.release = None

    # 2. Own the key.
    owner = lookups.owner(hook.metadata, claim_key, index)
    if owner is not None and owner.uid != hook.metadata.uid:
        return _conflict(
            hook,
            status,
            owner,
            key=key,
            webhook_id=webhook_id,
            now=now,
            topics=topics,
            publish=publish,
            extra=extra_events,
        )

    # 3. Due?
    conn = connections.get(namespace, conn_name)
    # The Connection's (uid, generation): a new one means another site or credentials. (Deleting it bumps
    # its generation too, which is no reason to register again.)
    through = (
        None
        if isinstance(conn, lookups.Unavailable) or conn.metadata.deletion_timestamp is not None
        else (conn.metadata.uid, conn.metadata.generation)
    )
    due_at = _due_at(status, generation=generation, key=key, conn_name=conn_name, resync=resync)
    connection_changed = (
        through is not None and memory.registered_through is not None and memory.registered_through != through
    )
    if not forced and not connection_changed and due_at is not None and now < due_at:
        return Pass(status=status, delay=(due_at - now).total_seconds(), topics=frozenset(topics))

    # 4. The Connection must be Ready.
    unavailable = lookups.readiness(conn)
    if unavailable is not None:
        updated = conditions.mark_reconciling(
            status.conditions,
            reason=unavailable.reason,
            message=unavailable.message,
            now=now,
            generation=generation,
        )
        new = status.model_copy(update={"conditions": updated, "observed_generation": generation})
        # An Event when a registered webhook loses its Connection; a new one just says so in status.
        was_ready = conditions.is_true(status.conditions, conditions.READY)
        return Pass(
            status=new,
            delay=None,
            events=(*extra_events, *(_transition_events(status, new) if was_ready else ())),
            topics=frozenset(topics),
            publish=frozenset(publish),
        )
    assert not isinstance(conn, lookups.Unavailable)

    # 5. The URL.
    url = await read_url(spec, namespace=namespace, secrets=secrets)
    if isinstance(url, failures.Failure):
        outcome = _failed(hook, status, url, now=now, delay=min(resync, STALLED_RECHECK))
        return dataclasses.replace(
            outcome,
            events=(*extra_events, *outcome.events),
            topics=frozenset(topics),
            publish=frozenset(publish),
        )
    digest = url_digest(url)

    # 6. Register.
    called = False
    try:
        site = await sites_.site_for(conn)
        called = True
        stored = await site.client.register_webhook(webhook_id, url)
    except sites.SiteConfigError as error:
        failure = failures.from_site_config_error(error)
    except client.OrchestrationError as error:
        failure = failures.from_client_error(error, fallback=conditions.REGISTRATION_FAILED)
    else:
        memory.failures = 0
        memory.registered_through = through
        updated = conditions.mark_ready(
            status.conditions,
            reason=conditions.REGISTERED,
            message=f'Registered on OrchestrationConnection "{conn_name}" under the key "{stored}".',
            now=now,
            generation=generation,
        )
        new = status.model_copy(
            update={
                "conditions": updated,
                "observed_generation": generation,
                "registered_key": stored,
                "registered_connection": conn_name,
                "url_digest": digest,
                "last_registered_time": now,
            }
        )
        return Pass(
            status=new,
            delay=resync,
            events=(*extra_events, *_registered_events(hook.status, new)),
            topics=frozenset(topics),
            publish=frozenset(publish),
            registered=True,
            called=True,
        )
    memory.failures += 1
    delay = None if failure.stalled else failures.backoff(memory.failures, cap=resync)
    outcome = _failed(hook, status, failure, now=now, delay=delay)
    return dataclasses.replace(
        outcome,
        events=(*extra_events, *outcome.events),
        topics=frozenset(topics),
        publish=frozenset(publish),
        called=called,
    )


def _due_at(
    status: webhook.OrchestrationWebhookStatus,
    *,
    generation: int | None,
    key: str,
    conn_name: str,
    resync: float,
) -> datetime.datetime | None:
    """When the next registration is due; None when it is due now."""
    if (
        status.observed_generation != generation
        or status.registered_key != key
        or status.registered_connection != conn_name
        or status.last_registered_time is None
        or not conditions.is_true(status.conditions, conditions.READY)
    ):
        return None
    return status.last_registered_time + datetime.timedelta(seconds=resync)


def _failed(
    hook: webhook.OrchestrationWebhook,
    status: webhook.OrchestrationWebhookStatus,
    failure: failures.Failure,
    *,
    now: datetime.datetime,
    delay: float | None = None,
) -> Pass:
    generation = hook.metadata.generation
    updated = events.failed(status.conditions, failure, now=now, generation=generation)
    new = status.model_copy(update={"conditions": updated, "observed_generation": generation})
    return Pass(status=new, delay=delay, events=_transition_events(status, new), failure=failure)


def _conflict(
    hook: webhook.OrchestrationWebhook,
    status: webhook.OrchestrationWebhookStatus,
    owner: claims.Claim,
    *,
    key: str,
    webhook_id: str,
    now: datetime.datetime,
    topics: set[wakeups.Topic],
    publish: set[wakeups.Topic],
    extra: list[events.Event],
) -> Pass:
    conn_name = hook.spec.connection_ref.name
    namespace = hook.metadata.namespace or "default"
    message = (
        f'The webhookId "{webhook_id}" is stored by Drupal under the key "{key}", which the older '
        f'OrchestrationWebhook "{owner.name}" already uses on OrchestrationConnection "{conn_name}"; '
        "nothing was registered. Change webhookId (or delete one of the two)."
    )
    update: dict[str, Any] = {}
    if status.registered_key == key and status.registered_connection == conn_name:
        # Registered in a race before the owner was seen: leave the key to its owner, which re-registers
        # its own URL when woken (no unregister: that would delete the owner's registration).
        update = {"registered_key": None, "registered_connection": None, "url_digest": None}
        publish = {*publish, wakeups.webhook_key_topic(namespace, conn_name, key)}
    updated = conditions.mark_stalled(
        status.conditions,
        reason=conditions.KEY_CONFLICT,
        message=message,
        now=now,
        generation=hook.metadata.generation,
    )
    new = status.model_copy(
        update={**update, "conditions": updated, "observed_generation": hook.metadata.generation}
    )
    return Pass(
        status=new,
        delay=None,
        events=(*extra, *_transition_events(status, new)),
        topics=frozenset(topics),
        publish=frozenset(publish),
    )


def _transition_events(
    before: webhook.OrchestrationWebhookStatus, after: webhook.OrchestrationWebhookStatus
) -> tuple[events.Event, ...]:
    ready = events.ready_changed(before.conditions, after.conditions)
    if ready is None:
        return ()
    kind: events.EventType = "Normal" if ready.status == conditions.TRUE else "Warning"
    return (events.Event(kind, ready.reason, ready.message),)


def _registered_events(
    before: webhook.OrchestrationWebhookStatus, after: webhook.OrchestrationWebhookStatus
) -> tuple[events.Event, ...]:
    transition = _transition_events(before, after)
    if transition:
        return transition
    changed = (before.registered_key, before.registered_connection, before.url_digest) != (
        after.registered_key,
        after.registered_connection,
        after.url_digest,
    )
    if not changed:
        return ()  # a plain resync: silent
    what = "the URL changed" if before.url_digest != after.url_digest else "the key or connection changed"
    ready = conditions.find(after.conditions, conditions.READY)
    assert ready is not None
    return (events.Event("Normal", conditions.REGISTERED, f"{ready.message.rstrip('.')} ({what})."),)


# --- releasing keys ----------------------------------------------------------------------------------


async def _release_old(
    hook: webhook.OrchestrationWebhook,
    old_conn: str,
    old_key: str,
    *,
    connections: lookups.Connections,
    index: lookups.Claims,
    sites_: lookups.SiteSource,
    memory: WebhookMemory,
    now: datetime.datetime,
) -> Pass | list[events.Event]:
    """Unregister the key registered before webhookId/connectionRef changed: the events once done (or
    given up), else the pass that waits for the next attempt."""
    spec = hook.spec
    release = memory.release
    if release is None or (release.connection, release.key) != (old_conn, old_key):
        release = Release(connection=old_conn, key=old_key, attempts=0, since=now)
    attempt = await unregistering.unregister(
        hook.metadata, old_conn, old_key, connections=connections, index=index, sites_=sites_, deleting=False
    )
    where = f'the old key "{old_key}" from OrchestrationConnection "{old_conn}"'
    if attempt.done:
        memory.release = None
        if attempt.skipped:
            return []
        return [events.Event("Normal", conditions.UNREGISTERED, f"Unregistered {where}.")]
    assert attempt.failure is not None
    release = dataclasses.replace(release, attempts=release.attempts + 1)
    memory.release = release
    timeout = durations.parse(spec.unregister_timeout)
    if release.attempts >= spec.unregister_attempts or now - release.since >= timeout:
        memory.release = None
        return [
            events.Event(
                "Warning",
                conditions.UNREGISTER_ABANDONED,
                f"Gave up unregistering {where} after {release.attempts} attempt(s): "
                f"{attempt.failure.reason}: {attempt.failure.message}. The key may remain on the site.",
            )
        ]
    message = (
        f"Unregistering {where} before registering the new one (attempt {release.attempts} of "
        f"{spec.unregister_attempts}): {attempt.failure.reason}: {attempt.failure.message}"
    )
    updated = conditions.mark_reconciling(
        hook.status.conditions,
        reason=attempt.failure.reason,
        message=message,
        now=now,
        generation=hook.metadata.generation,
    )
    new = hook.status.model_copy(
        update={"conditions": updated, "observed_generation": hook.metadata.generation}
    )
    remaining = (release.since + timeout - now).total_seconds()
    delay = max(
        0.0, min(failures.backoff(release.attempts, cap=unregistering.MAX_UNREGISTER_DELAY), remaining)
    )
    return Pass(status=new, delay=delay, events=_transition_events(hook.status, new), failure=attempt.failure)
