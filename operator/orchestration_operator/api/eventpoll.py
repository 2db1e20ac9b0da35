"""EventPoll (``epoll``): a cursor over a site's poll route, delivering every event to sinks once.

The cursor (``status.cursor``) advances only after every sink accepted a batch. Because sites differ on
``>`` versus ``>=`` and timestamps have one-second resolution, the operator asks with an overlap and
remembers the stable ids of events delivered at the cursor's edge (``status.edgeKeys``, bounded), so
late arrivals within the newest second are delivered and nothing is delivered twice. A new value of the
annotation :data:`orchestration_operator.api.names.RESET_CURSOR_ANNOTATION` moves the cursor on purpose.
"""

from __future__ import annotations

import enum
from typing import Annotated, Final, Literal

import pydantic
import pydantic_core

from orchestration_operator.api import base, fields, names, refs, retrying, status

#: Most stable event ids remembered at the cursor's edge (``status.edgeKeys``).
MAX_EDGE_KEYS: Final = 1000
#: Most sinks per EventPoll.
MAX_SINKS: Final = 8

_POLL_NAME = fields.Text(max_length=255, pattern=r"^\S+$", message="must be a poll name without spaces")
_CURSOR_ID = fields.Text(max_length=256)
_EXACTLY_ONE_START = "set exactly one of position, timestamp or id"
_EXACTLY_ONE_URL = "set exactly one of url or urlFrom"
_EXACTLY_ONE_SINK = "set exactly one of http or configMap"
_TIMESTAMP_NEEDS_MODE = "startFrom.timestamp needs mode: timestamp (use startFrom.id with mode: id)"
_ID_NEEDS_MODE = "startFrom.id needs mode: id (use startFrom.timestamp with mode: timestamp)"
MODE_IMMUTABLE_MESSAGE: Final = (
    "mode is immutable: the cursor's meaning depends on it; create a new EventPoll instead"
)


class PollMode(enum.StrEnum):
    """How the site's poll event pages: by timestamp (ECA "Poll by timestamp") or by id ("Poll by ID")."""

    TIMESTAMP = "timestamp"
    ID = "id"


class StartPosition(enum.StrEnum):
    """A symbolic starting point for a new cursor."""

    NOW = "now"
    BEGINNING = "beginning"


class StartFrom(base.SpecModel):
    """Where a new EventPoll (one without status.cursor) starts: exactly one of position, timestamp or id.
    Ignored once a cursor exists; use the reset-cursor annotation to move it."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=base.validations(
            base.cel(
                "(has(self.position) ? 1 : 0) + (has(self.timestamp) ? 1 : 0) + (has(self.id) ? 1 : 0) == 1",
                _EXACTLY_ONE_START,
            )
        )
    )

    position: StartPosition | None = pydantic.Field(
        default=None,
        description="now: only events from the first poll on (the default); beginning: every event the "
        'site still reports (timestamp 0, or id "0").',
    )
    timestamp: int | None = pydantic.Field(
        default=None, ge=0, description="Start after this Unix time in seconds (mode: timestamp)."
    )
    id: Annotated[str, _CURSOR_ID] | None = pydantic.Field(
        default=None, description="Start after this event id (mode: id)."
    )

    @pydantic.model_validator(mode="after")
    def _exactly_one(self) -> StartFrom:
        if sum(value is not None for value in (self.position, self.timestamp, self.id)) != 1:
            raise pydantic_core.PydanticCustomError("exactly_one", _EXACTLY_ONE_START)
        return self


class CloudEventsMode(enum.StrEnum):
    """The CloudEvents HTTP binding: the whole event as JSON (structured) or data in the body and
    attributes in ce-* headers (binary)."""

    STRUCTURED = "structured"
    BINARY = "binary"


class HeadersSource(base.SpecModel):
    """Extra HTTP headers read from a Secret: each key is a header name, each value its value."""

    secret_ref: refs.SecretReference = pydantic.Field(
        description="The Secret whose keys and values become request headers (e.g. Authorization)."
    )


class SinkRetry(base.SpecModel):
    """Retries of one delivery inside a poll cycle. When they are exhausted the cursor is held and the
    whole batch is tried again on the next cycle, so nothing is skipped."""

    max_attempts: int = pydantic.Field(
        default=5, ge=1, le=20, description="Most tries per event per poll cycle, counting the first."
    )
    backoff: retrying.Backoff = pydantic.Field(
        default_factory=retrying.Backoff,
        description="Delay between tries.",
        json_schema_extra=base.EMPTY_DEFAULT,
    )


class HttpSink(base.SpecModel):
    """POST each event to an HTTP endpoint as a CloudEvent; a 2xx answer accepts it. Each event carries a
    stable id (from the poll name, cursor value and content) so the receiver can drop a re-delivery."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=base.validations(base.cel("has(self.url) != has(self.urlFrom)", _EXACTLY_ONE_URL))
    )

    url: fields.EndpointUrl | None = pydantic.Field(default=None, description="The endpoint.")
    url_from: refs.UrlSource | None = pydantic.Field(
        default=None, description="Read the endpoint from a Secret (when it embeds a token)."
    )
    mode: CloudEventsMode = pydantic.Field(
        default=CloudEventsMode.STRUCTURED, description="CloudEvents HTTP mode: structured or binary."
    )
    headers_from: HeadersSource | None = pydantic.Field(
        default=None, description="Extra request headers from a Secret."
    )
    timeout: Annotated[str, fields.Duration(minimum="1s", maximum="5m")] = pydantic.Field(
        default="10s", description="Timeout of each delivery request."
    )
    retry: SinkRetry = pydantic.Field(
        default_factory=SinkRetry,
        description="Retries with backoff of a failed delivery.",
        json_schema_extra=base.EMPTY_DEFAULT,
    )

    @pydantic.model_validator(mode="after")
    def _exactly_one_url(self) -> HttpSink:
        if (self.url is None) == (self.url_from is None):
            raise pydantic_core.PydanticCustomError("exactly_one", _EXACTLY_ONE_URL)
        return self


