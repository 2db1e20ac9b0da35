"""Benchmark: 1,000 EventPolls held by the operator: its memory, and how evenly their polls spread.

The operator runs as a process (``orchestration-operator run``) against the Kubernetes API sandbox (a
process too) and the Drupal emulator (in this process, whose request log gives the time of every poll).
``--objects`` EventPolls of one Connection, all with the same ``--interval``, are created at once; once
every one of them has polled, the benchmark waits one more interval (the creation burst's first polls
are behind), then counts polls per second over ``--window`` intervals and reports:

- the poll rate: mean per second, the busiest second, and their ratio (target: at most 2; all in the
  same second would be ``objects / interval`` times the mean);
- Kubernetes writes per poll (the sandbox's resourceVersion counts every write; target: 1, the status);
- the operator's RSS and CPU (target: RSS at most 256 MiB with 10,000 ServiceRuns and 1,000 EventPolls).

Not part of the test suite. Run: ``python -m orchestration_operator.commands.bench_eventpoll`` (this
module has the usual ``add_arguments``/``main``, ready for ``orchestration-operator bench``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import math
import os
import pathlib
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from typing import Any

import httpx
import yaml

from orchestration_operator.testing.drupal import threaded
from orchestration_operator.testing.kube import process

ROOT = pathlib.Path(__file__).resolve().parents[3]
GROUP_VERSION = "drupal-orchestration.io/v1alpha1"
NAMESPACE = "default"
RSS_TARGET_MIB = 256.0
RATIO_TARGET = 2.0


@dataclasses.dataclass(frozen=True)
class Result:
    objects: int
    interval: float
    window: float
    polls: int
    busiest: int
    writes: int
    rss_mib: float
    peak_rss_mib: float
    cpu_seconds: float
    histogram: tuple[int, ...]

    @property
    def mean(self) -> float:
        return self.polls / self.window

    @property
    def ratio(self) -> float:
        return self.busiest / self.mean if self.mean else math.inf

    def lines(self) -> list[str]:
        buckets = collections.Counter(self.histogram)
        spread = ", ".join(f"{count} polls: {seconds} s" for count, seconds in sorted(buckets.items()))
        return [
            f"{self.objects} EventPolls, interval {self.interval:g} s, window {self.window:g} s",
            f"polls: {self.polls} ({self.mean:.1f}/s mean, busiest second {self.busiest}): max/mean "
            f"{self.ratio:.2f} (target <= {RATIO_TARGET:g})",
            f"seconds by polls: {spread}",
            f"Kubernetes writes per poll: {self.writes / max(self.polls, 1):.2f} ({self.writes} writes)",
            f"operator RSS: {self.rss_mib:.0f} MiB (peak {self.peak_rss_mib:.0f} MiB; target <= "
            f"{RSS_TARGET_MIB:g} MiB with 10,000 ServiceRuns besides), "
            f"CPU {self.cpu_seconds / self.window:.1%} of one core",
        ]

    @property
    def passed(self) -> bool:
        return self.ratio <= RATIO_TARGET and self.peak_rss_mib <= RSS_TARGET_MIB


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--objects", type=int, default=1000, help="EventPolls to hold (default: 1000)")
    parser.add_argument(
        "--interval", type=float, default=10.0, help="their interval in seconds (default: 10)"
    )
    parser.add_argument("--window", type=int, default=3, help="intervals measured (default: 3)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument(
        "--profile", metavar="FILE", help="run the operator under cProfile, writing its stats to FILE"
    )


def _proc(pid: int) -> dict[str, str]:
    fields = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _mib(value: str) -> float:
    return int(value.split()[0]) / 1024


def _cpu_seconds(pid: int) -> float:
    stat = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


class Api:
    """Just enough of the Kubernetes API for the setup, over httpx with the kubeconfig's token."""

    def __init__(self, kubeconfig: pathlib.Path) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        server = config["clusters"][0]["cluster"]["server"]
        token = config["users"][0]["user"]["token"]
        self.http = httpx.AsyncClient(
            base_url=server, headers={"Authorization": f"Bearer {token}"}, timeout=30.0
        )

    async def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        response = await self.http.post(path, json=body)
        if response.status_code != 409:
            response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def get(self, path: str) -> dict[str, Any]:
        response = await self.http.get(path)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


