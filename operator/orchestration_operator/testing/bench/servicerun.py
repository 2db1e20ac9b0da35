"""``orchestration-operator bench servicerun``: many ServiceRuns at once against the emulator.

Sandbox, emulator and operator each run in their own process; this process (the driver) creates the
runs over HTTP and watches them. The emulator's only service sleeps ``--latency-ms`` and answers a small
object; the connection allows ``--concurrency`` requests at once. Phases:

1. warm-up: a few runs in namespace ``bench-warmup`` (imports, connection pools, watch streams);
2. burst: ``--runs`` runs created at once in namespace ``bench``, whose connection has never been
   used (so its catalog fetch is part of the burst: single flight);
3. paced: ``--paced`` runs, one every ``--interval-ms``, in namespace ``bench-paced``: the latency of
   one run when nothing queues.

Printed: total burst time, the ideal (runs x latency / concurrency), their ratio, p50/p95 from create to
``Succeeded`` (burst and paced), Kubernetes writes per run (PATCH/PUT/POST on serviceruns counted by the
sandbox, the driver's own creates excluded), catalog fetches, peak concurrent executes seen by the
emulator, and the operator's RSS and CPU time. ``--profile FILE`` runs the operator under cProfile.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import pathlib
import pstats
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import yaml

from orchestration_operator.testing.bench import processes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=1000, help="ServiceRuns in the burst (default: 1000)")
    parser.add_argument("--latency-ms", type=int, default=50, help="the service's run time (default: 50)")
    parser.add_argument("--concurrency", type=int, default=20, help="maxConcurrentRequests (default: 20)")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up runs, at least 1 (default: 20)")
    parser.add_argument(
        "--paced", type=int, default=40, help="runs of the paced phase (default: 40; 0: skip)"
    )
    parser.add_argument("--interval-ms", type=int, default=100, help="paced phase spacing (default: 100)")
    parser.add_argument("--create-concurrency", type=int, default=32, help="driver's POSTs in flight")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
    parser.add_argument("--profile", type=pathlib.Path, help="run the operator under cProfile, write here")
    parser.add_argument(
        "--py-spy",
        type=pathlib.Path,
        metavar="FILE",
        help="sample a process with py-spy (on PATH or $PY_SPY) during the burst only; raw stacks to FILE",
    )
    parser.add_argument(
        "--py-spy-target",
        choices=("operator", "sandbox", "emulator"),
        default="operator",
        help="the process --py-spy samples (default: operator)",
    )
    parser.add_argument("--keep", type=pathlib.Path, help="keep logs in this directory")
    parser.add_argument(
        "--cel",
        action="store_true",
        help="keep the CRDs' CEL rules (the sandbox's cel-python then dominates the figures)",
    )
    parser.add_argument(
        "--timeline",
        type=pathlib.Path,
        metavar="FILE",
        help="write one JSON line per burst run: created, execute start and end (emulator), finished",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument(
        "--baseline",
        type=pathlib.Path,
        metavar="KOPF_FILE",
        help="run this kopf operator file instead of ours, to calibrate the machine "
        "(scripts/bench-kopf-baseline.py: kopf alone doing the same writes)",
    )
    parser.add_argument(
        "--kopf-floor",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after our operator, run the same burst with kopf alone doing the same writes "
        f"({KOPF_FLOOR.name}) and print its ratio and CPU beside ours: the floor kopf sets on "
        "this machine (default: on, when the checkout has the script)",
    )


@dataclasses.dataclass
class Report:
    runs: int
    latency_ms: int
    concurrency: int
    total_seconds: float = 0.0
    ideal_seconds: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    paced_runs: int = 0
    paced_p50: float | None = None
    paced_p95: float | None = None
    writes_per_run: float = 0.0
    writes: dict[str, int] = dataclasses.field(default_factory=dict)
    events_per_run: float = 0.0
    catalog_fetches: int = 0
    other_runs: int = 0  # warm-up and paced runs
    peak_concurrent_executes: int = 0
    executes: int = 0
    not_succeeded: int = 0
    rss_mib: float = 0.0
    peak_rss_mib: float = 0.0
    cpu_seconds: float = 0.0
    sandbox_cpu_seconds: float = 0.0

    @property
    def ratio(self) -> float:
        return self.total_seconds / self.ideal_seconds if self.ideal_seconds else 0.0

    def lines(self) -> list[str]:
        ms = 1000
        paced = "skipped"
        if self.paced_p50 is not None and self.paced_p95 is not None:
            paced = (
                f"p50 {self.paced_p50 * ms:.0f} ms, p95 {self.paced_p95 * ms:.0f} ms "
                f"({self.paced_runs} runs, one at a time)"
            )
        writes = ", ".join(f"{key} {count / self.runs:.2f}" for key, count in sorted(self.writes.items()))
        return [
            f"servicerun: {self.runs} runs, service latency {self.latency_ms} ms, "
            f"maxConcurrentRequests {self.concurrency}",
            f"  total time                {self.total_seconds:.2f} s",
            f"  ideal time                {self.ideal_seconds:.2f} s (runs x latency / concurrency)",
            f"  ratio                     {self.ratio:.3f} (target <= 1.15)",
            f"  create -> Succeeded       p50 {self.p50 * ms:.0f} ms, p95 {self.p95 * ms:.0f} ms (burst)",
            f"  create -> Succeeded       {paced}",
            f"  Kubernetes writes per run {self.writes_per_run:.2f} ({writes or 'none'}); "
            f"events {self.events_per_run:.2f}",
            f"  catalog fetches           {self.catalog_fetches} (whole benchmark: 3 connections, "
            f"{self.runs + self.other_runs} runs)",
            f"  peak concurrent executes  {self.peak_concurrent_executes} "
            f"(seen by the emulator; {self.executes} executes)",
            f"  runs not Succeeded        {self.not_succeeded}",
            f"  operator RSS              {self.rss_mib:.0f} MiB (peak {self.peak_rss_mib:.0f} MiB); "
            f"CPU {self.cpu_seconds:.2f} s in the burst "
            f"({self.cpu_seconds / self.runs * 1000:.2f} ms per run)",
            f"  sandbox CPU               {self.sandbox_cpu_seconds:.2f} s in the burst "
            f"({self.sandbox_cpu_seconds / self.runs * 1000:.2f} ms per run)",
        ]

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "ratio": self.ratio}


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def peak_concurrency(intervals: Sequence[tuple[float, float]]) -> int:
    """The most intervals ``(start, end)`` overlapping at any moment."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    current = peak = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def _start_py_spy(output: pathlib.Path, pid: int) -> subprocess.Popen[bytes]:
    binary = os.environ.get("PY_SPY") or shutil.which("py-spy") or "py-spy"
    command = [
        binary,
        "record",
        "--pid",
        str(pid),
        "--threads",
        "--format",
        "raw",
        "-r",
        "250",
        "-o",
        str(output),
    ]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # py-spy attaches before the burst starts
    return spy


