"""``orchestration-operator emulator``: serve the Drupal Orchestration API emulator until SIGINT/SIGTERM.

A test and local-trial tool (needs the ``testing`` extra). It prints one line,
``emulator listening on URL``, which ``testing.drupal.process.EmulatorProcess`` waits for. Without
``--users``/``--user`` it serves the demo accounts, among them ``admin``/``admin``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import pathlib
import signal
import ssl
import sys
from typing import Any

DEMO_WARNING = (
    "WARNING: no --users/--user given: serving the DEMO accounts admin/admin (with the permission "
    "'use orchestration connect'), editor/editor (without it) and blocked/blocked. "
    "Never expose this emulator beyond your machine."
)

EPILOG = f"""\
!!! This is a test and local-trial tool, not a Drupal site. !!!
{DEMO_WARNING}

Without --catalog it serves the demo catalog shipped in the package
(orchestration_operator/testing/drupal/demo_catalog.yaml): services of eca, ai_agent, ai_function and
tool providers, and the poll sources new_articles (timestamp) and order_updates (id).

Drive it from tests or a shell through its control API under /_emulator/ (loopback clients only unless
--allow-remote-control), for example:
  curl -s http://127.0.0.1:8080/_emulator/requests
  curl -s -X PATCH http://127.0.0.1:8080/_emulator/settings -d '{{"poll_order": "descending"}}'
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    add("--port", type=int, default=8080, help="port to bind, 0 for any free one (default: 8080)")
    add("--catalog", type=pathlib.Path, metavar="FILE", help="services and poll sources (YAML or JSON)")
    accounts = parser.add_mutually_exclusive_group()
    accounts.add_argument("--users", type=pathlib.Path, metavar="FILE", help="accounts file (YAML or JSON)")
    accounts.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="NAME:PASSWORD_FILE",
        help="an account with the permission, its password read from a file (repeatable)",
    )
    add("--base-path", default="", metavar="PATH", help="serve the site under a sub-path, e.g. /drupal")
    add("--site-name", default="Drupal", help="the site name (the Basic auth realm)")
    add(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="initial variant setting, VALUE as JSON or a bare string (repeatable): poll_order=descending",
    )
    add("--tls-cert", type=pathlib.Path, metavar="FILE", help="serve https with this PEM certificate chain")
    add("--tls-key", type=pathlib.Path, metavar="FILE", help="the private key of --tls-cert")
    add("--quiet", action="store_true", help="do not log each request to stderr")
    add(
        "--allow-remote-control",
        action="store_true",
        help="answer the control API from non-loopback clients too (e.g. inside a container)",
    )


class _UsageError(Exception):
    pass


def _settings(pairs: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for pair in pairs:
        name, equals, raw = pair.partition("=")
        if not equals or not name:
            raise _UsageError(f"--setting {pair!r}: expected NAME=VALUE")
        try:
            result[name] = json.loads(raw)
        except ValueError:
            result[name] = raw
    return result


def _users(args: argparse.Namespace) -> list[Any] | None:
    from orchestration_operator.testing.drupal import users

    if args.users is not None:
        return list(users.load_users(args.users))
    accounts = []
    for spec in args.user:
        name, colon, password_file = spec.partition(":")
        if not colon or not name or not password_file:
            raise _UsageError(f"--user {spec!r}: expected NAME:PASSWORD_FILE")
        try:
            password = pathlib.Path(password_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise _UsageError(f"--user {name}: cannot read the password file: {exc.strerror}") from exc
        accounts.append(users.User(name, password))
    return accounts or None


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if args.tls_cert is None and args.tls_key is None:
        return None
    if args.tls_cert is None:
        raise _UsageError("--tls-key needs --tls-cert")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise _UsageError(f"cannot load the TLS certificate: {exc}") from exc
    return context


async def _serve(emulator: Any, args: argparse.Namespace, context: ssl.SSLContext | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        url = await emulator.start(args.host, args.port, ssl_context=context)
        print(f"emulator listening on {url}", flush=True)
        await stop.wait()
    finally:
        await emulator.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(signum)


def main(args: argparse.Namespace) -> int:
    try:
        from orchestration_operator.testing.drupal import errors, server
    except ImportError as exc:
        print(
            f"orchestration-operator emulator: needs the 'testing' extra ({exc.name} is missing): "
            "pip install 'orchestration-operator[testing]'",
            file=sys.stderr,
        )
        return 2
    try:
        accounts = _users(args)
        emulator = server.DrupalEmulator(
            catalog=args.catalog,
            users=accounts,
            settings=_settings(args.setting),
            site_name=args.site_name,
            base_path=args.base_path,
            allow_remote_control=args.allow_remote_control,
        )
        context = _ssl_context(args)
    except (_UsageError, errors.EmulatorError) as exc:
        print(f"orchestration-operator emulator: error: {exc}", file=sys.stderr)
        return 2
    if accounts is None:
        print(DEMO_WARNING, file=sys.stderr, flush=True)
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    try:
        asyncio.run(_serve(emulator, args, context))
    except OSError as exc:
        print(
            f"orchestration-operator emulator: error: cannot listen on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    return 0
