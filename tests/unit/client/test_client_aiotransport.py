"""The aiohttp transport behaves like httpx's own: same answers, same errors, same "did it reach" verdict.

Every scenario runs with both transports against real loopback sockets; what the client reports must
be identical, because the operator's at-most-once bookkeeping rests on ``may_have_reached_server``.
"""

from __future__ import annotations

import asyncio
import gzip
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from orchestration_operator.client import (
    BasicAuth,
    ConnectError,
    ConnectionLost,
    OrchestrationClient,
    ResponseTooLarge,
    RetryPolicy,
    Timeout,
    TLSError,
    aiotransport,
)
from orchestration_operator.client import transport as transport_

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
TRANSPORTS = ("httpx", "aiohttp")


@pytest.fixture
async def tcp_server() -> AsyncIterator[Callable[..., Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler, *, tls: ssl.SSLContext | None = None) -> str:
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=tls)
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


def _client(
    kind: str, address: str, *, scheme: str = "http", verify: Any = True, **kwargs: Any
) -> OrchestrationClient:
    transport = None
    if kind == "aiohttp":
        context = transport_.ssl_context(verify)
        transport = aiotransport.AiohttpTransport(verify=context, max_connections=4, timeout=5.0)
    return OrchestrationClient(
        f"{scheme}://{address}",
        auth=BasicAuth("bot", "pw"),
        retry=RetryPolicy(attempts=1),
        verify=verify,
        transport=transport,
        **kwargs,
    )


