"""Transport failures: httpx's exceptions never leak, and each says whether the request may have arrived.

First a table over ``httpx.MockTransport`` raising each httpx exception (with the causes real sockets
produce), then the same failures for real over loopback: refused, silent, reset, truncated, TLS.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from client_fakes import ClientFactory, Site, reply

from orchestration_operator.client import (
    BasicAuth,
    ConnectError,
    ConnectionLost,
    OrchestrationClient,
    OrchestrationError,
    ResponseTooLarge,
    RetryPolicy,
    Timeout,
    TLSError,
    TransportError,
)


def _chained(error: httpx.HTTPError, *causes: BaseException) -> httpx.HTTPError:
    # Reproduce the cause chains httpx/httpcore leave on real failures.
    current: BaseException = error
    for cause in causes:
        current.__cause__ = cause
        current = cause
    return error


def _cert_error() -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "self-signed certificate"
    return error


@pytest.mark.parametrize(
    ("raised", "error_type", "reason", "reached", "message"),
    [
        (
            httpx.ConnectError("All connection attempts failed"),
            ConnectError,
            "Unreachable",
            False,
            "cannot connect (All connection attempts failed)",
        ),
        (
            _chained(httpx.ConnectError("x"), OSError("x"), ConnectionRefusedError(111, "refused")),
            ConnectError,
            "Unreachable",
            False,
            "connection refused",
        ),
        (
            _chained(httpx.ConnectError("[Errno -2] Name or service not known"), socket.gaierror(-2, "Name")),
            ConnectError,
            "Unreachable",
            False,
            "cannot resolve the host name ([Errno -2] Name or service not known)",
        ),
        (
            _chained(httpx.ConnectError(""), _cert_error()),
            TLSError,
            "TLSError",
            False,
            "TLS handshake failed: self-signed certificate",
        ),
        (
            _chained(httpx.ConnectError(""), ssl.SSLEOFError(8, "EOF occurred in violation of protocol")),
            TLSError,
            "TLSError",
            False,
            "TLS handshake failed: EOF occurred in violation of protocol",
        ),
        (httpx.ConnectTimeout(""), Timeout, "Timeout", False, "timed out while connecting"),
        (httpx.PoolTimeout(""), Timeout, "Timeout", False, "timed out waiting for a free connection"),
        (
            httpx.ReadTimeout(""),
            Timeout,
            "Timeout",
            True,
            "timed out waiting for the answer; the site may still be processing it",
        ),
        (
            httpx.WriteTimeout(""),
            Timeout,
            "Timeout",
            True,
            "timed out sending the request; the site may still be processing it",
        ),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            ConnectionLost,
            "ConnectionLost",
            True,
            "the connection broke before the answer was complete (Server disconnected without sending a "
            "response.); the site may have processed the request",
        ),
        (
            httpx.ReadError("Connection reset by peer"),
            ConnectionLost,
            "ConnectionLost",
            True,
            "the connection broke before the answer was complete (Connection reset by peer); the site may "
            "have processed the request",
        ),
        (
            httpx.WriteError("Broken pipe"),
            ConnectionLost,
            "ConnectionLost",
            True,
            "the connection broke before the answer was complete (Broken pipe); the site may have processed "
            "the request",
        ),
        (
            httpx.LocalProtocolError("Illegal header value"),
            TransportError,
            "Unreachable",
            False,
            "the request could not be sent (Illegal header value)",
        ),
    ],
)
async def test_httpx_exceptions_map_onto_transport_errors(
    make_client: ClientFactory,
    site: Site,
    raised: httpx.HTTPError,
    error_type: type[TransportError],
    reason: str,
    reached: bool,
    message: str,
) -> None:
    site.on("POST", "/orchestration/service/execute", raised)
    with pytest.raises(OrchestrationError) as caught:
        await make_client(retry=RetryPolicy(attempts=1)).execute("eca::x")
    error = caught.value
    assert type(error) is error_type
    assert isinstance(error, TransportError)
    assert (error.reason, error.may_have_reached_server, error.outcome_unknown) == (reason, reached, reached)
    assert str(error) == f"POST /orchestration/service/execute: {message}"
    assert error.__cause__ is raised  # chained, yet not an httpx exception itself
    assert not isinstance(error, httpx.HTTPError)


@pytest.mark.parametrize(("content_length", "chunks"), [(True, 1), (False, 8)])
async def test_bodies_are_capped_while_streaming(
    make_client: ClientFactory, site: Site, content_length: bool, chunks: int
) -> None:
    produced: list[int] = []

    async def stream() -> AsyncIterator[bytes]:
        for index in range(1000):  # 1000 x 1 KiB, far over the cap
            produced.append(index)
            yield b"x" * 1024

    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Length": str(1000 * 1024)} if content_length else {}
        return httpx.Response(200, content=stream(), headers=headers)

    site.on("POST", "/orchestration/service/execute", answer)
    with pytest.raises(ResponseTooLarge) as caught:
        await make_client(max_response_bytes=7 * 1024).execute("eca::x")
    assert str(caught.value) == (
        "POST /orchestration/service/execute answered 200 with a body over the client's limit of 7168 bytes"
    )
    assert (caught.value.reason, caught.value.limit, caught.value.outcome_unknown) == (
        "ResponseTooLarge",
        7168,
        True,
    )
    # A declared length over the cap stops before reading; otherwise reading stops at the cap.
    assert len(produced) <= chunks


async def test_a_body_at_the_cap_is_read(make_client: ClientFactory, site: Site) -> None:
    body = b'"' + b"y" * 1022 + b'"'
    site.on("POST", "/orchestration/service/execute", reply(200, body=body))
    result = await make_client(max_response_bytes=1024).execute("eca::x")
    assert result.raw == body


# --- real sockets on loopback --------------------------------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def tcp_server() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> str:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(server)
        return f"127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    return head + await reader.readexactly(length)


def _loopback_client(address: str, *, scheme: str = "http", **kwargs: object) -> OrchestrationClient:
    return OrchestrationClient(
        f"{scheme}://{address}",
        auth=BasicAuth("bot", "pw"),
        retry=RetryPolicy(attempts=1),
        **kwargs,  # type: ignore[arg-type]
    )


async def test_refused_connection_never_reached_the_server() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with _loopback_client(f"127.0.0.1:{port}") as client:
        with pytest.raises(ConnectError) as caught:
            await client.execute("eca::x")
    assert str(caught.value) == "POST /orchestration/service/execute: connection refused"
    assert caught.value.may_have_reached_server is False


async def test_silent_server_times_out_after_the_request_was_sent(tcp_server) -> None:  # type: ignore[no-untyped-def]
    received: list[bytes] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await _read_request(reader))
        await reader.read()  # until the client gives up and closes
        writer.close()

    address = await tcp_server(silent)
    async with _loopback_client(address, timeout=5.0) as client:
        with pytest.raises(Timeout) as caught:
            await client.execute("eca::x", read_timeout=0.2)
    assert caught.value.may_have_reached_server is True
    assert len(received) == 1
    assert received[0].endswith(b'{"id":"eca::x","config":{}}')


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (b"", "Server disconnected without sending a response."),
        (
            b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"trunc',
            "peer closed connection without sending complete message body (received 7 bytes, expected 100)",
        ),
    ],
)
async def test_connection_closed_mid_answer_may_have_reached(tcp_server, answer: bytes, detail: str) -> None:  # type: ignore[no-untyped-def]
    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(answer)
        await writer.drain()
        writer.close()

    address = await tcp_server(closing)
    async with _loopback_client(address) as client:
        with pytest.raises(ConnectionLost) as caught:
            await client.execute("eca::x")
    assert caught.value.may_have_reached_server is True
    assert detail in str(caught.value)


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 made at test time (no private key is kept in the repository)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = (
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "
        "/CN=127.0.0.1 "
        "-addext subjectAltName=IP:127.0.0.1"
    )
    subprocess.run(
        [*command.split(), "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True
    )
    return cert, key


@pytest.fixture
async def https_server(tcp_server, self_signed: tuple[Path, Path]) -> str:  # type: ignore[no-untyped-def]
    cert, key = self_signed
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    servers: list[asyncio.Server] = []

    async def services(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _read_request(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()  # the client refused our certificate
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(services, "127.0.0.1", 0, ssl=context)
    servers.append(server)
    yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()
    await server.wait_closed()


async def test_untrusted_certificate_is_a_tls_error(https_server: str) -> None:
    async with _loopback_client(https_server, scheme="https") as client:
        with pytest.raises(TLSError) as caught:
            await client.list_services()
    assert caught.value.certificate_problem is True
    assert caught.value.may_have_reached_server is False
    assert str(caught.value) == "GET /orchestration/services: TLS handshake failed: self-signed certificate"


async def test_ca_file_makes_the_certificate_trusted(
    https_server: str, self_signed: tuple[Path, Path]
) -> None:
    async with _loopback_client(https_server, scheme="https", verify=self_signed[0]) as client:
        assert await client.list_services() == []
        assert client.tls_verified is True


async def test_insecure_skip_verify_accepts_any_certificate(https_server: str) -> None:
    async with _loopback_client(https_server, scheme="https", verify=False) as client:
        assert await client.list_services() == []
        assert client.tls_verified is False


async def test_tls_to_a_plain_http_server_is_a_tls_error(tcp_server) -> None:  # type: ignore[no-untyped-def]
    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    address = await tcp_server(plain)
    async with _loopback_client(address, scheme="https") as client:
        with pytest.raises(TLSError) as caught:
            await client.list_services()
    assert caught.value.certificate_problem is False
