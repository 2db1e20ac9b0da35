"""``orchestration-operator run``: the operator process (kopf), configured from flags and env.

Flags override the environment variables documented in ``settings.py``. kopf is imported only here
and in ``handlers/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from typing import Any

from orchestration_operator import metrics
from orchestration_operator import settings as settings_module


def add_arguments(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        action="append",
        dest="namespaces",
        metavar="NS",
        help="watch this namespace (repeatable; globs allowed); env NAMESPACES (comma-separated)",
    )
    scope.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        default=None,
        help="watch the whole cluster (the default when no namespace is given); env ALL_NAMESPACES",
    )
    parser.add_argument(
        "--standalone",
        action="store_true",
        default=None,
        help="no kopf peering: only run one replica; env STANDALONE",
    )
    parser.add_argument("--peering", metavar="NAME", help="kopf peering object name; env PEERING")
    parser.add_argument("--priority", type=int, help="this replica's peering priority; env PRIORITY")
    parser.add_argument("--health-port", type=int, help="liveness port, /healthz (0 = off); env HEALTH_PORT")
    parser.add_argument("--metrics-port", type=int, help="metrics port, /metrics (0 = off); env METRICS_PORT")
    parser.add_argument("--log-format", choices=settings_module.LOG_FORMATS, help="env LOG_FORMAT")
    parser.add_argument("--log-level", choices=settings_module.LOG_LEVELS, help="env LOG_LEVEL")
    parser.add_argument(
        "--success-events",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a Normal Succeeded Event per successful ServiceRun (default: on); env SUCCESS_EVENTS",
    )


def resolve(args: argparse.Namespace) -> settings_module.Settings:
    """Environment first, then flags over it."""
    base = settings_module.from_env()
    overrides: dict[str, object] = {}
    if args.namespaces:
        overrides["namespaces"] = tuple(args.namespaces)
        overrides["all_namespaces"] = False
    if args.all_namespaces:
        overrides["all_namespaces"] = True
        overrides["namespaces"] = ()
    for field in (
        "standalone",
        "peering",
        "priority",
        "health_port",
        "metrics_port",
        "log_format",
        "log_level",
        "success_events",
    ):
        value = getattr(args, field)
        if value is not None:
            overrides[field] = value
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def configure_logging(kopf: Any, config: settings_module.Settings) -> None:
    """kopf's log format and level from the settings; request logging of httpx off at every level."""
    kopf.configure(
        debug=config.log_level == "debug",
        quiet=config.log_level in ("warning", "error"),
        log_format=kopf.LogFormat.JSON if config.log_format == "json" else kopf.LogFormat.FULL,
        log_refkey="object" if config.log_format == "json" else None,
    )
    if config.log_level == "error":
        logging.getLogger().setLevel(logging.ERROR)
    # httpx logs every request with its full URL (at INFO, httpcore at DEBUG): a sink URL from a Secret
    # may carry a token in its path. Never, at any level: the client logs each request itself at DEBUG
    # (route, outcome, milliseconds) and sinks name only scheme and host.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(args: argparse.Namespace) -> int:
    try:
        config = resolve(args)
    except settings_module.SettingsError as exc:
        print(f"orchestration-operator run: {exc}", file=sys.stderr)
        return 2

    settings_module.use(config)

    import kopf

    from orchestration_operator.handlers import all as _handlers  # noqa: F401

    configure_logging(kopf, config)
    metrics.serve(config.metrics_port)
    kopf.run(
        standalone=config.standalone,
        priority=config.priority,
        peering_name=None if config.standalone else config.peering,
        clusterwide=config.clusterwide,
        namespaces=config.namespaces,
        liveness_endpoint=f"http://0.0.0.0:{config.health_port}/healthz" if config.health_port else None,
    )
    return 0
