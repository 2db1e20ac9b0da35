"""The per-object reconcile loop that Connections and Webhooks share: kopf daemons, woken early.

Why daemons and not ``@kopf.timer`` plus change handlers: each object has its own interval in its spec
(``probeInterval``, ``resyncInterval``, a retry delay), which a timer's fixed interval cannot honour
without ticking for nothing; a daemon sleeps exactly until its object is due. It is also the one writer
of its object's status, so a periodic pass can never race a change handler; it is woken at once by:

* its own spec (``wake_on_generation``, called from the kind's ``@kopf.on.event`` hook: a new
  ``metadata.generation``; labels and annotations do not count);
* a topic it subscribed to (``reconcile.wakeups``): its Connection became Ready, a key changed hands.

A loop keeps the status it last wrote (the watch event that brings it back comes later) and writes a
status only when it differs, as one merge patch of the changed fields (``status_patch``). kopf's own
bookkeeping under ``status.kopf`` is never touched. ``lock`` serialises a loop's pass with the kind's
deletion handler, so an unregister never overtakes a register in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import datetime
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

import kopf
import pydantic

from orchestration_operator import metrics
from orchestration_operator.api import base, conditions, status
from orchestration_operator.handlers import kopfapi, kube, logref
from orchestration_operator.reconcile import events, wakeups

CANCELLATION_TIMEOUT = 10.0
"""How long kopf waits for a cancelled loop (deletion, shutdown) before leaving it orphaned."""
WRITE_RETRY = 5.0
"""Seconds before a pass runs again when writing its status failed."""

MemoryT = TypeVar("MemoryT")
StatusT = TypeVar("StatusT", bound=status.ResourceStatus)

logger = logging.getLogger("orchestration_operator.handlers")


@dataclasses.dataclass
class Loop(Generic[MemoryT]):
    """One object's loop state, kept in kopf's per-object memo (``memo.loop``)."""

    memory: MemoryT
    waker: wakeups.Waker = dataclasses.field(default_factory=wakeups.Waker)
    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    status: dict[str, Any] | None = None
    """The status as last written by the loop (newer than the live body until the watch catches up)."""
    seen_generation: int | None = None


def loop_of(memo: kopf.Memo, memory: Callable[[], MemoryT]) -> Loop[MemoryT]:
    """The object's loop state, created on first use."""
    loop: Loop[MemoryT] | None = memo.get("loop")
    if loop is None:
        loop = Loop(memory=memory())
        memo["loop"] = loop
    return loop


def topics_of(memo: kopf.Memo) -> wakeups.Topics:
    """The operator-wide topics (created at startup, shared through every object's memo copy)."""
    found: wakeups.Topics = memo["topics"]
    return found


QUIET_HANDLERS = ("connection_event", "webhook_event", "eventpoll_event", "wake_runs_of_a_ready_connection")
"""Watch-event hooks run on every event of their object: kopf's "succeeded" line for them is noise."""


class _QuietHooks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (
            record.levelno == logging.INFO
            and message.endswith(" succeeded.")
            and any(message == f"Handler {name!r} succeeded." for name in QUIET_HANDLERS)
        )


