"""The one place where the client decides whether, and when, to try a request again.

``client`` wraps each call in ``run``; everything else (which errors exist, what ``Retry-After`` said)
comes from ``errors``. The rules:

- Listing, polling, registering and unregistering are safe to repeat (they read, or overwrite with the
  same value), so they are retried on transport errors and on 429/502/503/504.
- ``execute`` is not idempotent and has no idempotency key: it is retried only when the request provably
  never left this process (connection refused, DNS failure, TLS handshake failure, connect or pool
  timeout). A read timeout, a reset or a 502/504 means the service may have run.
- Bounded attempts, exponential backoff with jitter, ``Retry-After`` honoured up to a cap; beyond the cap
  the error is raised with its ``retry_after`` so that the caller can come back later instead of sleeping.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from orchestration_operator.client import errors

logger = logging.getLogger("orchestration_operator.client")

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


@dataclasses.dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how long to retry. ``sleep`` and ``random`` are injectable for tests."""

    attempts: int = 4  # total, including the first
    initial_delay: float = 0.5
    max_delay: float = 8.0
    multiplier: float = 2.0
    max_retry_after: float = 30.0  # a longer Retry-After is returned to the caller, not slept
    sleep: Sleep = asyncio.sleep
    random: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if min(self.initial_delay, self.max_delay, self.max_retry_after) < 0 or self.multiplier < 1:
            raise ValueError("RetryPolicy delays must be >= 0 and multiplier >= 1")

    def backoff(self, retry_number: int) -> float:
        """Delay before retry number ``retry_number`` (1-based), without a ``Retry-After``.

        "Equal jitter": between half and all of the exponential step, so that a burst of failed requests
        does not come back in lockstep, yet no retry comes back immediately.
        """
        step = min(self.max_delay, self.initial_delay * self.multiplier ** (retry_number - 1))
        return step / 2 + self.random() * step / 2

    def delay(self, error: errors.OrchestrationError, retry_number: int) -> float | None:
        """Seconds to wait before retry ``retry_number``, or None to give up and raise ``error``."""
        if retry_number >= self.attempts:
            return None
        retry_after = error.retry_after
        if retry_after is None:
            return self.backoff(retry_number)
        if retry_after > self.max_retry_after:
            return None
        return max(retry_after, 0.0)


DEFAULT = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)


def retryable(error: errors.OrchestrationError, *, idempotent: bool) -> bool:
    """Whether repeating the request that failed with ``error`` is allowed at all."""
    if isinstance(error, errors.TLSError) and error.certificate_problem:
        return False  # an untrusted certificate stays untrusted
    if error.before_request:
        idempotent = True  # it failed while logging in: the call's own request never went out
    if isinstance(error, errors.TransportError):
        return idempotent or not error.may_have_reached_server
    if isinstance(error, errors.HTTPError) and error.status in RETRYABLE_STATUSES:
        return idempotent
    return False


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds from ``now`` that a ``Retry-After`` header asks for (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive parse means "-0000"
        return None
    return max(when.timestamp() - now, 0.0)


async def run(
    policy: RetryPolicy,
    operation: Callable[[], Awaitable[T]],
    *,
    idempotent: bool,
    route: str,
    log_extra: Mapping[str, Any] | None = None,
) -> T:
    """Await ``operation()`` and retry it per ``policy`` while its errors are ``retryable``.

    ``log_extra`` goes with each retry's log line (``extra=``: which site or object it is about)."""
    retry_number = 0
    while True:
        try:
            return await operation()
        except errors.OrchestrationError as error:
            retry_number += 1
            delay = policy.delay(error, retry_number) if retryable(error, idempotent=idempotent) else None
            if delay is None:
                raise
            logger.info(
                "%s failed (%s), retry %d of %d in %.2fs",
                route,
                error.reason,
                retry_number,
                policy.attempts - 1,
                delay,
                extra=log_extra,
            )
        await policy.sleep(delay)
