"""Benchmark: what ``OrchestrationClient`` costs per request on top of raw httpx (target: under 1 ms).

Both sides make the same poll request (JSON body, Basic auth header, JSON answer parsed) against the same
server: an in-process ``httpx.MockTransport`` (pure client CPU, no sockets) or a minimal keep-alive HTTP
server on loopback (adds the socket path both pay alike). Rounds alternate between the two and the best
round of each counts, so that noise from other processes on the machine inflates neither side alone.

Not part of the test suite. Run: ``python -m orchestration_operator.commands.bench_client`` (or wire it
under ``orchestration-operator bench``: this module has the usual ``add_arguments``/``main``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx

from orchestration_operator.client import BasicAuth, OrchestrationClient

ANSWER = json.dumps(
    [{"timestamp": 1748000000 + i, "data": {"n": i, "name": "x" * 20}} for i in range(5)]
).encode()


@dataclasses.dataclass(frozen=True)
class Result:
    transport: str
    requests: int
    raw_seconds: float  # per request, best round
    client_seconds: float

    @property
    def overhead_seconds(self) -> float:
        return self.client_seconds - self.raw_seconds

    def line(self) -> str:
        return (
            f"{self.transport:<8} raw httpx {self.raw_seconds * 1e6:7.1f} µs/request, client "
            f"{self.client_seconds * 1e6:7.1f} µs/request: overhead {self.overhead_seconds * 1e6:6.1f} µs "
            f"(ratio {self.client_seconds / self.raw_seconds:.2f}; target < 1000 µs)"
        )


def _mock_answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=ANSWER, headers={"Content-Type": "application/json"})


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(ANSWER)
    try:
        while True:
            request = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in request.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            writer.write(head + ANSWER)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the client closed its connection
    finally:
        writer.close()


@dataclasses.dataclass
class _Target:
    url: str
    transport: Callable[[], httpx.AsyncBaseTransport | None]


@contextlib.asynccontextmanager
async def _target(kind: str) -> AsyncIterator[_Target]:
    if kind == "mock":
        yield _Target("http://bench.invalid", lambda: httpx.MockTransport(_mock_answer))
        return
    handlers: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        await _serve(reader, writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield _Target(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", lambda: None)
    finally:
        # The clients have closed their connections: let each handler see its EOF before closing.
        await asyncio.wait_for(asyncio.gather(*handlers), timeout=5)
        server.close()
        await server.wait_closed()


async def _timed(count: int, call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    for _ in range(count):
        await call()
    return (time.perf_counter() - started) / count


async def measure(kind: str = "mock", *, requests: int = 200, rounds: int = 20) -> Result:
    """Per-request seconds of raw httpx and of the client, sequential requests, best of ``rounds``."""
    token = base64.b64encode(b"bench:secret").decode()
    raw_headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
    body = json.dumps({"name": "bench", "timestamp": 1748000000}).encode()
    async with _target(kind) as target:
        url = f"{target.url}/orchestration/poll"
        async with (
            httpx.AsyncClient(transport=target.transport()) as http,
            OrchestrationClient(
                target.url, auth=BasicAuth("bench", "secret"), transport=target.transport()
            ) as client,
        ):

            async def raw() -> object:
                response = await http.post(url, content=body, headers=raw_headers)
                response.raise_for_status()
                return json.loads(response.content)

            async def wrapped() -> object:
                return await client.poll("bench", timestamp=1748000000)

            await _timed(100, raw)  # warm up connections and code paths
            await _timed(100, wrapped)
            raw_best = client_best = float("inf")
            for _ in range(rounds):
                raw_best = min(raw_best, await _timed(requests, raw))
                client_best = min(client_best, await _timed(requests, wrapped))
    return Result(kind, requests, raw_best, client_best)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=200, help="requests per round (default: 200)")
    parser.add_argument(
        "--rounds", type=int, default=20, help="rounds per side; the best counts (default: 20)"
    )
    parser.add_argument(
        "--transport",
        choices=("mock", "loopback", "both"),
        default="both",
        help="what answers (default: both)",
    )


def main(args: argparse.Namespace) -> int:
    kinds = ("mock", "loopback") if args.transport == "both" else (args.transport,)
    worst = 0.0
    for kind in kinds:
        result = asyncio.run(measure(kind, requests=args.requests, rounds=args.rounds))
        print(result.line())
        worst = max(worst, result.overhead_seconds)
    return 0 if worst < 0.001 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="client overhead over raw httpx")
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