def _write_timeline(
    path: pathlib.Path, created: dict[str, float], finished: dict[str, float], executes: Sequence[Any]
) -> None:
    calls = {}
    for record in executes:
        config = (record.body or {}).get("config") or {}
        calls[config.get("n")] = (record.time, record.time + (record.duration or 0.0))
    origin = min(created.values())
    with path.open("w", encoding="utf-8") as handle:
        for name in sorted(created):
            start, end = calls.get(name, (None, None))
            row = {
                "name": name,
                "created": created[name] - origin,
                "execute_start": None if start is None else start - origin,
                "execute_end": None if end is None else end - origin,
                "finished": finished[name] - origin if name in finished else None,
            }
            handle.write(json.dumps(row) + "\n")


def _token(kubeconfig: pathlib.Path) -> str:
    config = yaml.safe_load(kubeconfig.read_text())
    return str(config["users"][0]["user"]["token"])


def write_catalog(path: pathlib.Path, *, latency_ms: int, service: str) -> None:
    """The emulator's catalog for benchmarks: one service answering ``{"ok": true}`` after ``latency_ms``."""
    path.write_text(
        yaml.safe_dump(
            {
                "services": [
                    {
                        "id": service,
                        "label": "Sleep",
                        "config": [{"key": "n", "label": "N", "required": True}],
                        "behaviour": {"kind": "value", "value": {"ok": True}, "latency_ms": latency_ms},
                    }
                ]
            }
        )
    )


