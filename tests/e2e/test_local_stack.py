"""``orchestration-operator local`` (the README's first command): start, see Ready rows, stop with Ctrl-C.

The command runs as a user runs it, from the repository root, with its state in a temporary directory
and the emulator on a free port (the examples are pointed at it; the default is 8081).
"""

from __future__ import annotations

import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

import pytest

pytestmark = pytest.mark.e2e

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _port_open(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((parts.hostname or "127.0.0.1", parts.port or 80)) == 0


def test_local_starts_the_stack_shows_ready_examples_and_stops_cleanly(tmp_path: pathlib.Path) -> None:
    state = tmp_path / "state"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "operator"), PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestration_operator",
            "local",
            "--state-dir",
            str(state),
            "--emulator-port",
            "0",
            "--timeout",  # the rows asserted are Ready within a second; the others need not wait long
            "8",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not any("Press Ctrl-C to stop everything." in line for line in lines):
            assert time.monotonic() < deadline, "".join(lines)
            line = process.stdout.readline()
            assert line, f"local exited ({process.wait()}):\n{''.join(lines)}"
            lines.append(line)
        output = "".join(lines)
        rows = {
            match.group(1): match.group(2).split()[:2]
            for match in re.finditer(r"^(\S+\.drupal-orchestration\.io/\S+)\s+(.*)$", output, re.MULTILINE)
        }
        assert rows["orchestrationconnection.drupal-orchestration.io/demo"] == ["True", "Connected"]
        assert rows["orchestrationwebhook.drupal-orchestration.io/platform-events"] == ["True", "Registered"]
        kubeconfig = state / "kubeconfig"
        assert f"export KUBECONFIG={kubeconfig}" in output
        site = re.search(r"Drupal emulator\s+(http://\S+)", output)
        sandbox = re.search(r"server: (http://\S+)", kubeconfig.read_text())
        assert site is not None
        assert sandbox is not None
        assert _port_open(site.group(1))
        assert _port_open(sandbox.group(1))
        assert {"operator.log", "emulator.log", "sandbox.log"} <= {p.name for p in state.iterdir()}

        process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert process.wait(timeout=30) == 0
        assert "Stopping..." in process.stdout.read()
        assert not _port_open(site.group(1))
        assert not _port_open(sandbox.group(1))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