async def _setup(api: Api, emulator_url: str, *, objects: int, interval: float) -> None:
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        await api.create(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", yaml.safe_load(path.read_text())
        )
    base = f"/api/v1/namespaces/{NAMESPACE}"
    custom = f"/apis/{GROUP_VERSION}/namespaces/{NAMESPACE}"
    await api.create(
        f"{base}/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "site-credentials"},
            "stringData": {"username": "admin", "password": "admin"},
        },
    )
    await api.create(
        f"{custom}/orchestrationconnections",
        {
            "apiVersion": GROUP_VERSION,
            "kind": "OrchestrationConnection",
            "metadata": {"name": "site"},
            "spec": {
                "url": emulator_url,
                "auth": {"basic": {"secretRef": {"name": "site-credentials"}}},
                "maxConcurrentRequests": 20,
            },
        },
    )
    deadline = time.monotonic() + 60
    while not _ready(await api.get(f"{custom}/orchestrationconnections/site")):  # probed by the operator
        if time.monotonic() > deadline:
            raise RuntimeError("the Connection did not become Ready")
        await asyncio.sleep(0.2)
    gate = asyncio.Semaphore(20)

    async def create(index: int) -> None:
        async with gate:
            await api.create(
                f"{custom}/eventpolls",
                {
                    "apiVersion": GROUP_VERSION,
                    "kind": "EventPoll",
                    "metadata": {"name": f"poll-{index:05d}"},
                    "spec": {
                        "connectionRef": {"name": "site"},
                        "name": f"feed-{index % 50}",
                        "mode": "timestamp",
                        "interval": f"{interval:g}s",
                        "sinks": [{"name": "ring", "configMap": {"name": f"ring-{index:05d}"}}],
                    },
                },
            )

    await asyncio.gather(*(create(i) for i in range(objects)))


def _ready(obj: Mapping[str, Any]) -> bool:
    found = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in found)


async def _handled(api: Api) -> tuple[int, int]:
    """(EventPolls that polled at least once, the list's resourceVersion)."""
    listed = await api.get(f"/apis/{GROUP_VERSION}/namespaces/{NAMESPACE}/eventpolls")
    done = sum(1 for item in listed["items"] if (item.get("status") or {}).get("lastPollTime"))
    return done, int(listed["metadata"]["resourceVersion"])


async def _measure(args: argparse.Namespace, work: pathlib.Path) -> Result:
    kubeconfig = work / "kubeconfig"
    sandbox = process.start_sandbox_process(kubeconfig=kubeconfig, log_path=work / "sandbox.log")
    emulator = threaded.ThreadedEmulator.start()
    operator: process.KopfProcess | None = None
    api = Api(kubeconfig)
    try:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT / "operator"), env.get("PYTHONPATH", "")) if p
        )
        env["KUBECONFIG"] = str(kubeconfig)
        operator = process.KopfProcess(
            [
                sys.executable,
                *(["-m", "cProfile", "-o", args.profile] if args.profile else []),
                "-m",
                "orchestration_operator",
                "run",
                "--standalone",
                "--namespace",
                NAMESPACE,
                "--health-port",
                "0",
                "--metrics-port",
                "0",
            ],
            env=env,
            log_path=work / "operator.log",
            cwd=None,
        )
        operator.wait_for_log(r"Activity 'create_eventpoll_state' succeeded", timeout=60)
        await _setup(api, emulator.url, objects=args.objects, interval=args.interval)
        print(f"created {args.objects} EventPolls; waiting until each has polled", file=sys.stderr)
        deadline = time.monotonic() + max(120.0, 4 * args.interval)
        while (await _handled(api))[0] < args.objects:
            if time.monotonic() > deadline:
                raise RuntimeError(f"not every EventPoll polled in time: {(await _handled(api))[0]}")
            await asyncio.sleep(1.0)
        await asyncio.sleep(args.interval)  # the creation burst's first polls are behind now
        window = args.window * args.interval
        start = time.time()
        cpu_before = _cpu_seconds(operator.pid)
        rv_before = (await _handled(api))[1]
        await asyncio.sleep(window)
        rv_after = (await _handled(api))[1]
        cpu = _cpu_seconds(operator.pid) - cpu_before
        end = start + window
        times = [r.time for r in emulator.calls("poll") if start <= r.time < end]
        histogram = [0] * int(window)
        for moment in times:
            histogram[min(int(moment - start), len(histogram) - 1)] += 1
        status = _proc(operator.pid)
        return Result(
            objects=args.objects,
            interval=args.interval,
            window=window,
            polls=len(times),
            busiest=max(histogram, default=0),
            writes=rv_after - rv_before,
            rss_mib=_mib(status["VmRSS"]),
            peak_rss_mib=_mib(status["VmHWM"]),
            cpu_seconds=cpu,
            histogram=tuple(histogram),
        )
    finally:
        await api.http.aclose()
        if operator is not None:
            operator.stop()
        emulator.stop()
        sandbox.stop()


def main(args: argparse.Namespace) -> int:
    if args.profile:
        args.profile = os.path.abspath(args.profile)
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-eventpoll-"))
    result = asyncio.run(_measure(args, work))
    for line in result.lines():
        print(line)
    if args.keep:
        print(f"logs in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if result.passed else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
