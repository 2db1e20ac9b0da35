"""Where EventPoll events go: the ``Sink`` protocol, the HTTP CloudEvents sink and the ConfigMap ring.

``eventpoll.poll_once`` hands each batch of ``cursor.Event``\\ s to every sink in order; a sink either
accepts the whole batch or raises :class:`SinkError`, and then the cursor does not move (the batch comes
back on the next cycle, with the same event ids). So a sink must tolerate a re-delivery: the HTTP sink
relies on the receiver de-duplicating on the CloudEvent ``id``; the ConfigMap ring skips ids it holds.

- :class:`HttpSink` sends each event as a CloudEvent through ``client.cloudevents`` (the only module
  that talks HTTP to receivers), with the spec's timeout and retries.
- :class:`ConfigMapRingSink` keeps the latest events in a ConfigMap, for inspection: one data key per
  event (``<sequence>-<event id>.json``, so keys sort by delivery), bounded in count and in bytes (well
  under the 1 MiB object limit). It reads and writes through :class:`ConfigMapStore`, which the handlers
  layer implements with the Kubernetes API (``ports.OwnedObjects`` fits).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

from orchestration_operator.api import durations
from orchestration_operator.api import eventpoll as api
from orchestration_operator.client import cloudevents
from orchestration_operator.reconcile import cursor

EVENT_TYPE: Final = "io.drupal-orchestration.poll.item"
"""The CloudEvent ``type`` of every polled item."""
POLL_NAME_EXTENSION: Final = "pollname"
"""CloudEvent extension attribute carrying the site's poll name."""

DEFAULT_RING_BYTES: Final = 512 * 1024
"""Byte budget of a ConfigMap ring (keys and values), half the Kubernetes object limit."""
_RING_KEY: Final = re.compile(r"(\d{12})-([0-9a-f]{32})\.json\Z")


