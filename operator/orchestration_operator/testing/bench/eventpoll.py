"""``orchestration-operator bench eventpoll``: 1,000 EventPolls held, beside 10,000 finished ServiceRuns.

Sandbox, emulator and operator each run in their own process (``processes``); this process first runs
``--serviceruns`` ServiceRuns to completion (a service that answers at once; the operator then holds them,
as a cluster with a history of runs), then creates ``--objects`` EventPolls of one Connection, all with
the same ``--interval`` and an empty poll source
(so each cycle is one poll and one status write), waits until every one has polled, waits one more
interval (the creation burst's first polls are behind), then counts the polls the emulator received per
second over ``--window`` intervals. Printed:

- the poll rate: mean per second, the busiest second and their ratio (target: at most 2; every EventPoll
  in the same second would be ``objects / interval`` times the mean), and how many seconds saw how many;
- Kubernetes writes: status PATCHes per poll over the whole benchmark (the sandbox counts them), other
  writes per EventPoll (kopf's finalizer);
- the operator's RSS (target: at most 256 MiB with 10,000 ServiceRuns besides) and CPU over the window.

``--profile FILE`` runs the operator under cProfile.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import json
import math
import pathlib
import pstats
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import yaml

from orchestration_operator.api import names
from orchestration_operator.testing.bench import processes

NAMESPACE = "bench"
RUNS_NAMESPACE = "bench-runs"
RATIO_TARGET = 2.0
RSS_TARGET_MIB = 256.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--objects", type=int, default=1000, help="EventPolls to hold (default: 1000)")
    parser.add_argument(
        "--serviceruns",
        type=int,
        default=10000,
        help="finished ServiceRuns held besides, for the RSS target (default: 10000; 0: none)",
    )
    parser.add_argument("--interval", type=int, default=30, help="their interval in seconds (default: 30)")
    parser.add_argument("--window", type=int, default=2, help="intervals measured (default: 2)")
    parser.add_argument("--concurrency", type=int, default=20, help="maxConcurrentRequests (default: 20)")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
    parser.add_argument("--profile", type=pathlib.Path, help="run the operator under cProfile, write here")
    parser.add_argument("--keep", type=pathlib.Path, help="keep logs in this directory")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")


def histogram(times: Sequence[float], *, start: float, seconds: int) -> list[int]:
    """Events per one-second bucket of ``[start, start + seconds)``; times outside are ignored."""
    buckets = [0] * seconds
    for moment in times:
        index = math.floor(moment - start)
        if 0 <= index < seconds:
            buckets[index] += 1
    return buckets


@dataclasses.dataclass
class Report:
    objects: int
    interval: int
    window: int
    serviceruns: int = 0
    serviceruns_seconds: float = 0.0
    per_second: list[int] = dataclasses.field(default_factory=list)
    status_writes_per_poll: float = 0.0
    other_writes_per_eventpoll: float = 0.0
    polls_total: int = 0
    rss_mib: float = 0.0
    peak_rss_mib: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def polls(self) -> int:
        return sum(self.per_second)

    @property
    def mean(self) -> float:
        return self.polls / len(self.per_second) if self.per_second else 0.0

    @property
    def busiest(self) -> int:
        return max(self.per_second, default=0)

    @property
    def ratio(self) -> float:
        return self.busiest / self.mean if self.mean else math.inf

    @property
    def passed(self) -> bool:
        return self.ratio <= RATIO_TARGET and self.peak_rss_mib <= RSS_TARGET_MIB

    def lines(self) -> list[str]:
        seconds = len(self.per_second)
        spread = ", ".join(
            f"{count}: {times}s" for count, times in sorted(collections.Counter(self.per_second).items())
        )
        return [
            f"eventpoll: {self.objects} EventPolls, interval {self.interval} s, window {seconds} s; "
            f"{self.serviceruns} finished ServiceRuns held (run in {self.serviceruns_seconds:.0f} s)",
            f"  polls in the window       {self.polls} ({self.mean:.1f}/s mean, busiest second "
            f"{self.busiest})",
            f"  busiest / mean            {self.ratio:.2f} (target <= {RATIO_TARGET:g})",
            f"  seconds by polls          {spread}",
            f"  status writes per poll    {self.status_writes_per_poll:.2f} (over all "
            f"{self.polls_total} polls)",
            f"  other writes per object   {self.other_writes_per_eventpoll:.2f} (kopf's finalizer)",
            f"  operator RSS              {self.rss_mib:.0f} MiB (peak {self.peak_rss_mib:.0f} MiB; target "
            f"<= {RSS_TARGET_MIB:g} MiB with 10,000 ServiceRuns and 1,000 EventPolls)",
            f"  operator CPU              {self.cpu_seconds / max(seconds, 1):.1%} of one core in the window",
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "polls": self.polls,
            "mean": self.mean,
            "busiest": self.busiest,
            "ratio": self.ratio,
        }


def _token(kubeconfig: pathlib.Path) -> str:
    config = yaml.safe_load(kubeconfig.read_text())
    return str(config["users"][0]["user"]["token"])


def _eventpoll(index: int, interval: int) -> dict[str, Any]:
    return {
        "apiVersion": names.API_VERSION,
        "kind": "EventPoll",
        "metadata": {"name": f"poll-{index:05d}"},
        "spec": {
            "connectionRef": {"name": "site"},
            "name": f"feed-{index % 50}",
            "mode": "timestamp",
            "interval": f"{interval}s",
            "sinks": [{"name": "ring", "configMap": {"name": f"ring-{index:05d}"}}],
        },
    }


async def _measure(
    args: argparse.Namespace, directory: pathlib.Path, sandbox: processes.Sandbox, report: Report
) -> processes.Operator:
    # Imported here: they need the testing extra, and the CLI imports this module for its options.
    from orchestration_operator.testing.bench import driver as driver_module
    from orchestration_operator.testing.bench import servicerun as servicerun_bench
    from orchestration_operator.testing.drupal import process as drupal_process

    catalog = directory / "catalog.yaml"
    servicerun_bench.write_catalog(catalog, latency_ms=0, service=driver_module.SERVICE)
    emulator = drupal_process.EmulatorProcess("--quiet", "--catalog", str(catalog))
    emulator_url = emulator.start()
    driver = driver_module.Driver(sandbox.url, _token(sandbox.kubeconfig))
    operator: processes.Operator | None = None
    try:
        await driver.install(
            namespaces=(NAMESPACE, RUNS_NAMESPACE), emulator_url=emulator_url, concurrency=args.concurrency
        )
        python_args = ("-m", "cProfile", "-o", str(args.profile)) if args.profile else ()
        operator = processes.Operator(
            kubeconfig=sandbox.kubeconfig, log_path=directory / "operator.log", python_args=python_args
        )
        if args.serviceruns:
            began = time.monotonic()
            _, _, phases = await driver.run_batch(
                RUNS_NAMESPACE, args.serviceruns, concurrency=32, interval=0, deadline=args.timeout
            )
            report.serviceruns_seconds = time.monotonic() - began
            failed = sum(1 for phase in phases.values() if phase != "Succeeded")
            if failed:
                raise RuntimeError(f"{failed} of {args.serviceruns} ServiceRuns did not succeed")
        path = f"{driver_module.GROUP_PATH}/namespaces/{NAMESPACE}/eventpolls"
        gate = asyncio.Semaphore(32)

        async def create(index: int) -> None:
            async with gate:
                await driver.create(path, _eventpoll(index, args.interval))

        await asyncio.gather(*(create(i) for i in range(args.objects)))
        deadline = time.monotonic() + args.timeout
        while True:  # every EventPoll has polled once
            listed = await driver.get(path)
            polled = sum(1 for item in listed["items"] if (item.get("status") or {}).get("lastPollTime"))
            if polled >= args.objects:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {polled} of {args.objects} EventPolls polled in time")
            await asyncio.sleep(1.0)
        await asyncio.sleep(args.interval)  # the creation burst's first polls are behind now
        seconds = args.window * args.interval
        start = time.time()
        cpu_before = operator.cpu_seconds()
        await asyncio.sleep(seconds)
        report.cpu_seconds = operator.cpu_seconds() - cpu_before
        report.rss_mib = operator.rss_bytes() / 2**20
        report.peak_rss_mib = operator.peak_rss_bytes() / 2**20
        polls = emulator.control.calls("poll")
        report.per_second = histogram([r.time for r in polls], start=start, seconds=seconds)
        report.polls_total = len(polls)
        return operator
    except BaseException:
        if operator is not None:
            operator.stop()
            print(operator.logs()[-3000:])
        raise
    finally:
        await driver.aclose()
        emulator.stop()


def run(args: argparse.Namespace) -> Report:
    report = Report(
        objects=args.objects, interval=args.interval, window=args.window, serviceruns=args.serviceruns
    )
    with tempfile.TemporaryDirectory(prefix="bench-eventpoll-") as tmp:
        directory = args.keep or pathlib.Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        sandbox = processes.Sandbox(directory)
        try:
            operator = asyncio.run(_measure(args, directory, sandbox, report))
            operator.stop()
        finally:
            sandbox.stop(signum=2)
        rows = sandbox.counts()
    status = processes.summary(
        rows, method="PATCH", namespace=NAMESPACE, resource="eventpolls", subresource="status"
    )
    report.status_writes_per_poll = status / max(report.polls_total, 1)
    other = sum(
        processes.summary(rows, method=method, namespace=NAMESPACE, resource="eventpolls", subresource="")
        for method in ("PATCH", "PUT")
    )
    report.other_writes_per_eventpoll = other / max(args.objects, 1)
    return report


def main(args: argparse.Namespace) -> int:
    report = run(args)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print("\n".join(report.lines()))
    if args.profile:
        pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(25)
    return 0 if report.passed else 1
