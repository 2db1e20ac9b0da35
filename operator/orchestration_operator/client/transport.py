"""The httpx layer: one shared ``httpx.AsyncClient``, one bounded exchange, and the mapping of httpx's
exceptions onto ``errors``. Nothing above this module (and ``client``, which builds the requests) sees
httpx.

An exchange streams the body and stops reading at ``max_bytes``, so a runaway service or a proxy error
page cannot exhaust the operator's memory; the cap applies to the decoded body (a gzip bomb is stopped
too).
"""

from __future__ import annotations

import dataclasses
import http.cookiejar
import os
import socket
import ssl
from collections.abc import Mapping

import httpx

from orchestration_operator.client import errors, routes

DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024

# Under Apache's default KeepAliveTimeout (5 s): reusing a connection the server is about to close is the
# classic cause of "server disconnected" on a request that never ran, which execute may not retry.
KEEPALIVE_EXPIRY = 4.0


@dataclasses.dataclass(frozen=True)
class RawResponse:
    status: int
    headers: httpx.Headers
    body: bytes


def ssl_context(verify: bool | str | os.PathLike[str] | ssl.SSLContext) -> ssl.SSLContext | bool:
    """What httpx takes as ``verify``: a CA file or directory becomes a context trusting only it."""
    if isinstance(verify, bool | ssl.SSLContext):
        return verify
    path = os.fspath(verify)
    try:
        if os.path.isdir(path):
            return ssl.create_default_context(capath=path)
        return ssl.create_default_context(cafile=path)
    except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
        raise ValueError(
            f"cannot load the CA file {path!r}: {getattr(error, 'reason', None) or error}"
        ) from error


def _no_cookies() -> http.cookiejar.CookieJar:
    # The client is shared by every resource of a connection: a cookie picked up by one request must not
    # ride along on the next. Session cookies are sent explicitly by ``auth``.
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def build_http_client(
    *,
    timeout: float,
    verify: bool | str | os.PathLike[str] | ssl.SSLContext,
    max_connections: int,
    transport: httpx.AsyncBaseTransport | None,
    headers: dict[str, str],
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        verify=ssl_context(verify),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=KEEPALIVE_EXPIRY,
        ),
        transport=transport,
        headers=headers,
        cookies=_no_cookies(),
        follow_redirects=False,  # a redirect of a POST would drop its body: report it instead
        # trust_env stays on: HTTPS_PROXY / NO_PROXY and SSL_CERT_FILE are how clusters reach the outside.
    )


async def exchange(
    http: httpx.AsyncClient,
    route: routes.Route,
    url: str,
    *,
    content: bytes | None,
    headers: dict[str, str],
    timeouts: Mapping[str, float] | None,
    max_bytes: int,
) -> RawResponse:
    """Send one request and read its whole body (at most ``max_bytes``), or raise one of ``errors``.

    ``timeouts`` (connect, read, write, pool) replaces the client's for this request only.
    """
    extensions = None if timeouts is None else {"timeout": dict(timeouts)}
    request = http.build_request(route.method, url, content=content, headers=headers, extensions=extensions)
    try:
        response = await http.send(request, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise _too_large(route, response.status_code, max_bytes)
            chunks: list[bytes] = []
            size = 0
            try:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise _too_large(route, response.status_code, max_bytes)
                    chunks.append(chunk)
            except httpx.DecodingError as error:
                raise errors.InvalidResponse(
                    f"{route} answered {response.status_code} with a body that could not be decoded "
                    f"({response.headers.get('content-encoding', 'no content-encoding')})",
                    status=response.status_code,
                    route=route.name,
                ) from error
        finally:
            await response.aclose()
    except httpx.HTTPError as error:
        raise map_exception(error, route) from error
    return RawResponse(response.status_code, response.headers, b"".join(chunks))


def _too_large(route: routes.Route, status: int, limit: int) -> errors.ResponseTooLarge:
    return errors.ResponseTooLarge(
        f"{route} answered {status} with a body over the client's limit of {limit} bytes",
        status=status,
        limit=limit,
        route=route.name,
    )


def _causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain and len(chain) < 16:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def map_exception(error: httpx.HTTPError, route: routes.Route) -> errors.OrchestrationError:
    """The ``errors`` class for an httpx exception, with a message that names the likely cause."""
    name = route.name
    causes = _causes(error)
    detail = str(error) or type(error).__name__
    if isinstance(error, httpx.ConnectTimeout):
        return errors.Timeout(
            f"{route}: timed out while connecting", may_have_reached_server=False, route=name
        )
    if isinstance(error, httpx.PoolTimeout):
        return errors.Timeout(
            f"{route}: timed out waiting for a free connection", may_have_reached_server=False, route=name
        )
    if isinstance(error, httpx.TimeoutException):
        phase = "sending the request" if isinstance(error, httpx.WriteTimeout) else "waiting for the answer"
        return errors.Timeout(
            f"{route}: timed out {phase}; the site may still be processing it",
            may_have_reached_server=True,
            route=name,
        )
    if isinstance(error, httpx.ConnectError):
        tls = next((c for c in causes if isinstance(c, ssl.SSLError)), None)
        if tls is not None:
            certificate = isinstance(tls, ssl.SSLCertVerificationError)
            if isinstance(tls, ssl.SSLCertVerificationError):
                what = tls.verify_message
            else:
                what = tls.strerror or str(tls)
            return errors.TLSError(
                f"{route}: TLS handshake failed: {what or detail}",
                certificate_problem=certificate,
                route=name,
            )
        if any(isinstance(c, socket.gaierror) for c in causes):
            return errors.ConnectError(f"{route}: cannot resolve the host name ({detail})", route=name)
        if any(isinstance(c, ConnectionRefusedError) for c in causes):
            return errors.ConnectError(f"{route}: connection refused", route=name)
        return errors.ConnectError(f"{route}: cannot connect ({detail})", route=name)
    if isinstance(error, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.CloseError)):
        return errors.ConnectionLost(
            f"{route}: the connection broke before the answer was complete ({detail}); "
            "the site may have processed the request",
            route=name,
        )
    if isinstance(error, httpx.LocalProtocolError):
        return errors.TransportError(
            f"{route}: the request could not be sent ({detail})", may_have_reached_server=False, route=name
        )
    return errors.TransportError(f"{route}: {detail}", may_have_reached_server=True, route=name)
