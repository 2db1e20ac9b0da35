"""Delivery of CloudEvents 1.0 over HTTP: structured or binary content mode, bounded jittered retries.

The rest of ``client`` talks to Drupal; this module talks to *event receivers*, the HTTP sinks of
EventPolls (``reconcile.sinks`` adapts it). It is here because httpx lives only in ``client``. One
``httpx.AsyncClient`` (:func:`new_http_client`) can serve every sender of the process; each sender holds
its own URL, headers and policy.

- Structured mode: ``Content-Type: application/cloudevents+json``, the whole event as a JSON object.
- Binary mode: the attributes as ``ce-*`` headers (percent-encoded as the HTTP binding requires), the
  data as the JSON body with ``Content-Type: application/json``.
- A 2xx accepts the event. 408, 429, 5xx, timeouts and transport failures are retried with jittered
  exponential backoff (``Retry-After`` honoured up to a cap); any other status (4xx, an unfollowed 3xx)
  is a permanent failure: repeating the same request cannot help.
- Headers come from a Secret: their values never appear in logs, errors or reprs. Nor does the URL's
  path or query (webhook URLs often embed a token): messages name the receiver as ``scheme://host:port``.
- Response bodies are never read beyond a small bound and never quoted (a receiver may echo headers).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import email.utils
import json
import logging
import random
import re
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Literal

import httpx

logger = logging.getLogger("orchestration_operator.client.cloudevents")

SPECVERSION: Final = "1.0"
STRUCTURED_CONTENT_TYPE: Final = "application/cloudevents+json; charset=utf-8"
JSON_CONTENT_TYPE: Final = "application/json"
DRAIN_LIMIT: Final = 64 * 1024  # bytes of a response read so that the connection can be reused

ContentMode = Literal["structured", "binary"]
Sleep = Callable[[float], Awaitable[None]]
HttpClient = httpx.AsyncClient
"""The pooled client senders share (:func:`new_http_client`), named here so that callers outside
``client`` can hold one without importing httpx."""

_TOKEN_RE: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_EXTENSION_RE: Final = re.compile(r"[a-z0-9]{1,20}\Z")
_RESERVED_HEADERS: Final = frozenset(
    {"content-type", "content-length", "host", "transfer-encoding", "connection"}
)
_CORE_ATTRIBUTES: Final = frozenset(
    {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "data"}
)


class SinkConfigError(ValueError):
    """A sender that cannot be built: bad URL, header name or value. Messages never quote values."""


class DeliveryError(Exception):
    """An event was not accepted. ``permanent``: repeating the same request cannot succeed."""

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        permanent: bool,
        attempts: int,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.permanent = permanent
        self.attempts = attempts
        self.status = status
        self.retry_after = retry_after


@dataclasses.dataclass(frozen=True, kw_only=True)
class CloudEvent:
    """One CloudEvent 1.0 with JSON data."""

    id: str
    source: str
    type: str
    data: Any
    subject: str | None = None
    time: str | None = None
    datacontenttype: str = JSON_CONTENT_TYPE
    extensions: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.extensions:
            if not _EXTENSION_RE.match(name) or name in _CORE_ATTRIBUTES:
                raise SinkConfigError(f"invalid CloudEvents extension attribute name {name!r:.30}")

    def attributes(self) -> dict[str, str]:
        """The context attributes (everything but ``data``), optional ones only when set."""
        attributes = {"specversion": SPECVERSION, "id": self.id, "source": self.source, "type": self.type}
        if self.subject is not None:
            attributes["subject"] = self.subject
        if self.time is not None:
            attributes["time"] = self.time
        attributes["datacontenttype"] = self.datacontenttype
        attributes.update(self.extensions)
        return attributes

    def structured(self) -> dict[str, Any]:
        """The event in the JSON event format (structured content mode)."""
        return {**self.attributes(), "data": self.data}


def rfc3339(timestamp: int) -> str | None:
    """``2025-06-15T14:13:20Z`` for Unix seconds; None when out of range for a calendar date."""
    try:
        moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def percent_encode(value: str) -> str:
    """A header value as the CloudEvents HTTP binding wants it: printable ASCII except space, ``"`` and
    ``%`` kept, everything else percent-encoded from UTF-8."""
    out: list[str] = []
    for char in value:
        if "!" <= char <= "~" and char not in '"%':
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    return "".join(out)


def encode(event: CloudEvent, mode: ContentMode) -> tuple[dict[str, str], bytes]:
    """Headers and body of the HTTP request carrying ``event`` in ``mode``."""
    if mode == "structured":
        return {"content-type": STRUCTURED_CONTENT_TYPE}, _json(event.structured())
    headers = {f"ce-{name}": percent_encode(value) for name, value in event.attributes().items()}
    headers.pop("ce-datacontenttype")
    headers["content-type"] = event.datacontenttype
    return headers, _json(event.data)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeliveryPolicy:
    """Timeout and retries of one event's delivery. ``sleep`` and ``random`` are injectable for tests."""

    timeout: float = 10.0
    attempts: int = 4  # total, including the first
    initial_delay: float = 0.5
    max_delay: float = 8.0
    multiplier: float = 2.0
    max_retry_after: float = 30.0  # a longer Retry-After ends the attempts; the error carries it
    sleep: Sleep = asyncio.sleep
    random: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.timeout <= 0:
            raise SinkConfigError("a delivery policy needs attempts >= 1 and a timeout > 0")
        if min(self.initial_delay, self.max_delay, self.max_retry_after) < 0 or self.multiplier < 1:
            raise SinkConfigError("delivery policy delays must be >= 0 and the multiplier >= 1")

    def backoff(self, retry_number: int) -> float:
        """Equal jitter: between half and all of the exponential step (retry_number is 1-based)."""
        step = min(self.max_delay, self.initial_delay * self.multiplier ** (retry_number - 1))
        return step / 2 + self.random() * step / 2


