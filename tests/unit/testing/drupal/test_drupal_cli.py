"""``orchestration-operator emulator`` as a real subprocess, and the pytest fixtures of the toolkit."""

from __future__ import annotations

import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import httpx
import pytest

from orchestration_operator import cli
from orchestration_operator.testing.drupal import (
    DrupalEmulator,
    EmulatorProcess,
    ProcessError,
    ThreadedEmulator,
)

ProcessFactory = Callable[..., EmulatorProcess]


def test_cli_serves_the_demo_site_and_stops_on_sigterm(drupal_emulator_process: ProcessFactory) -> None:
    emulator = drupal_emulator_process("--port", "0")
    assert emulator.url.startswith("http://127.0.0.1:")
    with httpx.Client(base_url=emulator.url, auth=("admin", "admin"), timeout=5) as http:
        services = http.get("/orchestration/services").json()
    assert "eca::send_welcome_email" in {service["id"] for service in services}
    assert emulator.control.execute_count("eca::send_welcome_email") == 0
    assert emulator.control.request_count("services") == 1
    deadline = time.monotonic() + 10
    while "GET /orchestration/services -> 200 as admin" not in emulator.stderr_tail():
        assert time.monotonic() < deadline, emulator.stderr_tail()
        time.sleep(0.01)
    assert emulator.stop() == 0
    assert "DEMO accounts admin/admin" in emulator.stderr_tail()


def test_cli_with_catalog_users_base_path_and_settings(
    drupal_emulator_process: ProcessFactory, tmp_path: pathlib.Path
) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("services:\n  - {id: 'x::only', label: Only, behaviour: counter}\n")
    password = tmp_path / "password"
    password.write_text("s3cret\n")
    emulator = drupal_emulator_process(
        "--catalog",
        str(catalog),
        "--user",
        f"platform:{password}",
        "--base-path",
        "/drupal",
        "--site-name",
        "Acme",
        "--setting",
        "poll_order=descending",
        "--setting",
        "csrf_required=false",
        "--quiet",
    )
    assert emulator.url.endswith("/drupal")
    with httpx.Client(base_url=emulator.url, timeout=5) as http:
        assert http.get("/orchestration/services").headers["www-authenticate"] == 'Basic realm="Acme"'
        answer = http.post(
            "/orchestration/service/execute", json={"id": "x::only"}, auth=("platform", "s3cret")
        ).json()
        assert answer == {"calls": 1}
        assert http.get("/orchestration/services", auth=("admin", "admin")).status_code == 403
    settings = emulator.control.settings
    assert (settings.poll_order, settings.csrf_required) == ("descending", False)
    assert "DEMO" not in emulator.stderr_tail()
    assert "/orchestration/" not in emulator.stderr_tail()  # --quiet
    assert emulator.stop(signum=signal.SIGINT) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--catalog", "/nonexistent/catalog.yaml"], "cannot read catalog"),
        (["--user", "no-colon"], "expected NAME:PASSWORD_FILE"),
        (["--setting", "poll_order=sideways"], "must be one of"),
        (["--tls-key", "/x"], "--tls-key needs --tls-cert"),
    ],
)
def test_cli_refuses_bad_arguments(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["emulator", "--port", "0", *args]) == 2
    assert message in capsys.readouterr().err


def test_cli_help_warns_about_the_demo_user(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["emulator", "--help"])
    out = capsys.readouterr().out
    assert "admin/admin" in out
    assert "test and local-trial tool" in out


def test_process_that_exits_early_reports_why() -> None:
    with pytest.raises(ProcessError, match="exited with 2") as caught:
        EmulatorProcess("--base-path").start()  # argparse refuses before anything heavy is imported
    assert "expected one argument" in str(caught.value)


def test_threaded_emulator_serves_while_the_test_thread_blocks(drupal_emulator: ThreadedEmulator) -> None:
    code = (
        "import base64, sys, urllib.request\n"
        "request = urllib.request.Request(sys.argv[1] + '/orchestration/services')\n"
        "request.add_header('Authorization', 'Basic ' + base64.b64encode(b'admin:admin').decode())\n"
        "print(urllib.request.urlopen(request, timeout=10).status)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, drupal_emulator.url], capture_output=True, text=True, timeout=20
    )
    assert done.stdout.strip() == "200"
    assert drupal_emulator.request_count("services") == 1


async def test_async_fixture(drupal_emulator_async: DrupalEmulator) -> None:
    async with httpx.AsyncClient(base_url=drupal_emulator_async.url, auth=("admin", "admin")) as http:
        response = await http.post("/orchestration/service/execute", json={"id": "eca::send_welcome_email"})
    assert response.json() == "undefined"
    assert drupal_emulator_async.execute_count("eca::send_welcome_email") == 1


async def test_async_dispatch_without_webhook(drupal_emulator_async: DrupalEmulator) -> None:
    result = await drupal_emulator_async.dispatch_webhook("none", {})
    assert result.error == "no webhook stored"


def test_threaded_emulator_with_its_own_loop() -> None:
    with ThreadedEmulator.start(site_name="Own loop") as site:
        assert site.settings.site_name == "Own loop"
        with httpx.Client(base_url=site.url, timeout=5) as http:
            assert http.get("/orchestration/services").status_code == 401
    assert site.loop.loop.is_closed()


async def test_emulator_lifecycle_errors() -> None:
    emulator = DrupalEmulator()
    with pytest.raises(RuntimeError, match="not started"):
        _ = emulator.url
    async with emulator:
        with pytest.raises(RuntimeError, match="already started"):
            await emulator.start()
    await emulator.stop()  # twice is fine
