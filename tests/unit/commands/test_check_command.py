"""``orchestration-operator check``: options, secrets from files or the environment, output and exit codes."""

from __future__ import annotations

import argparse
import io
import socket
from pathlib import Path

import pytest

from orchestration_operator import cli
from orchestration_operator.client import BasicAuth, LoginAuth, SessionAuth
from orchestration_operator.commands import check
from orchestration_operator.testing.drupal import EmulatorControl

SECRET = "pw-Z9#secret"


def parse(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(["check", "--url", "https://drupal.example", *argv])


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "password"
    path.write_text(SECRET + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (check.PASSWORD_ENV, check.COOKIE_ENV, check.CSRF_ENV):
        monkeypatch.delenv(name, raising=False)


def test_basic_auth_password_from_a_file(secret_file: Path) -> None:
    auth = check.build_auth(parse("--username", "bot", "--password-file", str(secret_file)))
    assert isinstance(auth, BasicAuth)
    assert auth._headers == BasicAuth("bot", SECRET)._headers  # one trailing newline dropped


def test_login_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(check.PASSWORD_ENV, SECRET)
    auth = check.build_auth(parse("--login-username", "bot"))
    assert isinstance(auth, LoginAuth)
    assert (auth.username, auth._password) == ("bot", SECRET)


def test_password_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET + " \n"))
    auth = check.build_auth(parse("--login-username", "bot", "--login-password-file", "-"))
    assert isinstance(auth, LoginAuth)
    assert auth._password == SECRET + " "  # only the newline goes: spaces may be part of a password


def test_session_cookie_and_token_from_files(tmp_path: Path) -> None:
    (tmp_path / "cookie").write_text("SSESSabc=value\n")
    (tmp_path / "token").write_text(" tok \n")
    auth = check.build_auth(
        parse("--session-cookie-file", str(tmp_path / "cookie"), "--csrf-token-file", str(tmp_path / "token"))
    )
    assert isinstance(auth, SessionAuth)
    assert auth._session is not None
    assert (auth._session.cookie, auth._session.csrf_token) == ("SSESSabc=value", "tok")


def test_session_cookie_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(check.COOKIE_ENV, "SESSabc=value")
    assert isinstance(check.build_auth(parse()), SessionAuth)


def test_no_credentials_at_all() -> None:
    assert check.build_auth(parse()) is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--username", "bot"], "--username needs --password-file or $ORCHESTRATION_PASSWORD"),
        (
            ["--login-username", "bot"],
            "--login-username needs --login-password-file or $ORCHESTRATION_PASSWORD",
        ),
        (["--password-file", "x"], "--password-file needs --username"),
        (["--login-password-file", "x"], "--login-password-file needs --login-username"),
        (["--csrf-token-file", "x"], "--csrf-token-file needs --session-cookie-file"),
        (["--username", "bot", "--password-file", "/nonexistent/pw"], "cannot read the password file"),
        (["--username", "a:b", "--password-file", "{secret}"], "a Basic auth username cannot contain ':'"),
    ],
)
def test_usage_errors(
    argv: list[str], message: str, secret_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse(*(a.replace("{secret}", str(secret_file)) for a in argv))
    assert check.main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert SECRET not in err


def test_a_bad_cookie_file_is_refused_without_echoing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "cookie").write_text(f"not a cookie {SECRET}")
    assert check.main(parse("--session-cookie-file", str(tmp_path / "cookie"))) == 2
    assert capsys.readouterr().err == (
        "orchestration-operator check: a session cookie must look like SESS<hash>=<value> (name=value pairs, "
        "no spaces)\n"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["--password", SECRET],  # there is no way to put a password on the command line
        ["--username", "a", "--login-username", "b"],
        ["--username", "a", "--session-cookie-file", "c"],
        ["--insecure-skip-verify", "--ca-file", "ca.pem"],
        ["--poll-mode", "sequence"],
    ],
)
def test_option_conflicts_are_refused_by_the_parser(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        parse(*argv)
    assert caught.value.code == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--timeout", "0"], "--timeout must be positive"),
        (["--ca-file", "/nonexistent/ca.pem"], "--ca-file '/nonexistent/ca.pem' is not a readable file"),
    ],
)
def test_bad_settings(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert check.main(parse(*argv)) == 2
    assert message in capsys.readouterr().err


def test_a_ca_file_that_is_not_pem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate")
    assert check.main(parse("--ca-file", str(tmp_path / "ca.pem"))) == 2
    assert "cannot load the CA file" in capsys.readouterr().err


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["check", "--help"])
    out = capsys.readouterr().out
    for line in ("0  every check passed", "3  unreachable", "4  TLS", "5  not authenticated", "6  forbidden"):
        assert line in out


def test_unreachable_site_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = cli.main(["check", "--url", f"http://127.0.0.1:{port}/drupal", "--timeout", "2"])
    assert code == 3
    assert capsys.readouterr().out.splitlines() == [
        "FAIL reachable: GET /orchestration/services: connection refused",
        "skip tls: not checked",
        "skip authentication: not checked",
        "skip permission: not checked",
        "skip services: not checked",
    ]


# --- against the emulator (a real site on loopback, in a background thread) ------------------------------


@pytest.mark.parametrize(
    ("argv", "code", "last"),
    [
        (
            ["--username", "admin", "--password-file", "{admin}"],
            0,
            "ok   poll: 'articles' answered 1 item since",
        ),
        (["--login-username", "admin", "--login-password-file", "{admin}"], 0, "ok   poll: 'articles'"),
        (["--username", "editor", "--password-file", "{editor}"], 6, "skip services: not checked"),
        (
            ["--login-username", "editor", "--login-password-file", "{editor}"],
            6,
            "skip services: not checked",
        ),
        (["--login-username", "admin", "--login-password-file", "{editor}"], 5, "skip services: not checked"),
        ([], 5, "skip services: not checked"),
    ],
)
def test_check_against_the_emulator(
    drupal_emulator: EmulatorControl,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    last: str,
) -> None:
    (tmp_path / "admin").write_text("admin\n")
    (tmp_path / "editor").write_text("editor\n")
    drupal_emulator.add_poll_items(
        "articles", "timestamp", [{"timestamp": 2_000_000_000, "data": {"nid": 1}}]
    )
    argv = [a.format(admin=tmp_path / "admin", editor=tmp_path / "editor") for a in argv]
    assert cli.main(["check", "--url", drupal_emulator.url, "--poll-name", "articles", *argv]) == code
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith(last)
    assert "admin\n" not in out


def test_check_tells_a_missing_permission_from_wrong_credentials_with_a_login(
    drupal_emulator: EmulatorControl, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pw").write_text("editor")
    code = cli.main(
        [
            "check",
            "--url",
            drupal_emulator.url,
            "--login-username",
            "editor",
            "--login-password-file",
            str(tmp_path / "pw"),
        ]
    )
    assert code == 6
    lines = capsys.readouterr().out.splitlines()
    assert lines[2:] == [
        "ok   authentication: logged in as 'editor' (session)",
        "FAIL permission: 403 Forbidden — 'editor' logged in but lacks the \"use orchestration connect\" "
        "permission",
        "skip services: not checked",
    ]
