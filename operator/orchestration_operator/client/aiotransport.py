"""An httpx transport that sends requests with aiohttp: httpx's API, aiohttp's cost per request.

Why: httpcore's connection pool re-scans every connection (and asks the socket whether it is readable,
through anyio) several times per request; at 20 requests in flight that costs about 4-5 ms of CPU per
request on a small machine, against about 0.5 ms for aiohttp, whose HTTP parser is in C. For an operator
that runs a thousand services at once, that difference is most of its CPU. aiohttp is already installed
with the operator (kopf is built on it).

The transport is invisible above ``transport``: requests are ``httpx.Request``, answers
``httpx.Response`` with a streaming body, and aiohttp's exceptions are raised as the httpx exceptions
that mean the same (chained from the original, so ``transport.map_exception`` finds the ``ssl`` or
``socket`` cause it looks for). What matters most is kept exact: failures before the request left
(refused, DNS, TLS handshake, connect timeout) are ``httpx.ConnectError``/``ConnectTimeout``; failures
after it may have reached the server are ``ReadTimeout``, ``ReadError`` or ``RemoteProtocolError``.

Behaviour kept from the httpx default: no cookies kept, no redirects followed (the client never asks),
compressed bodies decoded by httpx (aiohttp's decompression is off), proxies (``HTTP(S)_PROXY``,
``NO_PROXY``, read once per origin) and CA paths (``SSL_CERT_FILE``) from the environment, idle
connections dropped after ``keepalive_expiry``.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import aiohttp
import httpx

CHUNK: Final = 64 * 1024


def _env_proxy(url: httpx.URL) -> str | None:
    """The proxy the environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) asks for ``url``, like httpx's."""
    proxies = urllib.request.getproxies_environment()
    host = url.host if url.port is None else f"{url.host}:{url.port}"
    if proxies.get("no") and urllib.request.proxy_bypass(host):
        return None
    return proxies.get(url.scheme) or proxies.get("all")


def _timeout(extensions: Mapping[str, Any], default: float) -> aiohttp.ClientTimeout:
    timeouts = extensions.get("timeout") or {}
    connect = timeouts.get("connect", default)
    pool = timeouts.get("pool", default)
    read = timeouts.get("read", default)
    return aiohttp.ClientTimeout(
        total=None,
        connect=None if connect is None or pool is None else connect + pool,
        sock_connect=connect,
        sock_read=read,
    )


def _mapped(error: BaseException, request: httpx.Request) -> tuple[httpx.HTTPError, BaseException]:
    """The httpx exception meaning what ``error`` (raised by aiohttp) means, and the cause to chain.

    The cause is what ``transport.map_exception`` inspects: the ``ssl`` error of a failed handshake
    (with its ``verify_message``), the ``OSError`` of a refused connection or failed DNS lookup.
    """
    text = str(error) or type(error).__name__
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return httpx.ConnectError(text, request=request), error.certificate_error
    if isinstance(
        error, aiohttp.ClientConnectorError
    ):  # refused, DNS, TLS handshake (ClientConnectorSSLError)
        return httpx.ConnectError(text, request=request), error.os_error
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(text, request=request), error
    if isinstance(error, (aiohttp.SocketTimeoutError, TimeoutError)):
        return httpx.ReadTimeout(text, request=request), error
    if isinstance(error, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        return httpx.RemoteProtocolError(text, request=request), error
    if isinstance(error, aiohttp.ClientResponseError):  # an answer that is not HTTP
        return httpx.RemoteProtocolError(text, request=request), error
    if isinstance(error, aiohttp.ClientOSError):  # reset or broken pipe once connected
        return httpx.ReadError(text, request=request), error
    if isinstance(error, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(text, request=request), error
    return httpx.TransportError(text, request=request), error


class _Body(httpx.AsyncByteStream):
    """The answer's body, streamed from aiohttp; closing releases (or drops) the connection."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(CHUNK):
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as error:
            mapped, cause = _mapped(error, self._request)
            raise mapped from cause

    async def aclose(self) -> None:
        # A body read to the end returns its connection to the pool; a body cut short closes it.
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` over one ``aiohttp.ClientSession`` (created on first use)."""

    def __init__(
        self,
        *,
        verify: bool | ssl.SSLContext = True,
        max_connections: int = 10,
        keepalive_expiry: float = 4.0,
        timeout: float = 30.0,
    ) -> None:
        self._verify = verify
        self._ssl: bool | ssl.SSLContext | None = None if verify is True else verify
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        # Read once per origin: aiohttp's trust_env would read the environment and ~/.netrc in a worker
        # thread on every request.
        self._proxies: dict[tuple[str, str, int | None], str | None] = {}

    async def _open(self, scheme: str) -> aiohttp.ClientSession:
        if self._ssl is None and scheme == "https":
            # Loading the system's CA certificates takes a good part of 100 ms: not on the event loop,
            # and not at all for a plain-http site.
            self._ssl = await asyncio.to_thread(ssl.create_default_context)
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                limit_per_host=0,
                keepalive_timeout=self._keepalive_expiry,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                trust_env=False,
                skip_auto_headers=("Accept-Encoding", "User-Agent", "Accept", "Content-Type"),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        session = await self._open(url.scheme)
        origin = (url.scheme, url.host, url.port)
        if origin not in self._proxies:
            self._proxies[origin] = _env_proxy(url)
        try:
            response = await session.request(
                request.method,
                str(url),
                headers=list(request.headers.multi_items()),
                data=request.content or None,
                allow_redirects=False,
                proxy=self._proxies[origin],
                ssl=(self._ssl if self._ssl is not None else True) if url.scheme == "https" else True,
                timeout=_timeout(request.extensions, self._timeout),
            )
        except (TimeoutError, aiohttp.ClientError) as error:
            mapped, cause = _mapped(error, request)
            raise mapped from cause
        return httpx.Response(
            status_code=response.status,
            headers=list(response.raw_headers),
            stream=_Body(response, request),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
