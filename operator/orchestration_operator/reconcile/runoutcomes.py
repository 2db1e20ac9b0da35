"""What one execute call's failure means for a ServiceRun: did the service run, and may we call again?

The client's errors (``client.errors``) say what happened on the wire; this module maps them onto the
run's four kinds of outcome:

* ``NOT_RUN``: the request provably never reached Drupal, or Drupal refused it before running the
  service (connection refused, DNS, TLS handshake, connect timeout, 401, 403, 429, a failed login).
  Calling again is safe; :mod:`servicerun` does so per ``spec.retry``.
* ``FAILED``: Drupal answered and the service did not succeed: 500 with the module's ``{"error"}``
  (``ServiceFailed``), another 4xx (``RequestRejected``), or a 2xx body that is not JSON
  (``InvalidResponse``: the service ran, its result is unreadable). Final.
* ``UNKNOWN``: the service may or may not have run (read timeout, connection lost mid-answer, 502/504 or
  Drupal's HTML 500, anything unexpected). Final unless ``retry.unknownOutcome: Retry``.

Messages come from the client (which never puts credentials in them) and are shortened; for a
``ServiceFailed`` they carry the service's own exception message, which belongs in status but never in
logs.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Final

from orchestration_operator import client
from orchestration_operator.api import conditions

MAX_MESSAGE_CHARS: Final = 1000


class Kind(enum.Enum):
    NOT_RUN = "NotRun"
    FAILED = "Failed"
    UNKNOWN = "Unknown"


@dataclasses.dataclass(frozen=True)
class Failure:
    """A classified execute failure. ``reason`` is a condition reason."""

    kind: Kind
    reason: str
    message: str
    http_status: int | None = None
    retry_after: float | None = None

    def __repr__(self) -> str:  # the message may hold the service's error text
        return f"Failure({self.kind.value}, {self.reason}, http_status={self.http_status})"


def classify(error: BaseException, *, timeout: float) -> Failure:
    """Classify an exception raised by ``OrchestrationClient.execute``."""
    if not isinstance(error, client.OrchestrationError):
        # A bug or an unexpected library error after the call may have gone out: never assume it did not.
        return Failure(
            Kind.UNKNOWN,
            conditions.OUTCOME_UNKNOWN,
            f"the execute call failed unexpectedly ({type(error).__name__}); the service may have run",
        )
    status = getattr(error, "status", None)
    message = shorten(error.message)
    if not error.outcome_unknown and _refused_before_running(error):
        return Failure(
            Kind.NOT_RUN,
            _not_run_reason(error),
            message,
            http_status=status,
            retry_after=error.retry_after,
        )
    if isinstance(error, client.ServiceFailed):
        return Failure(Kind.FAILED, conditions.SERVICE_FAILED, shorten(error.error), http_status=status)
    if isinstance(error, client.InvalidResponse):
        return Failure(Kind.FAILED, conditions.INVALID_RESPONSE, message, http_status=status)
    if isinstance(error, client.Timeout) and error.outcome_unknown:
        return Failure(
            Kind.UNKNOWN,
            conditions.OUTCOME_UNKNOWN,
            f"no answer within spec.timeout ({timeout:g}s); the service may still be running: {message}",
        )
    if error.outcome_unknown:
        return Failure(Kind.UNKNOWN, conditions.OUTCOME_UNKNOWN, message, http_status=status)
    if isinstance(error, client.HTTPError):  # 400, 404, 405, a redirect, ...: Drupal did not run it
        return Failure(Kind.FAILED, conditions.REQUEST_REJECTED, message, http_status=status)
    if isinstance(error, client.InvalidServiceId):
        return Failure(Kind.FAILED, conditions.INVALID_SPEC, message)
    return Failure(Kind.UNKNOWN, conditions.OUTCOME_UNKNOWN, message, http_status=status)


def _refused_before_running(error: client.OrchestrationError) -> bool:
    if error.before_request:
        return True  # logging in or fetching a CSRF token failed: execute's request never went out
    if isinstance(error, client.TransportError):
        return not error.may_have_reached_server
    # Authentication and flood control are decided before the route runs.
    return isinstance(error, (client.Unauthorized, client.Forbidden, client.RateLimited, client.LoginFailed))


def _not_run_reason(error: client.OrchestrationError) -> str:
    if isinstance(error, client.TLSError):
        return conditions.TLS_ERROR
    if isinstance(error, client.Timeout):
        return conditions.TIMEOUT
    if isinstance(error, client.Unauthorized):
        return conditions.UNAUTHORIZED
    if isinstance(error, (client.Forbidden, client.LoginFailed)):
        return conditions.FORBIDDEN
    if isinstance(error, client.RateLimited):
        return conditions.RATE_LIMITED
    return conditions.UNREACHABLE


def shorten(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