def _answer(
    body: bytes, *, status: str = "200 OK", headers: str = "Content-Type: application/json\r\n"
) -> bytes:
    return f"HTTP/1.1 {status}\r\n{headers}Content-Length: {len(body)}\r\n\r\n".encode() + body


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_request_and_its_answer_arrive_whole(kind: str, tcp_server: Any) -> None:
    received: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:  # keep-alive: both calls on one connection
            try:
                received.append(await _read_request(reader))
            except asyncio.IncompleteReadError:
                break
            writer.write(_answer(b'{"sent": true}'))
            await writer.drain()
        writer.close()

    address = await tcp_server(answer)
    async with _client(kind, address) as client:
        first = await client.execute("eca::x", {"user_id": "42"})
        second = await client.execute("eca::x", {"user_id": "43"})
    assert (first.value, second.value) == ({"sent": True}, {"sent": True})
    assert len(received) == 2  # one connection served both
    head, body = received[0].split(b"\r\n\r\n", 1)
    lines = {
        line.split(b":", 1)[0].lower(): line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")[1:]
    }
    assert received[0].startswith(b"POST /orchestration/service/execute HTTP/1.1\r\n")
    assert body == b'{"id":"eca::x","config":{"user_id":"42"}}'
    assert lines[b"content-type"] == b"application/json"
    assert lines[b"authorization"] == b"Basic Ym90OnB3"
    assert lines[b"accept"] == b"application/json"
    assert lines[b"user-agent"].startswith(b"orchestration-operator/")
    assert b"cookie" not in lines


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_compressed_answer_is_decoded(kind: str, tcp_server: Any) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        body = gzip.compress(b'[{"id": "eca::x"}]')
        writer.write(_answer(body, headers="Content-Type: application/json\r\nContent-Encoding: gzip\r\n"))
        await writer.drain()
        writer.close()

    address = await tcp_server(answer)
    async with _client(kind, address) as client:
        services = await client.list_services()
    assert [service.id for service in services] == ["eca::x"]


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_body_over_the_cap_stops_reading(kind: str, tcp_server: Any) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(8):
            writer.write(b"400\r\n" + b"x" * 1024 + b"\r\n")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        writer.close()

    address = await tcp_server(answer)
    async with _client(kind, address, max_response_bytes=4096) as client:
        with pytest.raises(ResponseTooLarge):
            await client.execute("eca::x")


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_refused_connection_never_reached_the_server(kind: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with _client(kind, f"127.0.0.1:{port}") as client:
        with pytest.raises(ConnectError) as caught:
            await client.execute("eca::x")
    assert str(caught.value) == "POST /orchestration/service/execute: connection refused"
    assert caught.value.may_have_reached_server is False


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_silent_server_times_out_after_the_request_was_sent(kind: str, tcp_server: Any) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await reader.read()
        writer.close()

    address = await tcp_server(silent)
    async with _client(kind, address, timeout=5.0) as client:
        with pytest.raises(Timeout) as caught:
            await client.execute("eca::x", read_timeout=0.2)
    assert caught.value.may_have_reached_server is True


@pytest.mark.parametrize("kind", TRANSPORTS)
@pytest.mark.parametrize(
    "answer",
    [b"", b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"trunc'],
    ids=["no answer", "truncated body"],
)
async def test_a_connection_closed_mid_answer_may_have_reached(
    kind: str, answer: bytes, tcp_server: Any
) -> None:
    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(answer)
        await writer.drain()
        writer.close()

    address = await tcp_server(closing)
    async with _client(kind, address) as client:
        with pytest.raises(ConnectionLost) as caught:
            await client.execute("eca::x")
    assert caught.value.may_have_reached_server is True


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls-aio")
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = (
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "
        "/CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
    )
    subprocess.run(
        [*command.split(), "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True
    )
    return cert, key


@pytest.fixture
async def https_address(tcp_server: Any, self_signed: tuple[Path, Path]) -> str:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed)

    async def services(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _read_request(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        writer.write(_answer(b"[]"))
        await writer.drain()
        writer.close()

    address: str = await tcp_server(services, tls=context)
    return address


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_an_untrusted_certificate_is_a_tls_error(kind: str, https_address: str) -> None:
    async with _client(kind, https_address, scheme="https") as client:
        with pytest.raises(TLSError) as caught:
            await client.list_services()
    assert caught.value.certificate_problem is True
    assert caught.value.may_have_reached_server is False
    assert str(caught.value) == "GET /orchestration/services: TLS handshake failed: self-signed certificate"


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_ca_file_or_skipping_verification_lets_the_call_through(
    kind: str, https_address: str, self_signed: tuple[Path, Path]
) -> None:
    for verify in (self_signed[0], False):
        async with _client(kind, https_address, scheme="https", verify=verify) as client:
            assert await client.list_services() == []


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_tls_to_a_plain_http_server_is_a_tls_error(kind: str, tcp_server: Any) -> None:
    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    address = await tcp_server(plain)
    async with _client(kind, address, scheme="https") as client:
        with pytest.raises(TLSError) as caught:
            await client.list_services()
    assert caught.value.certificate_problem is False
    assert caught.value.may_have_reached_server is False


@pytest.mark.parametrize(
    ("environment", "url", "proxy"),
    [
        ({}, "http://site.example/x", None),
        ({"http_proxy": "http://proxy:3128"}, "http://site.example/x", "http://proxy:3128"),
        ({"https_proxy": "http://proxy:3128"}, "http://site.example/x", None),
        ({"https_proxy": "http://proxy:3128"}, "https://site.example/x", "http://proxy:3128"),
        ({"https_proxy": "http://p:1", "no_proxy": "site.example"}, "https://site.example/x", None),
        ({"https_proxy": "http://p:1", "no_proxy": ".example"}, "https://a.site.example/x", None),
        ({"https_proxy": "http://p:1", "no_proxy": "other"}, "https://site.example/x", "http://p:1"),
    ],
)
def test_proxies_come_from_the_environment_like_httpx(
    environment: dict[str, str], url: str, proxy: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert aiotransport._env_proxy(httpx.URL(url)) == proxy


async def test_closing_an_unused_transport_is_fine() -> None:
    transport = aiotransport.AiohttpTransport()
    await transport.aclose()
