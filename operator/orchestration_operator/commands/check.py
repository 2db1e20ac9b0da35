"""``orchestration-operator check``: diagnose a Drupal site's Orchestration API from the command line.

Parses options, reads credentials from files or environment variables (never from argv, where other
users of the machine and shell histories would see them), runs ``client.diagnose`` and prints one line
per finding. The exit codes are ``client.diagnose.Exit``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from orchestration_operator.client import auth as auth_
from orchestration_operator.client import diagnose

PASSWORD_ENV = "ORCHESTRATION_PASSWORD"
COOKIE_ENV = "ORCHESTRATION_SESSION_COOKIE"
CSRF_ENV = "ORCHESTRATION_CSRF_TOKEN"


class UsageError(Exception):
    """Options that cannot be used as given; the message is printed as is."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    # No abbreviations: "--password SECRET" must be an error, not "--password-file SECRET" (which would
    # then print the secret as a file name that cannot be read).
    parser.allow_abbrev = False
    parser.epilog = (
        f"Secrets are read from files ('-' for stdin) or from ${PASSWORD_ENV},\n${COOKIE_ENV} and "
        f"${CSRF_ENV}, never from the command line.\n\n{diagnose.EXIT_CODE_HELP}"
    )
    parser.add_argument("--url", required=True, help="the site's base URL, with its sub-path if any")
    who = parser.add_mutually_exclusive_group()
    who.add_argument(
        "--username", help=f"HTTP Basic auth user (password from --password-file or ${PASSWORD_ENV})"
    )
    who.add_argument("--session-cookie-file", type=Path, help="a file holding SESS<hash>=<value>")
    who.add_argument("--login-username", help="log in with this user (password from --login-password-file)")
    parser.add_argument("--password-file", type=Path, help="the Basic auth password")
    parser.add_argument("--login-password-file", type=Path, help="the login password")
    parser.add_argument("--csrf-token-file", type=Path, help="the CSRF token of the session cookie")
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--insecure-skip-verify", action="store_true", help="do not verify the TLS certificate")
    tls.add_argument("--ca-file", type=Path, help="trust only this CA bundle (PEM)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default: 10)")
    parser.add_argument("--poll-name", help="also poll this name (an ECA poll event's Event ID)")
    parser.add_argument(
        "--poll-mode",
        choices=("timestamp", "id"),
        default="timestamp",
        help="the poll's cursor (default: timestamp)",
    )


def _secret(path: Path | None, env: str, what: str) -> str | None:
    """A secret from ``path`` ('-' is stdin), else from ``$env``. One trailing newline is dropped."""
    if path is not None:
        try:
            text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(
                f"cannot read the {what} file {str(path)!r}: {error.__class__.__name__}"
            ) from error
        return text.removesuffix("\n").removesuffix("\r")
    return os.environ.get(env)


def build_auth(args: argparse.Namespace) -> auth_.Auth | None:
    """The credentials the options ask for, or a ``UsageError``."""
    if args.password_file is not None and args.username is None:
        raise UsageError("--password-file needs --username")
    if args.login_password_file is not None and args.login_username is None:
        raise UsageError("--login-password-file needs --login-username")
    if args.csrf_token_file is not None and args.session_cookie_file is None:
        raise UsageError("--csrf-token-file needs --session-cookie-file")
    try:
        if args.username is not None:
            password = _secret(args.password_file, PASSWORD_ENV, "password")
            if password is None:
                raise UsageError(f"--username needs --password-file or ${PASSWORD_ENV}")
            return auth_.BasicAuth(args.username, password)
        if args.login_username is not None:
            password = _secret(args.login_password_file, PASSWORD_ENV, "password")
            if password is None:
                raise UsageError(f"--login-username needs --login-password-file or ${PASSWORD_ENV}")
            return auth_.LoginAuth(args.login_username, password)
        cookie = _secret(args.session_cookie_file, COOKIE_ENV, "session cookie")
        if cookie is not None:
            token = _secret(args.csrf_token_file, CSRF_ENV, "CSRF token")
            return auth_.SessionAuth(cookie, csrf_token=token.strip() if token else None)
    except ValueError as error:
        raise UsageError(str(error)) from error
    return None


def main(args: argparse.Namespace) -> int:
    try:
        auth = build_auth(args)
        if args.timeout <= 0:
            raise UsageError("--timeout must be positive")
        verify: bool | Path = False if args.insecure_skip_verify else (args.ca_file or True)
        if isinstance(verify, Path) and not verify.is_file():
            raise UsageError(f"--ca-file {str(verify)!r} is not a readable file")
        findings = asyncio.run(
            diagnose.diagnose(
                args.url,
                auth=auth,
                verify=verify,
                request_timeout=args.timeout,
                poll_name=args.poll_name,
                poll_mode=args.poll_mode,
            )
        )
    except (UsageError, ValueError) as error:
        print(f"orchestration-operator check: {error}", file=sys.stderr)
        return int(diagnose.Exit.USAGE)
    for finding in findings:
        print(finding.line())
    return diagnose.exit_code(findings)
