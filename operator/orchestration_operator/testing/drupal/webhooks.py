"""Stored webhooks and their dispatch, as the orchestration module and ECA's "Dispatch webhook" do.

``POST /orchestration/webhook/register`` stores ``{url, remote: true, method: POST, timeout: 30,
verify: true, auth_method: none}`` under ``Html::getId(id)``, silently replacing what was there (also
a webhook an administrator made in the admin UI: ``WebhookStore.admin_set``). There is no read-back
route; tests read ``WebhookStore.snapshot``.

``dispatch`` plays the ECA action: one POST of the JSON data to the stored URL, with the stored timeout
and TLS verification, no auth and no signature. Failures are reported to the caller (Drupal would
only log them) and never retried.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from orchestration_operator.testing.drupal import phpjson

DISPATCH_HISTORY_LIMIT = 1000
_EXCERPT = 200


@dataclass(frozen=True)
class WebhookRecord:
    """What Drupal's key-value store holds for one webhook."""

    key: str
    id: str
    url: Any
    remote: bool = True
    method: str = "POST"
    timeout: float = 30
    verify: bool = True
    auth_method: str = "none"
    registered_at: float = field(default_factory=time.time)
    source: str = "api"  # "api" (register route) or "admin" (admin UI / control API)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WebhookRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})


@dataclass(frozen=True)
class DispatchResult:
    """What happened when the site dispatched an event to a webhook."""

    key: str
    url: Any
    delivered: bool
    status: int | None = None
    error: str | None = None
    body_excerpt: str = ""
    duration: float = 0.0
    time: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DispatchResult:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})


class WebhookStore:
    """Webhooks by storage key, plus the history of dispatches (thread-safe)."""

    def __init__(self) -> None:
        self._webhooks: dict[str, WebhookRecord] = {}
        self._dispatches: list[DispatchResult] = []
        self._lock = threading.Lock()

    def register(self, key: str, *, webhook_id: str, url: Any) -> WebhookRecord:
        record = WebhookRecord(key=key, id=webhook_id, url=url)
        with self._lock:
            self._webhooks[key] = record
        return record

    def admin_set(self, key: str, url: Any, **fields: Any) -> WebhookRecord:
        """Store a webhook as an administrator would in the admin UI (overwrites, like the API)."""
        fields.setdefault("id", key)
        fields.setdefault("source", "admin")
        record = WebhookRecord(key=key, url=url, **fields)
        with self._lock:
            self._webhooks[key] = record
        return record

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._webhooks.pop(key, None) is not None

    def get(self, key: str) -> WebhookRecord | None:
        with self._lock:
            return self._webhooks.get(key)

    def snapshot(self) -> dict[str, WebhookRecord]:
        with self._lock:
            return dict(self._webhooks)

    def clear(self) -> None:
        with self._lock:
            self._webhooks.clear()
            self._dispatches.clear()

    def dispatches(self) -> list[DispatchResult]:
        with self._lock:
            return list(self._dispatches)

    def _remember(self, result: DispatchResult) -> DispatchResult:
        with self._lock:
            self._dispatches.append(result)
            del self._dispatches[:-DISPATCH_HISTORY_LIMIT]
        return result

    async def dispatch(self, key: str, data: Any) -> DispatchResult:
        """POST ``data`` to the webhook stored under ``key``, once; never raises for delivery errors."""
        record = self.get(key)
        if record is None:
            return self._remember(
                DispatchResult(key=key, url=None, delivered=False, error="no webhook stored")
            )
        if not isinstance(record.url, str) or not record.url.startswith(("http://", "https://")):
            return self._remember(
                DispatchResult(key=key, url=record.url, delivered=False, error="stored URL is not http(s)")
            )
        started = time.monotonic()
        body = phpjson.encode(data, hex_escapes=False)
        try:
            timeout = aiohttp.ClientTimeout(total=record.timeout)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.request(
                    record.method,
                    record.url,
                    data=body,
                    headers={
                        "Content-Type": "application/json",
                        "User-Agent": "Drupal (+https://www.drupal.org/)",
                    },
                    ssl=bool(record.verify),
                    max_redirects=5,  # Guzzle follows up to 5 redirects by default
                ) as response,
            ):
                text = (await response.content.read(_EXCERPT)).decode("utf-8", "replace")
                result = DispatchResult(
                    key=key,
                    url=record.url,
                    delivered=200 <= response.status < 300,
                    status=response.status,
                    body_excerpt=text,
                    duration=time.monotonic() - started,
                )
        except TimeoutError:
            result = DispatchResult(
                key=key, url=record.url, delivered=False, error="timeout", duration=time.monotonic() - started
            )
        except aiohttp.ClientError as exc:
            result = DispatchResult(
                key=key,
                url=record.url,
                delivered=False,
                error=f"{type(exc).__name__}: {exc}"[:_EXCERPT],
                duration=time.monotonic() - started,
            )
        return self._remember(result)
