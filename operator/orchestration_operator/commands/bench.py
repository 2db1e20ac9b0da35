"""``orchestration-operator bench TARGET``: benchmarks against the test toolkit (never part of the suite).

Each target is a module with ``add_arguments(parser)`` and ``main(args) -> int``. Its module is imported
to declare its options, so it must import only what the operator itself has; whatever needs the
``testing`` extra (the emulator, the sandbox) it imports inside ``main``. ``all`` runs every target with
its defaults. To add a target, add a line to :data:`TARGETS`.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Protocol, cast

# name -> (module, one-line help)
TARGETS: dict[str, tuple[str, str]] = {
    "servicerun": (
        "orchestration_operator.testing.bench.servicerun",
        "1,000 ServiceRuns at once: time vs ideal, latency, writes per run, catalog fetches, RSS",
    ),
    "eventpoll": (
        "orchestration_operator.testing.bench.eventpoll",
        "1,000 EventPolls held: polls per second (busiest vs mean), writes per poll, RSS, CPU",
    ),
    "sandbox": (
        "orchestration_operator.testing.bench.sandbox",
        "the Kubernetes API sandbox: writes/s, write-to-watch-event latency, memory for 10,000 objects",
    ),
    "client": (
        "orchestration_operator.commands.bench_client",
        "the Orchestration API client's overhead per request over raw httpx",
    ),
}


class Target(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def main(self, args: argparse.Namespace) -> int: ...


def _load(module: str) -> Target:
    return cast(Target, importlib.import_module(module))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for name, (module, help_text) in TARGETS.items():
        target_parser = sub.add_parser(name, help=help_text, description=help_text)
        _load(module).add_arguments(target_parser)
    sub.add_parser("all", help="every target above, with its defaults", description="every target")


def _defaults(name: str, module: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"orchestration-operator bench {name}")
    _load(module).add_arguments(parser)
    return parser.parse_args([])


def main(args: argparse.Namespace) -> int:
    if args.target == "all":
        worst = 0
        for name, (module, _) in TARGETS.items():
            print(f"== bench {name}", flush=True)
            worst = max(worst, _load(module).main(_defaults(name, module)))
        return worst
    module, _ = TARGETS[args.target]
    return _load(module).main(args)
