"""Sandbox benchmark: write throughput (httpx and kubectl), watch fan-out latency, memory per object.

``run()`` starts the sandbox as a subprocess (``orchestration-operator sandbox``) so that client and
server do not share a CPU-bound event loop, then measures, printing one line per figure:

- objects created per second by Python clients (aiohttp, kopf's transport, and httpx), ``concurrency``
  requests in flight, half of ``objects`` each;
- objects created per second by kubectl (one ``kubectl create -f`` of many objects; kubectl's own client
  rate limit, 50 requests/s after a burst of 300, caps this beyond ~300 objects);
- write-to-event latency (p50/p95) seen by ``watchers`` watch streams while one client patches, end to
  end (it includes the operating system waking two processes, about a millisecond each on a busy
  machine) and inside the sandbox alone (commit to stream write);
- the sandbox's RSS before and after holding ``objects`` custom objects.

The targets (issue 3): over 1,000 writes/s from a local client, under 5 ms from write to watch event.
The lead's ``orchestration-operator bench sandbox`` calls ``run``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import pathlib
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable

import aiohttp
import httpx
import yaml

from orchestration_operator.testing.kube import kubectl, process, resources, samples, store, watch

_PLURAL_PATH = f"/apis/{samples.GROUP}/v1/namespaces/default/widgets"


@dataclasses.dataclass
class Result:
    aiohttp_creates_per_s: float = 0.0
    httpx_creates_per_s: float = 0.0
    kubectl_creates_per_s: float | None = None
    watch_latency_p50_ms: float = 0.0
    watch_latency_p95_ms: float = 0.0
    watch_events: int = 0
    in_server_latency_p50_ms: float = 0.0
    in_server_latency_p95_ms: float = 0.0
    rss_before_mib: float = 0.0
    rss_after_mib: float = 0.0
    objects: int = 0

    @property
    def rss_per_object_kib(self) -> float:
        return (self.rss_after_mib - self.rss_before_mib) * 1024 / max(self.objects, 1)


def _rss_mib(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _body(name: str) -> dict[str, object]:
    return samples.obj(
        name, spec={"size": 1, "note": "x" * 200}, metadata={"name": name, "labels": {"bench": "yes"}}
    )


async def _create_httpx(url: str, names: list[str], concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        queue = list(reversed(names))

        async def worker() -> None:
            while queue:
                (await client.post(_PLURAL_PATH, json=_body(queue.pop()))).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(names) / (time.perf_counter() - started)


async def _create_aiohttp(session: aiohttp.ClientSession, names: list[str], concurrency: int) -> float:
    queue = list(reversed(names))

    async def worker() -> None:
        while queue:
            async with session.post(_PLURAL_PATH, json=_body(queue.pop())) as response:
                response.raise_for_status()
                await response.read()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(names) / (time.perf_counter() - started)


async def _watch_latency(session: aiohttp.ClientSession, *, watchers: int, writes: int) -> list[float]:
    async with session.post(_PLURAL_PATH, json=samples.obj("latency", spec={"size": 0})) as response:
        rv = (await response.json())["metadata"]["resourceVersion"]
    sent: dict[int, float] = {}
    latencies: list[float] = []
    connected = asyncio.Event()
    count = 0

    async def watch() -> None:
        nonlocal count
        params = {"watch": "true", "resourceVersion": rv, "fieldSelector": "metadata.name=latency"}
        async with session.get(
            _PLURAL_PATH, params=params, timeout=aiohttp.ClientTimeout(total=None)
        ) as response:
            count += 1
            if count == watchers:
                connected.set()
            seen = 0
            async for line in response.content:
                arrived = time.perf_counter()
                size = json.loads(line)["object"]["spec"]["size"]
                latencies.append(arrived - sent[size])
                seen += 1
                if seen == writes:
                    return

    tasks = [asyncio.create_task(watch()) for _ in range(watchers)]
    await asyncio.wait_for(connected.wait(), 30)
    await asyncio.sleep(0.2)  # every stream is registered server-side by now
    headers = {"Content-Type": "application/merge-patch+json"}
    for n in range(1, writes + 1):
        sent[n] = time.perf_counter()
        body = json.dumps({"spec": {"size": n}})
        async with session.patch(f"{_PLURAL_PATH}/latency", data=body, headers=headers) as response:
            response.raise_for_status()
            await response.read()
        await asyncio.sleep(0.005)  # one write at a time: latency, not throughput
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    return latencies


async def _in_server_latency(*, watchers: int, writes: int) -> list[float]:
    """Commit to socket-write time inside the sandbox alone (no HTTP, no OS wake-ups), per watcher."""
    db = store.Store()
    db.create(resources.CRD, samples.crd(), namespace=None)
    rtype = db.registry.lookup(samples.GROUP, "v1", "widgets")
    assert rtype is not None
    db.create(rtype, samples.obj("latency", spec={"size": 0}), namespace="default")
    latencies: list[float] = []
    committed = 0.0

    class Sink:
        async def write(self, data: bytes) -> None:
            latencies.append(time.perf_counter() - committed)

    streams = [watch.Watch(db, rtype) for _ in range(watchers)]
    for stream in streams:
        stream.start(str(db.resource_version))
    tasks = [asyncio.create_task(stream.run(Sink())) for stream in streams]
    await asyncio.sleep(0.01)
    for n in range(1, writes + 1):
        committed = time.perf_counter()
        db.patch(rtype, "default", "latency", "merge", {"spec": {"size": n}})
        await asyncio.sleep(0.001)
    for stream in streams:
        stream.close()
    await asyncio.gather(*tasks)
    return latencies


def _kubectl_creates(kubeconfig: pathlib.Path, workdir: pathlib.Path, count: int) -> float | None:
    if kubectl.find_binary() is None:
        return None
    client = kubectl.Kubectl(kubeconfig, cache_dir=workdir / "kubectl-cache")
    manifest = workdir / "objects.yaml"
    manifest.write_text(
        yaml.safe_dump_all([samples.obj(f"k{n}", spec={"size": 1}) for n in range(count)], sort_keys=False)
    )
    client("get", "namespaces")  # discovery cached before timing
    started = time.perf_counter()
    client("create", "-f", str(manifest), timeout=300)
    return count / (time.perf_counter() - started)


def _percentiles(samples_s: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_s)
    return statistics.median(ordered) * 1000, ordered[max(int(len(ordered) * 0.95) - 1, 0)] * 1000


async def _measure(
    url: str, pid: int, result: Result, *, objects: int, concurrency: int, watchers: int, writes: int
) -> None:
    connector = aiohttp.TCPConnector(limit=concurrency + watchers + 4)
    async with aiohttp.ClientSession(url, connector=connector) as session:
        crd = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        async with session.post(crd, json=samples.crd()) as response:
            response.raise_for_status()
        latencies = await _watch_latency(session, watchers=watchers, writes=writes)
        result.watch_events = len(latencies)
        result.watch_latency_p50_ms, result.watch_latency_p95_ms = _percentiles(latencies)
        inside = await _in_server_latency(watchers=watchers, writes=writes)
        result.in_server_latency_p50_ms, result.in_server_latency_p95_ms = _percentiles(inside)
        result.rss_before_mib = _rss_mib(pid)
        half = objects // 2
        result.aiohttp_creates_per_s = await _create_aiohttp(
            session, [f"a{n}" for n in range(half)], concurrency
        )
        result.httpx_creates_per_s = await _create_httpx(
            url, [f"h{n}" for n in range(objects - half)], concurrency
        )
        result.rss_after_mib = _rss_mib(pid)
        result.objects = objects


def report(result: Result, *, concurrency: int, kubectl_objects: int, watchers: int) -> list[str]:
    """The benchmark's figures as printable lines."""
    in_flight = f"({concurrency} in flight)"
    lines = [
        f"sandbox: aiohttp creates        {result.aiohttp_creates_per_s:8.0f} objects/s {in_flight}",
        f"sandbox: httpx creates          {result.httpx_creates_per_s:8.0f} objects/s {in_flight}",
    ]
    if result.kubectl_creates_per_s is not None:
        lines.append(
            f"sandbox: kubectl create -f      {result.kubectl_creates_per_s:8.0f} objects/s "
            f"({kubectl_objects} objects)"
        )
    lines.append(
        f"sandbox: write -> watch event   p50 {result.watch_latency_p50_ms:.2f} ms, "
        f"p95 {result.watch_latency_p95_ms:.2f} ms ({watchers} watchers, {result.watch_events} events)"
    )
    lines.append(
        f"sandbox: commit -> stream write p50 {result.in_server_latency_p50_ms:.2f} ms, "
        f"p95 {result.in_server_latency_p95_ms:.2f} ms (inside the sandbox, {watchers} watchers)"
    )
    lines.append(
        f"sandbox: memory                 {result.rss_before_mib:.0f} MiB -> {result.rss_after_mib:.0f} MiB "
        f"with {result.objects} more objects ({result.rss_per_object_kib:.1f} KiB/object)"
    )
    return lines


def run(
    *,
    objects: int = 10_000,
    concurrency: int = 16,
    kubectl_objects: int = 250,
    watchers: int = 10,
    writes: int = 300,
    out: Callable[[str], None] = print,
) -> Result:
    """Run the sandbox benchmark and print its figures; returns them."""
    result = Result()
    with tempfile.TemporaryDirectory(prefix="kube-bench-") as tmp:
        workdir = pathlib.Path(tmp)
        proc = process.start_sandbox_process(
            kubeconfig=workdir / "kubeconfig", log_path=workdir / "sandbox.log"
        )
        try:
            asyncio.run(
                _measure(
                    proc.url,
                    proc.pid,
                    result,
                    objects=objects,
                    concurrency=concurrency,
                    watchers=watchers,
                    writes=writes,
                )
            )
            try:
                result.kubectl_creates_per_s = _kubectl_creates(proc.kubeconfig, workdir, kubectl_objects)
            except (kubectl.KubectlError, subprocess.TimeoutExpired) as exc:
                out(f"kubectl create failed: {exc}")
        finally:
            proc.stop()
    for line in report(result, concurrency=concurrency, kubectl_objects=kubectl_objects, watchers=watchers):
        out(line)
    return result


if __name__ == "__main__":
    run()
