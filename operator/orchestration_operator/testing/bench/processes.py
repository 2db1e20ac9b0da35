"""Start the processes of a benchmark (or of an end-to-end test): sandbox, emulator, operator.

- :class:`Sandbox`: ``sandboxproc`` (the Kubernetes API sandbox counting requests); ``stop()`` returns
  the counts.
- The emulator is ``testing.drupal.process.EmulatorProcess``.
- :class:`Operator`: ``python -m orchestration_operator run`` against a kubeconfig, its output in a log
  file; ``stop()`` (SIGINT, then SIGKILL), ``kill()`` (SIGKILL at once, as a crash), ``rss_bytes()`` and
  ``cpu_seconds()`` from ``/proc``.

Each waits for its "listening"/"ready" line with a deadline (never a fixed sleep).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

SOURCE_ROOT = pathlib.Path(__file__).resolve().parents[3]  # the directory holding orchestration_operator/


class ProcessError(RuntimeError):
    """A process did not start, or stopped, as expected."""


def python_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a Python subprocess that imports this very package."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SOURCE_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class LoggedProcess:
    """A subprocess whose output goes to a log file; waits on log lines with deadlines."""

    def __init__(self, args: Sequence[str], *, env: Mapping[str, str], log_path: pathlib.Path) -> None:
        self.args = list(args)
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.log_start = self._log.tell()  # a log file may be appended to by a restarted process
        self.popen = subprocess.Popen(
            self.args, stdout=self._log, stderr=subprocess.STDOUT, env=dict(env), start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, pattern: str, *, timeout: float = 30.0, after: int | None = None) -> re.Match[str]:
        """Poll the log (from ``after``, default: what this process wrote) until ``pattern`` appears."""
        after = self.log_start if after is None else after
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.logs()
            match = compiled.search(text, after)
            if match:
                return match
            if self.popen.poll() is not None:
                raise ProcessError(f"{self.args[:5]} exited ({self.popen.returncode}):\n{text[-4000:]}")
            if time.monotonic() >= deadline:
                raise ProcessError(f"{pattern!r} not logged within {timeout} s:\n{text[-4000:]}")
            time.sleep(0.02)

    def stop(self, *, timeout: float = 15.0, signum: int = signal.SIGINT) -> int:
        """Ask the process to stop (``signum``), wait, then SIGKILL; returns the exit code."""
        try:
            if self.popen.poll() is None:
                self.popen.send_signal(signum)
                try:
                    self.popen.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.popen.kill()
                    self.popen.wait(timeout=timeout)
        finally:
            self._log.close()
        return self.popen.returncode

    def kill(self) -> int:
        """SIGKILL, as a crash or an OOM kill would: no cleanup of any kind."""
        if self.popen.poll() is None:
            self.popen.kill()
        code = self.popen.wait(timeout=15)
        self._log.close()
        return code

    def _proc_status(self, field: str) -> int:
        try:
            text = pathlib.Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return 0
        match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
        return int(match.group(1)) * 1024 if match else 0

    def rss_bytes(self) -> int:
        return self._proc_status("VmRSS")

    def peak_rss_bytes(self) -> int:
        return self._proc_status("VmHWM")

    def cpu_seconds(self) -> float:
        """User plus system CPU time used so far (Linux ``/proc``)."""
        try:
            fields = pathlib.Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Sandbox(LoggedProcess):
    """The sandbox as a process (``sandboxproc``); ``stop()`` then ``counts()``."""

    def __init__(self, directory: pathlib.Path, *, timeout: float = 30.0) -> None:
        self.kubeconfig = directory / "kubeconfig"
        self.counts_path = directory / "sandbox-counts.jsonl"
        super().__init__(
            [
                sys.executable,
                "-m",
                "orchestration_operator.testing.bench.sandboxproc",
                "--kubeconfig",
                str(self.kubeconfig),
                "--counts",
                str(self.counts_path),
            ],
            env=python_env(),
            log_path=directory / "sandbox.log",
        )
        try:
            self.url = self.wait_for_log(r"sandbox listening on (http://\S+)", timeout=timeout).group(1)
        except ProcessError:
            self.stop()
            raise

    def counts(self) -> list[tuple[str, str, str, str, int]]:
        """``(method, namespace, resource, subresource, count)`` rows, written when the sandbox stopped."""
        rows = []
        for line in self.counts_path.read_text().splitlines():
            method, namespace, resource, subresource, count = json.loads(line)
            rows.append((method, namespace, resource, subresource, int(count)))
        return rows


class Operator(LoggedProcess):
    """``orchestration-operator run`` against a kubeconfig (standalone, all namespaces, no ports)."""

    READY = r"Activity 'create_run_memory' succeeded"

    def __init__(
        self,
        *,
        kubeconfig: pathlib.Path,
        log_path: pathlib.Path,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        python_args: Sequence[str] = (),
        kopf_file: pathlib.Path | None = None,
        ready: str | None = READY,
        timeout: float = 30.0,
        standalone: bool = True,
    ) -> None:
        """Start it; wait for the log line ``ready`` (None: do not wait, e.g. at log level warning).

        ``standalone=False`` leaves peering to ``args`` (``--peering``, ``--priority``)."""
        command = [
            sys.executable,
            *python_args,
            "-m",
            "orchestration_operator",
            "run",
            *(["--standalone"] if standalone else []),
            "--all-namespaces",
            "--health-port",
            "0",
            "--metrics-port",
            "0",
            *args,
        ]
        if kopf_file is not None:  # a bare kopf operator, for calibration
            command = [
                sys.executable,
                *python_args,
                "-m",
                "kopf",
                "run",
                "--standalone",
                "-A",
                str(kopf_file),
            ]
        super().__init__(
            command, env=python_env({"KUBECONFIG": str(kubeconfig), **(env or {})}), log_path=log_path
        )
        if ready is None:
            return
        try:
            self.wait_for_log(ready, timeout=timeout)
        except ProcessError:
            self.stop()
            raise


def summary(rows: Sequence[tuple[str, str, str, str, int]], **match: Any) -> int:
    """The total count of sandbox request rows whose fields equal ``match`` (method=, namespace=, ...)."""
    names = ("method", "namespace", "resource", "subresource")
    total = 0
    for row in rows:
        fields = dict(zip(names, row[:4], strict=True))
        if all(fields[key] == value for key, value in match.items()):
            total += row[4]
    return total