@kopf.on.startup()
async def set_up_loops(memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    memo["topics"] = wakeups.Topics()
    try:
        await asyncio.to_thread(kube.warm_up)  # before the watches start: see kube.warm_up
    except Exception as error:  # no credentials yet: the first pass will say so
        logger.warning(f"Could not load the Kubernetes client configuration: {error}")
    objects = logging.getLogger("kopf.objects")
    if not any(isinstance(f, _QuietHooks) for f in objects.filters):
        objects.addFilter(_QuietHooks())


def wake_on_generation(memo: kopf.Memo, body: kopf.Body) -> None:
    """Wake the object's loop if its spec changed since the loop last looked (a new generation)."""
    loop: Loop[Any] | None = memo.get("loop")
    if body.metadata.get("deletionTimestamp"):
        return  # deleting bumps the generation too; kopf stops the loop, the finalizer takes over
    if loop is not None and body.metadata.get("generation") != loop.seen_generation:
        loop.waker.wake(reason="spec")


async def sleep(stopped: kopf.DaemonStopped, waker: wakeups.Waker, delay: float | None) -> None:
    """Sleep ``delay`` seconds (None: until woken), or less if woken or stopped."""
    if stopped or waker.pending:
        return
    timeout = None if delay is None or math.isinf(delay) else max(delay, 0.0)
    stop = asyncio.ensure_future(stopped.wait())
    wake = asyncio.ensure_future(waker.wait())
    try:
        await asyncio.wait({stop, wake}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (stop, wake):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(stop, wake, return_exceptions=True)


@dataclasses.dataclass
class ErrorBackoff:
    """Delays after unexpected errors of a pass (1 s, 2 s, 4 s ... 60 s), reset by a pass that works."""

    in_a_row: int = 0
    maximum: float = 60.0

    def failed(self, logger: kopf.Logger) -> float:
        self.in_a_row += 1
        delay = min(self.maximum, 2.0 ** (self.in_a_row - 1))
        logger.exception(f"The pass failed unexpectedly; retrying in {delay:g} s")
        return delay

    def succeeded(self) -> None:
        self.in_a_row = 0


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """A copy of the live body at the start of a pass (the live body changes under our feet)."""

    metadata: base.ObjectMeta
    spec: dict[str, Any]
    status: dict[str, Any]


def snapshot(body: kopf.Body, loop: Loop[Any]) -> Snapshot:
    raw_meta = copy.deepcopy(dict(body.metadata))
    spec = copy.deepcopy(dict(body.spec))
    current = loop.status if loop.status is not None else copy.deepcopy(dict(body.status))
    return Snapshot(metadata=base.ObjectMeta.model_validate(raw_meta), spec=spec, status=current)


def parse_status(model: type[StatusT], raw: Mapping[str, Any]) -> StatusT:
    """The status as the model sees it; a status it cannot read starts over (it is rebuilt by the pass)."""
    try:
        return model.model_validate(dict(raw))
    except pydantic.ValidationError:
        return model()


def status_patch(
    model: type[status.ResourceStatus], current: Mapping[str, Any], desired: Mapping[str, Any]
) -> dict[str, Any]:
    """A merge patch turning ``current`` into ``desired`` for the model's fields (``null`` removes one).

    ``status.kopf`` (kopf's storage) and fields the model does not know are left alone.
    """
    patch: dict[str, Any] = {}
    for field in model.model_fields.values():
        name = field.alias
        if name is None or name == "kopf":
            continue
        if current.get(name) != desired.get(name):
            patch[name] = desired.get(name)
    return patch


async def write_status(
    *,
    plural: str,
    model: type[status.ResourceStatus],
    metadata: base.ObjectMeta,
    loop: Loop[Any],
    current: Mapping[str, Any],
    new: status.ResourceStatus,
) -> bool:
    """Write ``new`` if it differs from ``current``; remember what was written. False if it failed."""
    desired = new.to_dict()
    patch = status_patch(model, current, desired)
    if not patch:
        loop.status = {**current}
        return True
    try:
        result = await kopfapi.patch_status(
            resource=plural,
            namespace=metadata.namespace or "default",
            name=metadata.name or "",
            status=patch,
            logger=logger,
            retry=False,  # the loop retries after WRITE_RETRY
        )
    except kube.Gone:
        return False
    except Exception:  # the API server is down, a timeout: the loop retries after WRITE_RETRY
        where = {"namespace": metadata.namespace or "default", "name": metadata.name or ""}
        ref = logref.extra(plural, **where, uid=metadata.uid or "")
        logger.exception("writing the status of %s/%s failed", where["namespace"], where["name"], extra=ref)
        return False
    written = result.get("status")
    loop.status = dict(written) if isinstance(written, Mapping) else {**current, **patch}
    return True


def post(body: kopf.Body, posted: Iterable[events.Event]) -> None:
    for event in posted:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)


def export_conditions(*, kind: str, metadata: base.ObjectMeta, found: list[conditions.Condition]) -> None:
    for type_ in conditions.TYPES:
        condition = conditions.find(found, type_)
        default = conditions.UNKNOWN if type_ == conditions.READY else conditions.FALSE
        metrics.set_condition(
            kind=kind,
            namespace=metadata.namespace or "",
            name=metadata.name or "",
            type_=type_,
            status=condition.status if condition is not None else default,
        )


def forget_metrics(*, kind: str, namespace: str, name: str) -> None:
    metrics.forget_resource(kind=kind, namespace=namespace, name=name, types=conditions.TYPES)


def now() -> datetime.datetime:
    """The time conditions and timestamps use (UTC; Kubernetes keeps seconds)."""
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)
