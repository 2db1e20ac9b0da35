"""What a failed call to a site means for a resource's conditions: a reason, a message, stalled or not.

Every kind that calls the site (Connection probes, Webhook registrations, ...) turns the client's
errors (``client.errors``) and the site registry's configuration errors (``sites.SiteConfigError``)
into a :class:`Failure` here, so one failure has one reason everywhere.

Stalled (only a change of the spec or of a referenced Secret can help, per the status conventions):

* ``InvalidSpec``, ``SecretNotFound``: the object or its Secret must change.
* ``Unauthorized`` (401: no credentials reached the site) and ``Forbidden`` (403: wrong credentials,
  blocked or flood-controlled user, or a user without the ``use orchestration connect`` permission):
  the credentials, the auth method or the user's permission must change. Retrying the same wrong
  password is worse than useless: Drupal blocks a user after 5 failed logins in 6 hours.

Everything else retries by itself (Reconciling): ``Unreachable``, ``Timeout``, ``TLSError`` (a site's
certificate is as often renewed on the site as fixed in the spec), ``InvalidResponse`` (including 404,
a module not yet enabled), ``ServerError``.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from orchestration_operator import client
from orchestration_operator.api import conditions
from orchestration_operator.reconcile import sites


@dataclasses.dataclass(frozen=True)
class Failure:
    """A failed step: the condition reason and message, and whether only a person can fix it."""

    reason: str
    message: str
    stalled: bool

    @property
    def auth(self) -> bool:
        """The site refused the credentials (a retry with the same credentials counts as a failed login)."""
        return self.reason in AUTH_REASONS


AUTH_REASONS: Final = frozenset({conditions.UNAUTHORIZED, conditions.FORBIDDEN})
STALLED_REASONS: Final = frozenset(
    {conditions.INVALID_SPEC, conditions.SECRET_NOT_FOUND, conditions.UNAUTHORIZED, conditions.FORBIDDEN}
)

# Most specific class first: the first isinstance match wins.
_REASONS: Final[tuple[tuple[type[client.OrchestrationError], str], ...]] = (
    (client.Unauthorized, conditions.UNAUTHORIZED),
    (client.Forbidden, conditions.FORBIDDEN),
    (client.LoginFailed, conditions.FORBIDDEN),
    (client.TLSError, conditions.TLS_ERROR),
    (client.Timeout, conditions.TIMEOUT),
    (client.ConnectError, conditions.UNREACHABLE),
    (client.ConnectionLost, conditions.UNREACHABLE),
    (client.TransportError, conditions.UNREACHABLE),
    (client.NotFound, conditions.INVALID_RESPONSE),
    (client.InvalidResponse, conditions.INVALID_RESPONSE),
    (client.ServerError, conditions.SERVER_ERROR),
    (client.ServiceFailed, conditions.SERVER_ERROR),
)


def from_client_error(error: client.OrchestrationError, *, fallback: str) -> Failure:
    """The failure for an error of the client; ``fallback`` is the reason for anything unlisted
    (400, 429, a redirect: ``InvalidResponse`` for a probe, ``RegistrationFailed`` for a webhook)."""
    reason = next((reason for kind, reason in _REASONS if isinstance(error, kind)), fallback)
    return Failure(reason=reason, message=error.message, stalled=reason in STALLED_REASONS)


def from_site_config_error(error: sites.SiteConfigError) -> Failure:
    """A Connection that cannot be turned into a client (missing Secret or key, bad CA): stalled."""
    return Failure(reason=error.reason, message=error.message, stalled=error.reason in STALLED_REASONS)


FIRST_RETRY: Final = 2.0
"""Seconds before the first retry of a failure that retries by itself; it doubles from there."""


def backoff(failures_in_a_row: int, *, cap: float) -> float:
    """Delay before retrying after ``failures_in_a_row`` failures (1-based): 2 s, 4 s, 8 s ... <= cap."""
    return min(cap, FIRST_RETRY * 2.0 ** min(failures_in_a_row - 1, 16))


def invalid_spec(message: str) -> Failure:
    return Failure(reason=conditions.INVALID_SPEC, message=message, stalled=True)