class SinkError(Exception):
    """A sink did not accept a batch. ``permanent``: only a change of spec, Secret or receiver helps."""

    def __init__(
        self,
        message: str,
        *,
        sink: str,
        reason: str,
        permanent: bool,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.sink = sink
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


class Sink(Protocol):
    """A destination of every event of an EventPoll."""

    @property
    def name(self) -> str:
        """The sink's name in ``spec.sinks``."""
        ...

    async def deliver(self, events: Sequence[cursor.Event]) -> None:
        """Accept the whole batch, in order, or raise :class:`SinkError`."""
        ...


def event_source(namespace: str, eventpoll: str) -> str:
    """The CloudEvent ``source`` of an EventPoll's events (with the id, unique per event)."""
    return f"drupal-orchestration.io/{namespace}/{eventpoll}"


def to_cloudevent(event: cursor.Event, *, source: str, poll_name: str) -> cloudevents.CloudEvent:
    """The CloudEvent of ``event``: ``subject`` is the cursor value, ``time`` the item's timestamp."""
    return cloudevents.CloudEvent(
        id=event.id,
        source=source,
        type=EVENT_TYPE,
        subject=event.subject,
        time=None if event.timestamp is None else cloudevents.rfc3339(event.timestamp),
        data=event.data,
        extensions={POLL_NAME_EXTENSION: poll_name},
    )


def delivery_policy(spec: api.HttpSink, **overrides: Any) -> cloudevents.DeliveryPolicy:
    """The sender's timeout and retries from an HTTP sink's spec (``overrides``: e.g. ``sleep`` in tests)."""
    settings: dict[str, Any] = {
        "timeout": durations.seconds(spec.timeout),
        "attempts": spec.retry.max_attempts,
        "initial_delay": durations.seconds(spec.retry.backoff.initial_interval),
        "max_delay": durations.seconds(spec.retry.backoff.max_interval),
    }
    settings.update(overrides)
    return cloudevents.DeliveryPolicy(**settings)


class HttpSink:
    """POSTs each event as a CloudEvent; the batch stops at the first event that is not accepted."""

    def __init__(
        self, name: str, sender: cloudevents.CloudEventSender, *, source: str, poll_name: str
    ) -> None:
        self._name = name
        self._sender = sender
        self._source = source
        self._poll_name = poll_name

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<HttpSink {self._name!r} {self._sender!r}>"

    async def deliver(self, events: Sequence[cursor.Event]) -> None:
        for index, event in enumerate(events):
            try:
                await self._sender.send(to_cloudevent(event, source=self._source, poll_name=self._poll_name))
            except cloudevents.DeliveryError as exc:
                raise SinkError(
                    f"sink {self._name}: {exc.message}; {index} of {len(events)} events accepted",
                    sink=self._name,
                    reason=exc.reason,
                    permanent=exc.permanent,
                    retry_after=exc.retry_after,
                ) from exc


class ConfigMapStore(Protocol):
    """Reads and writes a ConfigMap owned by the EventPoll (``ports.OwnedObjects`` implements it)."""

    async def get_configmap(self, *, namespace: str, name: str) -> Mapping[str, str] | None:
        """The ConfigMap's data, or None when it does not exist."""
        ...

    async def put_configmap(
        self, *, namespace: str, name: str, data: Mapping[str, str], owner: Mapping[str, Any]
    ) -> None:
        """Create or replace the ConfigMap's data, owned by ``owner`` (an ownerReference)."""
        ...


def _size(key: str, value: str) -> int:
    return len(key.encode()) + len(value.encode())


def ring_update(
    existing: Mapping[str, str],
    events: Sequence[cursor.Event],
    *,
    source: str,
    poll_name: str,
    max_events: int,
    max_bytes: int = DEFAULT_RING_BYTES,
) -> dict[str, str]:
    """The ring's data after appending ``events``: ids already held are skipped (a re-delivery), then the
    oldest events go until at most ``max_events`` remain and keys plus values fit in ``max_bytes``. An
    event larger than the whole budget is kept as a stub (id, subject, time, size). Keys that are not the
    ring's are kept as they are (and count against the budget)."""
    ring: list[tuple[int, str, str]] = []  # (sequence, key, value)
    foreign: dict[str, str] = {}
    held: set[str] = set()
    for key, value in existing.items():
        match = _RING_KEY.match(key)
        if match:
            ring.append((int(match.group(1)), key, value))
            held.add(match.group(2))
        else:
            foreign[key] = value
    ring.sort()
    sequence = ring[-1][0] + 1 if ring else 1
    budget = max_bytes - sum(_size(k, v) for k, v in foreign.items())
    for event in events:
        if event.id in held:
            continue
        held.add(event.id)
        structured = to_cloudevent(event, source=source, poll_name=poll_name).structured()
        key = f"{sequence:012d}-{event.id}.json"
        value = json.dumps(structured, ensure_ascii=False, separators=(",", ":"), default=str)
        if _size(key, value) > budget:
            stub = {name: structured[name] for name in ("id", "subject", "time") if name in structured}
            value = json.dumps({**stub, "truncated": True, "bytes": len(value.encode())}, ensure_ascii=False)
        ring.append((sequence, key, value))
        sequence += 1
    total = sum(_size(k, v) for _, k, v in ring)
    start = 0
    while start < len(ring) and (len(ring) - start > max_events or total > budget):
        total -= _size(ring[start][1], ring[start][2])
        start += 1
    return {**foreign, **{key: value for _, key, value in ring[start:]}}


class ConfigMapRingSink:
    """Keeps the latest events of an EventPoll in a ConfigMap it owns: one read and one write per batch."""

    def __init__(
        self,
        name: str,
        store: ConfigMapStore,
        *,
        namespace: str,
        configmap: str,
        owner: Mapping[str, Any],
        source: str,
        poll_name: str,
        max_events: int = 50,
        max_bytes: int = DEFAULT_RING_BYTES,
    ) -> None:
        self._name = name
        self._store = store
        self._namespace = namespace
        self._configmap = configmap
        self._owner = owner
        self._source = source
        self._poll_name = poll_name
        self._max_events = max_events
        self._max_bytes = max_bytes

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return (
            f"<ConfigMapRingSink {self._name!r} {self._namespace}/{self._configmap} max {self._max_events}>"
        )

    async def deliver(self, events: Sequence[cursor.Event]) -> None:
        try:
            existing = await self._store.get_configmap(namespace=self._namespace, name=self._configmap)
            data = ring_update(
                existing or {},
                events,
                source=self._source,
                poll_name=self._poll_name,
                max_events=self._max_events,
                max_bytes=self._max_bytes,
            )
            if existing is not None and data == dict(existing):
                return  # a re-delivery of events the ring holds: nothing to write
            await self._store.put_configmap(
                namespace=self._namespace, name=self._configmap, data=data, owner=self._owner
            )
        except Exception as exc:  # the store's failures (API errors, conflicts) are this sink's failures
            raise SinkError(
                f"sink {self._name}: writing ConfigMap {self._configmap} failed: {type(exc).__name__}: "
                f"{str(exc)[:200]}",
                sink=self._name,
                reason="ConfigMapWriteFailed",
                permanent=False,
            ) from exc
