"""The client's one error hierarchy: every failure of a call to the Orchestration API is one of these.

``transport`` turns httpx exceptions into the ``TransportError`` branch and ``responses`` turns HTTP
answers into the ``HTTPError`` and ``InvalidResponse`` branches; callers never see httpx. Each class
carries a stable machine ``reason`` (the operator maps it to condition reasons, the ``check`` command to
exit codes) and ``outcome_unknown``: for ``execute``, whether the service may have run although the call
failed (at-most-once bookkeeping rests on it).

Messages are for people and never hold credentials: they show statuses, the route, and short excerpts of
bodies stripped of markup.
"""

from __future__ import annotations

from typing import ClassVar

PERMISSION = "use orchestration connect"

FORBIDDEN_HINT = (
    "wrong credentials, blocked user, flood control (too many failed logins), "
    f'or the user lacks the "{PERMISSION}" permission'
)


class OrchestrationError(Exception):
    """Base class of every error the client raises."""

    reason: ClassVar[str] = "Error"

    def __init__(self, message: str, *, route: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.route = route  # the name of the route that failed (routes.Route.name)
        # Set by the client when the failure happened while preparing the call (logging in, fetching a
        # CSRF token): the call's own request was then never sent.
        self.before_request = False

    @property
    def outcome_unknown(self) -> bool:
        """True when the call's request may have been processed although the call failed.

        For ``execute``: True means the service may have run (do not run it again blindly); False means
        it did not run, or ran and failed (``ServiceFailed``).
        """
        return not self.before_request and self._may_have_been_processed()

    def _may_have_been_processed(self) -> bool:
        return False

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked us to wait (``Retry-After``), when it said so."""
        return None


class InvalidServiceId(OrchestrationError, ValueError):
    """A service id that is not ``provider::service``; raised before anything is sent."""

    reason = "InvalidServiceId"


# --- transport failures: no HTTP answer was received ---------------------------------------------------


class TransportError(OrchestrationError):
    """No complete HTTP answer; ``may_have_reached_server`` says whether Drupal may have seen the request."""

    reason = "Unreachable"

    def __init__(self, message: str, *, may_have_reached_server: bool, route: str | None = None) -> None:
        super().__init__(message, route=route)
        self.may_have_reached_server = may_have_reached_server

    def _may_have_been_processed(self) -> bool:
        return self.may_have_reached_server


class ConnectError(TransportError):
    """Connection refused, host unreachable or DNS failure: the request never left this process."""

    reason = "Unreachable"

    def __init__(self, message: str, *, route: str | None = None) -> None:
        super().__init__(message, may_have_reached_server=False, route=route)


class TLSError(TransportError):
    """The TLS handshake failed (certificate not trusted, wrong host name, protocol mismatch)."""

    reason = "TLSError"

    def __init__(self, message: str, *, certificate_problem: bool, route: str | None = None) -> None:
        super().__init__(message, may_have_reached_server=False, route=route)
        # A certificate that fails verification fails again on retry; a handshake cut short may not.
        self.certificate_problem = certificate_problem


class Timeout(TransportError):
    """A timeout. Connect and pool timeouts never sent the request; read and write timeouts may have."""

    reason = "Timeout"


class ConnectionLost(TransportError):
    """The connection broke after the request started: reset, closed early, or a truncated body."""

    reason = "ConnectionLost"

    def __init__(self, message: str, *, route: str | None = None) -> None:
        super().__init__(message, may_have_reached_server=True, route=route)


# --- HTTP answers that are errors ------------------------------------------------------------------------


class HTTPError(OrchestrationError):
    """Drupal (or a proxy in front of it) answered with an error status."""

    reason = "HTTPError"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        route: str | None = None,
        excerpt: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, route=route)
        self.status = status
        self.excerpt = excerpt
        self._retry_after = retry_after

    @property
    def retry_after(self) -> float | None:
        return self._retry_after


class BadRequest(HTTPError):
    """400: the site refused the request body (for poll: neither timestamp nor id)."""

    reason = "BadRequest"


class Unauthorized(HTTPError):
    """401: no credentials reached Drupal (none sent, or a proxy dropped the Authorization header)."""

    reason = "Unauthorized"

    def __init__(
        self,
        message: str,
        *,
        status: int = 401,
        route: str | None = None,
        excerpt: str = "",
        realm: str | None = None,
    ) -> None:
        super().__init__(message, status=status, route=route, excerpt=excerpt)
        # The realm of ``WWW-Authenticate: Basic realm="<site name>"`` names the site that answered.
        self.realm = realm


class Forbidden(HTTPError):
    """403: wrong credentials, blocked or flood-controlled user, expired session, or missing permission."""

    reason = "Forbidden"


class LoginFailed(HTTPError):
    """``POST /user/login`` refused the login: wrong password, blocked or unactivated user, flood control."""

    reason = "LoginFailed"


class NotFound(HTTPError):
    """404: the route does not exist here: wrong base URL, or the orchestration module is not enabled."""

    reason = "NotFound"


class RateLimited(HTTPError):
    """429: a proxy or the site asks us to slow down."""

    reason = "RateLimited"


class ServiceFailed(HTTPError):
    """500 with the module's ``{"error": message}``: the service threw, or the service id is unknown."""

    reason = "ServiceFailed"

    def __init__(self, message: str, *, error: str, status: int = 500, route: str | None = None) -> None:
        super().__init__(message, status=status, route=route, excerpt=error)
        self.error = error


class ServerError(HTTPError):
    """Any other 5xx (Drupal's generic 500 page, 502/503/504 from a proxy): the outcome is unknown."""

    reason = "ServerError"

    def _may_have_been_processed(self) -> bool:
        return True


class UnexpectedStatus(HTTPError):
    """A status the API never answers on purpose (a redirect, 405, 413, ...)."""

    reason = "UnexpectedStatus"


# --- answers that are not what the API sends -------------------------------------------------------------


class InvalidResponse(OrchestrationError):
    """The body is not JSON (an HTML page), or JSON of the wrong shape for the route."""

    reason = "InvalidResponse"

    def __init__(self, message: str, *, status: int, route: str | None = None, excerpt: str = "") -> None:
        super().__init__(message, route=route)
        self.status = status
        self.excerpt = excerpt

    def _may_have_been_processed(self) -> bool:
        # A success status means Drupal ran the request: its result is what we could not read.
        return 200 <= self.status < 300


class ResponseTooLarge(InvalidResponse):
    """The body exceeded the client's ``max_response_bytes``; reading stopped there."""

    reason = "ResponseTooLarge"

    def __init__(self, message: str, *, status: int, limit: int, route: str | None = None) -> None:
        super().__init__(message, status=status, route=route)
        self.limit = limit
