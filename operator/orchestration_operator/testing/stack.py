"""The local stack: the Kubernetes API sandbox, the Drupal emulator and the operator, as processes.

``orchestration-operator local`` (the README's first command) and the end-to-end tests run the
operator the way a cluster does: ``orchestration-operator run --standalone`` in its own process,
pointed at a kubeconfig. This module holds what both need:

- :class:`Service`: a child process whose output goes to a log file, with ``wait_for`` (a regex in the
  log, polled with a deadline) and a clean ``stop`` (a signal, then SIGKILL after a grace period).
  Children run in their own session, so a Ctrl-C in the terminal reaches only the parent, which then
  stops them in order: operator first (it may still write), then emulator and sandbox.
- :func:`start_sandbox`, :func:`start_emulator`, :func:`start_operator`.
- :func:`kubectl` helpers over the real kubectl with a private ``--cache-dir`` (ports are reused, and
  kubectl caches discovery per host for hours).

A test and local-trial tool: production is a real cluster and a real Drupal site.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import IO, Any

SOURCE_ROOT = pathlib.Path(__file__).resolve().parents[2]
"""The directory holding the ``orchestration_operator`` package (put on the children's PYTHONPATH)."""


class StackError(RuntimeError):
    """A part of the stack did not start, or stopped on its own; the message ends with its log tail."""


class Service:
    """A child process logging to a file."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        *,
        log_path: pathlib.Path,
        env: Mapping[str, str] | None = None,
        stop_signal: int = signal.SIGINT,
    ) -> None:
        self.name = name
        self.args = list(args)
        self.log_path = log_path
        self.stop_signal = stop_signal
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._offset = self._log.tell()
        self.popen = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=python_env(env),
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def logs(self) -> str:
        """This run's part of the log."""
        with open(self.log_path, "rb") as log:
            log.seek(self._offset)
            return log.read().decode("utf-8", "replace")

    def tail(self, chars: int = 4000) -> str:
        return self.logs()[-chars:]

    def wait_for(self, pattern: str, *, timeout: float = 30.0, after: int = 0) -> re.Match[str]:
        """Poll the log until ``pattern`` matches (from offset ``after``); StackError on exit or timeout."""
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.logs()
            match = compiled.search(text, after)
            if match:
                return match
            if not self.running:
                code = self.popen.returncode
                raise StackError(
                    f"{self.name} exited with {code} before logging {pattern!r}:\n{text[-4000:]}"
                )
            if time.monotonic() >= deadline:
                raise StackError(f"{self.name}: {pattern!r} not logged within {timeout:g} s:\n{text[-4000:]}")
            time.sleep(0.05)

    def stop(self, *, timeout: float = 15.0) -> int | None:
        """Send the stop signal, wait up to ``timeout`` s, then SIGKILL. Returns the exit code."""
        try:
            if self.running:
                self.popen.send_signal(self.stop_signal)
                try:
                    self.popen.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.popen.kill()
                    self.popen.wait(timeout=timeout)
        finally:
            self._log.close()
        return self.popen.returncode


def python_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child that runs this package (whether installed or from the source root)."""
    env = dict(os.environ)
    env.update(extra or {})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SOURCE_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "orchestration_operator", *args]


def start_sandbox(
    *, state: pathlib.Path, port: int = 0, timeout: float = 30.0
) -> tuple[Service, str, pathlib.Path]:
    """``orchestration-operator sandbox``; returns the service, its URL and its kubeconfig."""
    kubeconfig = state / "kubeconfig"
    service = Service(
        "the Kubernetes API sandbox",
        _command("sandbox", "--port", str(port), "--kubeconfig", str(kubeconfig)),
        log_path=state / "sandbox.log",
    )
    try:
        url = service.wait_for(r"listening on (http://\S+)", timeout=timeout).group(1)
    except StackError:
        service.stop()
        raise
    return service, url, kubeconfig


def start_emulator(
    *, state: pathlib.Path, port: int, args: Sequence[str] = (), timeout: float = 30.0
) -> tuple[Service, str]:
    """``orchestration-operator emulator``; returns the service and its URL."""
    service = Service(
        "the Drupal emulator",
        _command("emulator", "--host", "127.0.0.1", "--port", str(port), *args),
        log_path=state / "emulator.log",
        stop_signal=signal.SIGTERM,
    )
    try:
        url = service.wait_for(r"emulator listening on (\S+)", timeout=timeout).group(1)
    except StackError:
        service.stop()
        raise
    return service, url


def start_operator(
    *,
    kubeconfig: pathlib.Path,
    log_path: pathlib.Path,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    timeout: float = 60.0,
) -> Service:
    """``orchestration-operator run --standalone --all-namespaces``, waiting until kopf watches.

    Liveness and metrics ports are off unless ``env`` sets them (tests run several operators at once).
    """
    base = {
        "KUBECONFIG": str(kubeconfig),
        "ORCHESTRATION_OPERATOR_HEALTH_PORT": "0",
        "ORCHESTRATION_OPERATOR_METRICS_PORT": "0",
        "ORCHESTRATION_OPERATOR_SECRET_CACHE_SECONDS": "1",
    }
    service = Service(
        "the operator",
        _command("run", "--standalone", "--all-namespaces", *args),
        log_path=log_path,
        env={**base, **(env or {})},
    )
    try:
        # kopf logs nothing when it is ready; its startup handlers run last, before the watches.
        service.wait_for(
            r"Activity 'create_shared_state' succeeded|Activity '[^']*' succeeded", timeout=timeout
        )
    except StackError:
        service.stop()
        raise
    return service


# --- kubectl -----------------------------------------------------------------------------------------


class Kubectl:
    """The real kubectl against one kubeconfig, with a private cache directory."""

    def __init__(
        self, kubeconfig: pathlib.Path, *, cache_dir: pathlib.Path, binary: str | None = None
    ) -> None:
        found = binary or os.environ.get("KUBECTL") or shutil.which("kubectl")
        if not found:
            raise StackError(
                "kubectl not found: install it (https://kubernetes.io/docs/tasks/tools/) or set KUBECTL"
            )
        self.binary = found
        self.kubeconfig = kubeconfig
        self.cache_dir = cache_dir

    def __call__(
        self,
        *args: str,
        input: str | None = None,  # noqa: A002 - subprocess's name
        check: bool = True,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        command = [self.binary, f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache_dir}", *args]
        result = subprocess.run(
            command, input=input, capture_output=True, text=True, timeout=timeout, check=False, stdin=None
        )
        if check and result.returncode != 0:
            output = f"{result.stdout}{result.stderr}".strip()
            raise StackError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{output}")
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json").stdout)