async def _measure(
    args: argparse.Namespace, directory: pathlib.Path, sandbox: processes.Sandbox, report: Report
) -> processes.Operator:
    # Imported here: they need the testing extra, and the CLI imports this module for its options.
    from orchestration_operator.testing.bench import driver as driver_module
    from orchestration_operator.testing.drupal import process as drupal_process

    emulator_catalog = directory / "catalog.yaml"
    write_catalog(emulator_catalog, latency_ms=args.latency_ms, service=driver_module.SERVICE)
    emulator = drupal_process.EmulatorProcess("--quiet", "--catalog", str(emulator_catalog))
    emulator_url = emulator.start()
    driver: driver_module.Driver = driver_module.Driver(sandbox.url, _token(sandbox.kubeconfig))
    operator: processes.Operator | None = None
    try:
        await driver.install(
            namespaces=("bench-warmup", "bench", "bench-paced"),
            emulator_url=emulator_url,
            concurrency=args.concurrency,
            cel=args.cel,
        )
        python_args = ("-m", "cProfile", "-o", str(args.profile)) if args.profile else ()
        operator = processes.Operator(
            kubeconfig=sandbox.kubeconfig,
            log_path=directory / "operator.log",
            python_args=python_args,
            kopf_file=args.baseline,
            ready=None,  # the warm-up runs tell when the operator handles runs, at any log level
        )
        warmup = max(1, args.warmup)
        await driver.run_batch("bench-warmup", warmup, concurrency=warmup, interval=0, deadline=args.timeout)
        control = emulator.control
        before = len(control.request_log)  # the burst's requests are the ones after this
        spy = None
        if args.py_spy:
            # EmulatorProcess does not expose its pid (yet): reach for its Popen.
            emulator_pid = getattr(getattr(emulator, "_process", None), "pid", 0)
            pids = {"operator": operator.pid, "sandbox": sandbox.pid, "emulator": emulator_pid}
            spy = _start_py_spy(args.py_spy, pids[args.py_spy_target])
        cpu_before = operator.cpu_seconds()
        sandbox_cpu_before = sandbox.cpu_seconds()
        try:
            created, finished, phases = await driver.run_batch(
                "bench", args.runs, concurrency=args.create_concurrency, interval=0, deadline=args.timeout
            )
        finally:
            report.cpu_seconds = operator.cpu_seconds() - cpu_before
            report.sandbox_cpu_seconds = sandbox.cpu_seconds() - sandbox_cpu_before
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=30)
        report.rss_mib = operator.rss_bytes() / 2**20
        report.peak_rss_mib = operator.peak_rss_bytes() / 2**20
        report.total_seconds = max(finished.values()) - min(created.values())
        latencies = [finished[name] - created[name] for name in created]
        report.p50 = percentile(latencies, 0.50)
        report.p95 = percentile(latencies, 0.95)
        report.not_succeeded = sum(1 for phase in phases.values() if phase != "Succeeded")
        log = control.request_log
        executes = [r for r in log[before:] if r.route == "execute"]
        report.executes = len(executes)
        report.peak_concurrent_executes = peak_concurrency(
            [(r.time, r.time + (r.duration or 0.0)) for r in executes]
        )
        if args.timeline:
            _write_timeline(args.timeline, created, finished, executes)
        if args.paced:
            created, finished, _ = await driver.run_batch(
                "bench-paced",
                args.paced,
                concurrency=1,
                interval=args.interval_ms / 1000,
                deadline=args.timeout,
            )
            paced = [finished[name] - created[name] for name in created]
            report.paced_runs = len(paced)
            report.paced_p50 = statistics.median(paced)
            report.paced_p95 = percentile(paced, 0.95)
        # Over the whole benchmark, all three connections (the Connections' probes hand their lists to
        # the runs' catalog cache; runs fetch only what is missing or stale).
        report.catalog_fetches = sum(1 for r in control.request_log if r.route == "services")
        return operator
    except BaseException:
        if operator is not None:
            operator.stop()
            print(operator.logs()[-3000:])
        raise
    finally:
        await driver.aclose()
        emulator.stop()


