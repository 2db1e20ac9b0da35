"""``orchestration-operator emulator``: not implemented yet."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def main(args: argparse.Namespace) -> int:
    del args
    print("orchestration-operator emulator: not implemented yet", file=sys.stderr)
    return 2
