"""``orchestration-operator bench sandbox``: the Kubernetes API sandbox's own speed and memory.

Prints creates per second (aiohttp client, httpx client, kubectl), write-to-watch-event latency
(p50/p95) against the targets (over 1,000 writes/s, under 5 ms), and the RSS growth for N objects.
The measuring code is :mod:`orchestration_operator.testing.kube.bench`; this module only adapts it to
the bench command (the ``testing`` extra is imported inside ``main``).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--objects", type=int, default=10_000, help="custom objects held (memory figure)")
    parser.add_argument("--concurrency", type=int, default=16, help="creates in flight")
    parser.add_argument("--kubectl-objects", type=int, default=250, help="objects created with kubectl")
    parser.add_argument("--watchers", type=int, default=10, help="watch streams for the fan-out latency")
    parser.add_argument("--writes", type=int, default=300, help="writes timed from write to watch event")


def main(args: argparse.Namespace) -> int:
    from orchestration_operator.testing.kube import bench

    bench.run(
        objects=args.objects,
        concurrency=args.concurrency,
        kubectl_objects=args.kubectl_objects,
        watchers=args.watchers,
        writes=args.writes,
    )
    return 0
