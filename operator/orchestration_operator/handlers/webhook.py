"""kopf handlers of OrchestrationWebhook: key claims, the registration loop, and the finalizer.

- ``webhook_claims`` (a kopf index): every webhook's claims on ``(namespace, connection, key)``
  (``reconcile.claims``), so that a pass knows in memory who owns a key.
- ``webhook_loop`` (a daemon, see ``handlers/loops.py``): ``reconcile.webhook.reconcile`` per pass,
  status written once per pass when it changed, Events on changes only; sleeps until the next
  resync, retry or wake-up (its spec, its Connection's topic, its key's topic).
- ``webhook_event``: wakes the loop on a new generation; publishes a key's topic when the webhook's
  claims on it change (created, moved to another key, registered, deleted), so that the next claimant
  takes over and an owner re-registers when a newcomer may have overwritten its URL.
- ``webhook_delete`` (the finalizer): ``reconcile.unregistering.release`` under the loop's lock; while it
  fails, kopf retries it (``TemporaryError``) until ``unregisterAttempts`` or ``unregisterTimeout`` is
  reached, then the finalizer is released with a Warning event: deletion never hangs.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any, Final

import kopf

from orchestration_operator import metrics
from orchestration_operator.api import base, connection, names, validation, webhook
from orchestration_operator.handlers import loops, shared
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
from orchestration_operator.reconcile import webhook as reconcile_webhook

PLURAL: Final = webhook.KIND.plural
KIND: Final = webhook.KIND.kind


class IndexedConnections:
    """``reconcile.lookups.Connections`` over the ``connections`` index."""

    def __init__(self, index: kopf.Index[tuple[str, str], Any]) -> None:
        self._index = index

    def get(self, namespace: str, name: str) -> connection.OrchestrationConnection | lookups.Unavailable:
        try:
            return shared.find_connection(self._index, namespace=namespace, name=name, require_ready=False)
        except shared.ConnectionUnavailable as error:
            return lookups.Unavailable(error.reason, error.message)


class IndexedClaims:
    """``reconcile.lookups.Claims`` over the ``webhook_claims`` index."""

    def __init__(self, index: kopf.Index[claims.ClaimKey, claims.Claim]) -> None:
        self._index = index

    def claimants(self, key: claims.ClaimKey) -> Sequence[claims.Claim]:
        store = self._index.get(key)
        return list(store) if store is not None else []


@kopf.index(names.GROUP, names.VERSION, PLURAL)
async def webhook_claims(body: kopf.Body, **_: Any) -> dict[claims.ClaimKey, claims.Claim]:
    # async: kopf runs a sync index function in a thread; this one is cheap and must not lag.
    return claims.claims_of(body)


@kopf.daemon(names.GROUP, names.VERSION, PLURAL, cancellation_timeout=loops.CANCELLATION_TIMEOUT)  # type: ignore[arg-type]
async def webhook_loop(
    stopped: kopf.DaemonStopped,
    body: kopf.Body,
    memo: kopf.Memo,
    logger: kopf.Logger,
    connections: kopf.Index[tuple[str, str], Any],
    webhook_claims: kopf.Index[claims.ClaimKey, claims.Claim],
    **_: Any,
) -> None:
    loop = loops.loop_of(memo, reconcile_webhook.WebhookMemory)
    topics = loops.topics_of(memo)
    errors = loops.ErrorBackoff()
    try:
        while not stopped:
            reasons = loop.waker.take_reasons()
            try:
                async with loop.lock:
                    if stopped:
                        break
                    outcome = await _pass(
                        body,
                        memo,
                        loop,
                        logger=logger,
                        connections=IndexedConnections(connections),
                        index=IndexedClaims(webhook_claims),
                        forced="claims" in reasons,
                    )
            except Exception:  # a bug, or the Kubernetes API failing: logged, retried, the loop lives on
                delay = errors.failed(logger)
            else:
                errors.succeeded()
                topics.subscribe(loop.waker, outcome.topics)
                delay = outcome.delay if outcome.delay is not None else reconcile_webhook.FALLBACK_RECHECK
            await loops.sleep(stopped, loop.waker, delay)
    finally:
        topics.unsubscribe(loop.waker)


async def _pass(
    body: kopf.Body,
    memo: kopf.Memo,
    loop: loops.Loop[reconcile_webhook.WebhookMemory],
    *,
    logger: kopf.Logger,
    connections: IndexedConnections,
    index: IndexedClaims,
    forced: bool,
) -> reconcile_webhook.Pass:
    snap = loops.snapshot(body, loop)
    loop.seen_generation = snap.metadata.generation
    now = loops.now()
    current = loops.parse_status(webhook.OrchestrationWebhookStatus, snap.status)
    try:
        spec = validation.parse_spec(webhook.OrchestrationWebhookSpec, snap.spec)
    except validation.InvalidSpecError as error:
        outcome = _invalid(snap.metadata, current, error.message, now=now)
    else:
        hook = webhook.OrchestrationWebhook(metadata=snap.metadata, spec=spec, status=current)
        loops.topics_of(memo).subscribe(loop.waker, reconcile_webhook.topics_for(hook))
        registry: sites.SiteRegistry = memo["sites"]
        secrets: ports.SecretReader = memo["kube"]
        outcome = await reconcile_webhook.reconcile(
            hook,
            connections=connections,
            index=index,
            sites_=registry,
            secrets=secrets,
            memory=loop.memory,
            now=now,
            forced=forced,
        )
    namespace = snap.metadata.namespace or ""
    if outcome.called:
        result = "success" if outcome.failure is None else outcome.failure.reason
        metrics.WEBHOOK_REGISTRATIONS.labels(namespace, "register", result).inc()
    written = await loops.write_status(
        plural=PLURAL,
        model=webhook.OrchestrationWebhookStatus,
        metadata=snap.metadata,
        loop=loop,
        current=snap.status,
        new=outcome.status,
    )
    if not written:
        return reconcile_webhook.Pass(status=outcome.status, delay=loops.WRITE_RETRY, topics=outcome.topics)
    loops.post(body, outcome.events)
    for event in outcome.events:
        log = logger.info if event.type == "Normal" else logger.warning
        log(f"{event.reason}: {event.message}")
    topics = loops.topics_of(memo)
    for topic in outcome.publish:
        topics.publish(topic, reason="claims", exclude=loop.waker)
    loops.export_conditions(kind=KIND, metadata=snap.metadata, found=outcome.status.conditions)
    return outcome


def _invalid(
    metadata: base.ObjectMeta,
    current: webhook.OrchestrationWebhookStatus,
    message: str,
    *,
    now: datetime.datetime,
) -> reconcile_webhook.Pass:
    failure = failures.invalid_spec(message)
    updated = events.failed(current.conditions, failure, now=now, generation=metadata.generation)
    new = current.model_copy(update={"conditions": updated, "observed_generation": metadata.generation})
    changed = events.ready_changed(current.conditions, updated)
    posted = (events.Event("Warning", failure.reason, failure.message),) if changed is not None else ()
    return reconcile_webhook.Pass(status=new, delay=None, events=posted, failure=failure)


@kopf.on.event(names.GROUP, names.VERSION, PLURAL)  # type: ignore[arg-type]
async def webhook_event(
    event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, namespace: str, name: str, **_: Any
) -> None:
    loops.wake_on_generation(memo, body)
    now_claims = {} if event.get("type") == "DELETED" else claims.claims_of(body)
    before: dict[claims.ClaimKey, claims.Claim] = memo.get("claims") or {}
    changed = {key for key in before.keys() | now_claims.keys() if before.get(key) != now_claims.get(key)}
    memo["claims"] = now_claims
    loop: loops.Loop[Any] | None = memo.get("loop")
    topics = loops.topics_of(memo)
    for key in changed:
        topics.publish(wakeups.webhook_key_topic(*key), reason="claims", exclude=loop.waker if loop else None)
    if event.get("type") == "DELETED":
        loops.forget_metrics(kind=KIND, namespace=namespace, name=name)


@kopf.on.delete(names.GROUP, names.VERSION, PLURAL)  # type: ignore[arg-type]
async def webhook_delete(
    body: kopf.Body,
    memo: kopf.Memo,
    retry: int,
    patch: kopf.Patch,
    logger: kopf.Logger,
    connections: kopf.Index[tuple[str, str], Any],
    webhook_claims: kopf.Index[claims.ClaimKey, claims.Claim],
    **_: Any,
) -> None:
    loop = loops.loop_of(memo, reconcile_webhook.WebhookMemory)
    async with loop.lock:
        snap = loops.snapshot(body, loop)
        try:
            spec = validation.parse_spec(webhook.OrchestrationWebhookSpec, snap.spec)
        except validation.InvalidSpecError:
            settings = unregistering.DeletionSettings.from_raw(snap.spec)
        else:
            settings = unregistering.DeletionSettings.of(spec)
        registry: sites.SiteRegistry = memo["sites"]
        outcome = await unregistering.release(
            snap.metadata,
            loops.parse_status(webhook.OrchestrationWebhookStatus, snap.status),
            settings,
            connections=IndexedConnections(connections),
            index=IndexedClaims(webhook_claims),
            sites_=registry,
            attempt=retry,
            now=loops.now(),
        )
    namespace = snap.metadata.namespace or ""
    if outcome.unregistered:
        metrics.WEBHOOK_REGISTRATIONS.labels(namespace, "unregister", "success").inc()
    loops.post(body, outcome.events)
    for event in outcome.events:
        log = logger.info if event.type == "Normal" else logger.warning
        log(f"{event.reason}: {event.message}")
    if outcome.log:
        logger.info(outcome.log)
    if not outcome.done:
        assert outcome.status is not None
        metrics.WEBHOOK_REGISTRATIONS.labels(namespace, "unregister", "retry").inc()
        patch.status["conditions"] = [condition.to_dict() for condition in outcome.status.conditions]
        raise kopf.TemporaryError(outcome.message, delay=outcome.delay)