def new_http_client(*, verify: bool | ssl.SSLContext = True, max_connections: int = 100) -> HttpClient:
    """One client for all senders of a process: no redirects followed, bounded connection pool."""
    return httpx.AsyncClient(
        verify=verify,
        follow_redirects=False,
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections // 4),
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


class CloudEventSender:
    """Sends events to one receiver URL."""

    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient,
        mode: ContentMode = "structured",
        headers: Mapping[str, str] | None = None,
        policy: DeliveryPolicy = DeliveryPolicy(),
    ) -> None:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise SinkConfigError("the sink URL is not a valid URL") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise SinkConfigError("the sink URL must be an absolute http:// or https:// URL")
        if mode not in ("structured", "binary"):
            raise SinkConfigError(f"unknown CloudEvents content mode {mode!r:.20}: structured or binary")
        self._url = parsed
        self.target = f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")
        self.mode: ContentMode = mode
        self.policy = policy
        self._client = client
        self._headers = _checked_headers(headers or {})

    def __repr__(self) -> str:
        return f"<CloudEventSender {self.mode} to {self.target} with {len(self._headers)} extra header(s)>"

    async def send(self, event: CloudEvent) -> int:
        """Deliver ``event``; returns the number of attempts it took. Raises :class:`DeliveryError`."""
        event_headers, body = encode(event, self.mode)
        headers = {**self._headers, **event_headers}
        attempt = 0
        while True:
            attempt += 1
            failure = await self._attempt(headers, body, attempt)
            if failure is None:
                return attempt
            if failure.permanent or attempt >= self.policy.attempts:
                raise failure
            delay = self.policy.backoff(attempt)
            if failure.retry_after is not None:
                if failure.retry_after > self.policy.max_retry_after:
                    raise failure
                delay = failure.retry_after
            logger.debug(
                "CloudEvent delivery to %s failed (%s), attempt %d of %d, retrying in %.2fs",
                self.target,
                failure.reason,
                attempt,
                self.policy.attempts,
                delay,
            )
            await self.policy.sleep(delay)

    async def _attempt(self, headers: dict[str, str], body: bytes, attempt: int) -> DeliveryError | None:
        try:
            async with self._client.stream(
                "POST", self._url, headers=headers, content=body, timeout=self.policy.timeout
            ) as response:
                await _drain(response)
        except httpx.TimeoutException as exc:
            return self._failure("timed out", reason="Timeout", attempt=attempt, cause=exc)
        except (httpx.ConnectError, httpx.UnsupportedProtocol) as exc:
            return self._failure("is unreachable", reason="Unreachable", attempt=attempt, cause=exc)
        except httpx.TransportError as exc:
            return self._failure("broke the connection", reason="ConnectionLost", attempt=attempt, cause=exc)
        status = response.status_code
        if 200 <= status < 300:
            return None
        retryable = status in (408, 429) or status >= 500
        phrase = response.reason_phrase or "no reason given"
        if 300 <= status < 400:
            phrase += " (redirects are not followed: point the sink at the final URL)"
        return DeliveryError(
            f"receiver {self.target} answered {status} {phrase} (attempt {attempt})",
            reason="HTTPStatus",
            permanent=not retryable,
            attempts=attempt,
            status=status,
            retry_after=_retry_after(response) if retryable else None,
        )

    def _failure(self, what: str, *, reason: str, attempt: int, cause: Exception) -> DeliveryError:
        # Not chained on purpose: httpx messages and tracebacks may hold the full URL, token included.
        # The exception's type says enough.
        return DeliveryError(
            f"receiver {self.target} {what} ({type(cause).__name__}, attempt {attempt})",
            reason=reason,
            permanent=False,
            attempts=attempt,
        )


async def _drain(response: httpx.Response) -> None:
    """Read (and drop) a small body so the connection can be reused; a larger one closes it."""
    if response.is_stream_consumed:
        return
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read > DRAIN_LIMIT:
            break


def _checked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN_RE.match(name):
            raise SinkConfigError(f"invalid HTTP header name {str(name)[:40]!r}")
        lowered = name.lower()
        if lowered in _RESERVED_HEADERS or lowered.startswith("ce-"):
            raise SinkConfigError(f"header {name!r} is set by the operator and cannot be configured")
        if not isinstance(value, str) or not all(" " <= c <= "~" or c == "\t" for c in value):
            raise SinkConfigError(f"the value of header {name!r} is not a valid header value (not shown)")
        checked[lowered] = value
    return checked
