"""The benchmark driver: installs CRDs, namespaces and connections, creates runs and watches them (HTTP).

It talks to the sandbox directly over HTTP (aiohttp, whose C parser costs a fraction of httpx's per
request), not through kubectl or kopf, so that creating a thousand objects and following their watch
events costs the driver little and the figures belong to the operator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from orchestration_operator.api import crdgen, kinds, names

SERVICE = "bench::sleep"
GROUP_PATH = f"/apis/{names.GROUP}/{names.VERSION}"
TERMINAL = ("Succeeded", "Failed", "Unknown")


def strip_cel(node: Any) -> Any:
    """A copy of a CRD (or any JSON node) without ``x-kubernetes-validations``."""
    if isinstance(node, dict):
        return {key: strip_cel(value) for key, value in node.items() if key != "x-kubernetes-validations"}
    if isinstance(node, list):
        return [strip_cel(item) for item in node]
    return node


class Driver:
    """The benchmark's Kubernetes client: creates objects and watches runs, over HTTP."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}
        self._session: aiohttp.ClientSession | None = None

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._session is None:  # created on the running loop
            self._session = aiohttp.ClientSession(
                headers=self.headers,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
                connector=aiohttp.TCPConnector(limit=64),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def get(self, path: str) -> dict[str, Any]:
        async with self.http.get(self.url + path) as response:
            result: dict[str, Any] = await response.json()
            return result

    async def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        async with self.http.post(self.url + path, json=body) as response:
            if response.status >= 300:
                raise RuntimeError(f"POST {path}: {response.status} {(await response.text())[:500]}")
            result: dict[str, Any] = await response.json()
            return result

    async def patch_status(self, path: str, status: Mapping[str, Any]) -> None:
        async with self.http.patch(
            self.url + path + "/status",
            data=json.dumps({"status": status}),
            headers={"Content-Type": "application/merge-patch+json"},
        ) as response:
            response.raise_for_status()

    async def install(
        self, *, namespaces: Sequence[str], emulator_url: str, concurrency: int, cel: bool = False
    ) -> None:
        """CRDs (without their CEL rules unless ``cel``), then per namespace a Secret and a Ready connection.

        The sandbox evaluates CEL with cel-python, milliseconds per rule; kube-apiserver runs compiled CEL
        in microseconds. Left in, the rules make the sandbox the bottleneck of an operator benchmark.
        """
        for kind in kinds.ALL:
            crd = crdgen.crd(kind)
            if not cel:
                crd = strip_cel(crd)
            await self.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        for kind in kinds.ALL:
            await self._wait_established(kind.crd_name)
        ready = {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Connected",
                    "message": "set by the benchmark",
                    "lastTransitionTime": "2025-01-01T00:00:00Z",
                }
            ]
        }
        for namespace in namespaces:
            await self.create("/api/v1/namespaces", {"metadata": {"name": namespace}})
            await self.create(
                f"/api/v1/namespaces/{namespace}/secrets",
                {"metadata": {"name": "creds"}, "stringData": {"username": "admin", "password": "admin"}},
            )
            path = f"{GROUP_PATH}/namespaces/{namespace}/orchestrationconnections"
            await self.create(
                path,
                {
                    "apiVersion": names.API_VERSION,
                    "kind": "OrchestrationConnection",
                    "metadata": {"name": "site"},
                    "spec": {
                        "url": emulator_url,
                        "auth": {"basic": {"secretRef": {"name": "creds"}}},
                        "maxConcurrentRequests": concurrency,
                    },
                },
            )
            # Ready as the Connection's own handler would say; the benchmark measures runs only.
            await self.patch_status(f"{path}/site", ready)

    async def _wait_established(self, name: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            crd = await self.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
            conditions = crd.get("status", {}).get("conditions", [])
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"CRD {name} not established within 30 s")

    def run_body(self, name: str) -> dict[str, Any]:
        return {
            "apiVersion": names.API_VERSION,
            "kind": "ServiceRun",
            "metadata": {"name": name},
            "spec": {"connectionRef": {"name": "site"}, "serviceId": SERVICE, "config": {"n": name}},
        }

    async def run_batch(
        self, namespace: str, count: int, *, concurrency: int, interval: float, deadline: float
    ) -> tuple[dict[str, float], dict[str, float], dict[str, str]]:
        """Create ``count`` runs and wait for all to finish: (create times, finish times, phases).

        Times are wall-clock (``time.time()``), comparable with the emulator's request log.
        """
        path = f"{GROUP_PATH}/namespaces/{namespace}/serviceruns"
        listing = await self.get(path)
        created: dict[str, float] = {}
        finished: dict[str, float] = {}
        phases: dict[str, str] = {}
        done = asyncio.Event()
        names_ = [f"run-{i:05d}" for i in range(count)]

        async def watch() -> None:
            params = {
                "watch": "true",
                "resourceVersion": listing["metadata"]["resourceVersion"],
                "allowWatchBookmarks": "true",
            }
            async with self.http.get(self.url + path, params=params) as stream:
                async for line in stream.content:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    obj = event.get("object", {})
                    name = obj.get("metadata", {}).get("name")
                    phase = (obj.get("status") or {}).get("phase")
                    if name in names_set and phase in TERMINAL and name not in finished:
                        finished[name] = time.time()
                        phases[name] = phase
                        if len(finished) == count:
                            done.set()
                            return

        names_set = set(names_)
        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.2)  # the watch request is open before the first create (no event missed)
        gate = asyncio.Semaphore(concurrency)

        async def create(name: str) -> None:
            async with gate:
                created[name] = time.time()
                await self.create(path, self.run_body(name))

        try:
            if interval:
                for name in names_:
                    await create(name)
                    await asyncio.sleep(interval)
            else:
                await asyncio.gather(*(create(name) for name in names_))
            await asyncio.wait_for(done.wait(), deadline)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                await watcher
        return created, finished, phases