class ConfigMapSink(base.SpecModel):
    """Keep the latest events in a ConfigMap owned by the EventPoll, for inspection (a bounded ring)."""

    name: fields.ObjectName = pydantic.Field(description="Name of the ConfigMap (same namespace).")
    max_events: int = pydantic.Field(
        default=50,
        ge=1,
        le=1000,
        description="Most events kept; the oldest go first (also to stay under the ConfigMap size limit).",
    )


class Sink(base.SpecModel):
    """One destination of every event: exactly one of http or configMap."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=base.validations(
            base.cel("has(self.http) != has(self.configMap)", _EXACTLY_ONE_SINK)
        )
    )

    name: fields.LabelName = pydantic.Field(
        description="Names the sink in status and conditions; unique in the list."
    )
    http: HttpSink | None = pydantic.Field(default=None, description="Deliver to an HTTP endpoint.")
    config_map: ConfigMapSink | None = pydantic.Field(
        default=None, description="Keep the latest events in a ConfigMap."
    )

    @pydantic.model_validator(mode="after")
    def _exactly_one_kind(self) -> Sink:
        if (self.http is None) == (self.config_map is None):
            raise pydantic_core.PydanticCustomError("exactly_one", _EXACTLY_ONE_SINK)
        return self


class EventPollSpec(base.SpecModel):
    """Poll a site's events and deliver each one to every sink."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=base.validations(
            base.cel(
                "!has(self.startFrom) || !has(self.startFrom.timestamp) || self.mode == 'timestamp'",
                _TIMESTAMP_NEEDS_MODE,
            ),
            base.cel("!has(self.startFrom) || !has(self.startFrom.id) || self.mode == 'id'", _ID_NEEDS_MODE),
        )
    )

    connection_ref: refs.ConnectionReference = pydantic.Field(
        description="The OrchestrationConnection of the site to poll."
    )
    name: Annotated[str, _POLL_NAME] = pydantic.Field(
        description="The poll name: the Event ID configured on the site's ECA 'Poll by timestamp' or 'Poll "
        "by ID' event."
    )
    mode: PollMode = pydantic.Field(
        description="timestamp or id, matching the site's poll event. Immutable.",
        json_schema_extra=base.validations(base.cel("self == oldSelf", MODE_IMMUTABLE_MESSAGE)),
    )
    interval: Annotated[str, fields.Duration(minimum="1s", maximum="24h")] = pydantic.Field(
        default="30s", description="Time between polls (jittered so many EventPolls spread out)."
    )
    start_from: StartFrom = pydantic.Field(
        default_factory=lambda: StartFrom(position=StartPosition.NOW),
        description="Where a new EventPoll starts: now (default), beginning, or an explicit cursor.",
        json_schema_extra={"default": {"position": "now"}},
    )
    sinks: list[Sink] = pydantic.Field(
        min_length=1,
        max_length=MAX_SINKS,
        description="Where each event goes. The cursor advances only when every sink accepted the batch.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    suspend: bool = pydantic.Field(default=False, description="Stop polling while true; the cursor is kept.")

    @pydantic.model_validator(mode="after")
    def _start_matches_mode(self) -> EventPollSpec:
        if self.start_from.timestamp is not None and self.mode != PollMode.TIMESTAMP:
            raise pydantic_core.PydanticCustomError("start_mode", _TIMESTAMP_NEEDS_MODE)
        if self.start_from.id is not None and self.mode != PollMode.ID:
            raise pydantic_core.PydanticCustomError("start_mode", _ID_NEEDS_MODE)
        return self

    @pydantic.field_validator("sinks")
    @classmethod
    def _unique_names(cls, sinks: list[Sink]) -> list[Sink]:
        seen: set[str] = set()
        for sink in sinks:
            if sink.name in seen:
                raise pydantic_core.PydanticCustomError(
                    "duplicate_name", "sink name '{name}' appears more than once", {"name": sink.name}
                )
            seen.add(sink.name)
        return sinks


class Cursor(base.StatusModel):
    """The position after the newest event delivered to every sink: a timestamp or an id, per mode."""

    timestamp: int | None = pydantic.Field(
        default=None,
        ge=0,
        description="Unix time in seconds of the newest event delivered (mode: timestamp).",
    )
    id: str | None = pydantic.Field(default=None, description="The newest event id delivered (mode: id).")


class SinkStatus(base.StatusModel):
    """Delivery state of one sink."""

    name: str = pydantic.Field(description="The sink's name in spec.sinks.")
    events_delivered: int = pydantic.Field(default=0, ge=0, description="Events this sink accepted.")
    last_delivery_time: fields.Time | None = pydantic.Field(
        default=None, description="When this sink last accepted an event."
    )
    consecutive_failures: int = pydantic.Field(
        default=0, ge=0, description="Failed delivery cycles in a row (0 when healthy)."
    )
    last_error: str | None = pydantic.Field(
        default=None, description="The last delivery error (status code or transport error), shortened."
    )


class EventPollStatus(status.ResourceStatus):
    """The cursor, what is remembered at its edge, and delivery counters."""

    cursor: Cursor | None = pydantic.Field(
        default=None,
        description="Position after the newest event every sink accepted; absent until the first poll.",
    )
    edge_keys: list[str] = pydantic.Field(
        default_factory=list,
        max_length=MAX_EDGE_KEYS,
        description="What was already delivered at the cursor's edge (the overlap asked again on the next "
        "poll): entries '<timestamp>:<key>' (mode timestamp) or '<key>' (mode id), where <key> is an "
        "event id (32 hex digits) or '*' for a value whose every event counts as delivered; at most "
        f"{MAX_EDGE_KEYS}.",
    )
    cursor_reset: str | None = pydantic.Field(
        default=None,
        description="The value of the drupal-orchestration.io/reset-cursor annotation last applied.",
    )
    last_poll_time: fields.Time | None = pydantic.Field(
        default=None, description="When the site was last polled, successfully or not."
    )
    last_success_time: fields.Time | None = pydantic.Field(
        default=None, description="When a poll and its delivery last succeeded."
    )
    last_event_time: fields.Time | None = pydantic.Field(
        default=None,
        description="Mode timestamp: the newest delivered event's timestamp. Mode id: when the newest event "
        "was delivered.",
    )
    lag_seconds: int | None = pydantic.Field(
        default=None,
        ge=0,
        description="Seconds between lastSuccessTime and lastEventTime: how far behind the newest event "
        "delivery is (mode timestamp).",
    )
    last_batch_size: int = pydantic.Field(
        default=0, ge=0, description="New events in the last successful poll."
    )
    events_delivered: int = pydantic.Field(
        default=0, ge=0, description="Events delivered to every sink since the EventPoll was created."
    )
    duplicates_skipped: int = pydantic.Field(
        default=0, ge=0, description="Items the site reported again and that were not delivered twice."
    )
    polls: int = pydantic.Field(default=0, ge=0, description="Successful polls since creation.")
    consecutive_failures: int = pydantic.Field(
        default=0, ge=0, description="Failed poll or delivery cycles in a row (0 when healthy)."
    )
    sinks: list[SinkStatus] = pydantic.Field(
        default_factory=list,
        max_length=MAX_SINKS,
        description="Delivery state per sink.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )


class EventPoll(base.Resource):
    """A cursor over a Drupal site's polled events, delivering each event to every sink once."""

    api_version: Literal["drupal-orchestration.io/v1alpha1"] = pydantic.Field(
        default="drupal-orchestration.io/v1alpha1", description="The API version."
    )
    kind: Literal["EventPoll"] = pydantic.Field(default="EventPoll", description="The kind.")
    spec: EventPollSpec = pydantic.Field(description="The desired state.")
    status: EventPollStatus = pydantic.Field(
        default_factory=EventPollStatus, description="The observed state."
    )


KIND = names.Kind(
    kind="EventPoll",
    plural="eventpolls",
    singular="eventpoll",
    short_names=("epoll",),
    resource=EventPoll,
    spec=EventPollSpec,
    status=EventPollStatus,
    printer_columns=(
        names.PrinterColumn(
            name="Mode", type="string", json_path=".spec.mode", description="timestamp or id."
        ),
        names.PrinterColumn(
            name="Cursor",
            type="string",
            # The one value of the cursor (its timestamp or its id): the object itself would print as
            # map[timestamp:...] on a real API server.
            json_path=".status.cursor.*",
            description="The newest timestamp or id delivered to every sink.",
        ),
        names.PrinterColumn(
            name="Last Poll",
            type="date",
            json_path=".status.lastPollTime",
            description="When it last polled.",
        ),
        *names.ready_columns(),
        names.PrinterColumn(
            name="Delivered",
            type="integer",
            json_path=".status.eventsDelivered",
            description="Events delivered to every sink.",
            priority=1,
        ),
        names.AGE_COLUMN,
    ),
)
