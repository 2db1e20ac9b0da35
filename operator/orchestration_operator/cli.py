"""The ``orchestration-operator`` command line: one sub-command per module in ``commands/``.

Sub-commands are imported lazily, so ``check`` or ``emulator`` never pay for importing kopf, and
the operator image never imports the test toolkit unless asked to run it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

# name -> (module under orchestration_operator.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "run the operator (kopf) against the current cluster"),
    "local": ("local", "start sandbox + emulator + operator locally and apply the examples"),
    "check": ("check", "diagnose a Drupal site's Orchestration API (reachability, TLS, auth, permission)"),
    "emulator": ("emulator", "serve the Drupal Orchestration API emulator (tests and local trials only)"),
    "sandbox": ("sandbox", "serve the in-process Kubernetes API sandbox (tests and local trials only)"),
    "bench": ("bench", "run the benchmarks and print ratios against the ideal"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orchestration-operator",
        description="Drive a Drupal site's Orchestration API from Kubernetes.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        sub_parser.set_defaults(_module=module_name)
        _load(module_name).add_arguments(sub_parser)
    return parser


class CommandModule(Protocol):
    """The shape of each ``commands/<name>.py`` module."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def main(self, args: argparse.Namespace) -> int: ...


def _load(module_name: str) -> CommandModule:
    return cast(CommandModule, importlib.import_module(f"orchestration_operator.commands.{module_name}"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _load(args._module).main(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