#: A bare kopf operator doing a ServiceRun's writes without its logic (in the checkout, not the package:
#: it is a kopf operator file, and the package's testing/ never imports kopf).
KOPF_FLOOR = processes.SOURCE_ROOT.parent / "scripts" / "bench-kopf-baseline.py"


def floor_lines(ours: Report, floor: Report) -> list[str]:
    """What kopf alone costs on this machine for the same burst and writes, beside our figures."""
    per_run = 1000 / ours.runs
    return [
        f"  kopf alone, same writes   ratio {floor.ratio:.3f}, CPU {floor.cpu_seconds * per_run:.2f} ms "
        f"per run ({KOPF_FLOOR.name}: the floor kopf sets here)",
        f"  ours over kopf alone      ratio {ours.ratio - floor.ratio:+.3f}, CPU "
        f"{(ours.cpu_seconds - floor.cpu_seconds) * per_run:+.2f} ms per run (the operator's own work: "
        "validation, the execute call, results, events)",
    ]


def run(args: argparse.Namespace) -> Report:
    report = Report(runs=args.runs, latency_ms=args.latency_ms, concurrency=args.concurrency)
    report.other_runs = max(1, args.warmup) + args.paced
    report.ideal_seconds = args.runs * args.latency_ms / 1000 / args.concurrency
    with tempfile.TemporaryDirectory(prefix="bench-servicerun-") as tmp:
        directory = args.keep or pathlib.Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        sandbox = processes.Sandbox(directory)
        try:
            operator = asyncio.run(_measure(args, directory, sandbox, report))
            operator.stop()
        finally:
            sandbox.stop(signum=2)
        rows = sandbox.counts()
    writes = {}
    for method in ("PATCH", "PUT", "POST", "DELETE"):
        for subresource in ("", "status"):
            count = processes.summary(
                rows, method=method, namespace="bench", resource="serviceruns", subresource=subresource
            )
            if method == "POST" and subresource == "":
                count -= args.runs  # the driver's creates
            if count:
                writes[f"{method} {subresource or 'object'}"] = count
    report.writes = writes
    report.writes_per_run = sum(writes.values()) / args.runs
    report.events_per_run = (
        processes.summary(rows, method="POST", namespace="bench", resource="events") / args.runs
    )
    return report


def print_profile(path: pathlib.Path, *, limit: int = 25) -> None:
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(limit)


def main(args: argparse.Namespace) -> int:
    report = run(args)
    floor: Report | None = None
    if args.kopf_floor and args.baseline is None and KOPF_FLOOR.exists():
        overrides = {"baseline": KOPF_FLOOR, "paced": 0, "profile": None, "py_spy": None, "timeline": None}
        floor = run(argparse.Namespace(**{**vars(args), **overrides}))
    if args.json:
        print(json.dumps({**report.to_dict(), "kopf_floor": floor.to_dict() if floor else None}, indent=2))
    else:
        print("\n".join(report.lines() + (floor_lines(report, floor) if floor else [])))
    if args.profile:
        print_profile(args.profile)
    return 0 if report.not_succeeded == 0 else 1
