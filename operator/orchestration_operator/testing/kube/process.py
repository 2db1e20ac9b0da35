"""Processes around the sandbox: the sandbox itself as a subprocess, and kopf operators run against it.

- ``start_sandbox_process`` runs ``python -m orchestration_operator sandbox`` and waits until it listens
  and has written its kubeconfig (for tests that need the sandbox outside the test process).
- ``start_process`` runs any command (the project's own ``orchestration-operator run``, say) the same way.
- ``start_kopf`` runs an operator with kopf's own CLI (``python -m kopf run``), with ``KUBECONFIG``
  pointing at the sandbox (the ``kubernetes`` package reads it when kopf logs in), output captured to a
  file, and a clean stop (SIGINT, then SIGKILL after a grace period).

Both return handles that poll with deadlines (``wait_for_log``) rather than sleeping for a fixed time.
"""

from __future__ import annotations

import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence

_LISTENING_RE = re.compile(r"listening on (http://\S+)")


class ProcessError(RuntimeError):
    """A helper process failed to start or stop as expected."""


class LoggedProcess:
    """A subprocess whose stdout and stderr go to one log file."""

    def __init__(
        self, args: Sequence[str], *, env: Mapping[str, str], log_path: pathlib.Path, cwd: str | None
    ) -> None:
        self.args = list(args)
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            self.args,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, pattern: str, *, timeout: float = 15.0, after: int = 0) -> re.Match[str]:
        """Poll the log until ``pattern`` (a regex) appears after offset ``after``; return the match."""
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.logs()
            match = compiled.search(text, after)
            if match:
                return match
            if self.popen.poll() is not None:
                code = self.popen.returncode
                raise ProcessError(
                    f"{self.args[:4]} exited ({code}) before logging {pattern!r}:\n{text[-4000:]}"
                )
            if time.monotonic() >= deadline:
                raise ProcessError(f"{pattern!r} not logged within {timeout} s; log tail:\n{text[-4000:]}")
            time.sleep(0.02)

    def stop(self, *, timeout: float = 10.0) -> int:
        """SIGINT (a graceful stop for kopf and the sandbox), then SIGKILL after ``timeout`` s."""
        try:
            if self.popen.poll() is None:
                self.popen.send_signal(signal.SIGINT)
                try:
                    self.popen.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.popen.kill()
                    self.popen.wait(timeout=timeout)
        finally:
            self._log.close()
        return self.popen.returncode

    def __enter__(self) -> LoggedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SandboxProcess(LoggedProcess):
    """``orchestration-operator sandbox`` running as a subprocess."""

    url: str = ""
    kubeconfig: pathlib.Path


class KopfProcess(LoggedProcess):
    """A kopf operator running as a subprocess against a sandbox."""


def start_process(
    command: Sequence[str],
    *,
    kubeconfig: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    log_path: str | os.PathLike[str] | None = None,
    cwd: str | None = None,
) -> LoggedProcess:
    """Start any command (an operator's own CLI, say) with ``KUBECONFIG`` set and its output logged."""
    log = pathlib.Path(log_path) if log_path else _temp_log("process-")
    full_env = _python_env(env)
    if kubeconfig is not None:
        full_env["KUBECONFIG"] = os.fspath(kubeconfig)
    return LoggedProcess(command, env=full_env, log_path=log, cwd=cwd)


def _temp_log(prefix: str) -> pathlib.Path:
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".log")
    os.close(fd)
    return pathlib.Path(name)


def _python_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    """The environment for a Python subprocess that can import this package (and extra PYTHONPATH)."""
    env = dict(os.environ)
    extra = dict(extra or {})
    source_root = str(pathlib.Path(__file__).resolve().parents[3])
    paths = (extra.pop("PYTHONPATH", ""), source_root, env.get("PYTHONPATH", ""))
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra)
    return env


def start_sandbox_process(
    *,
    kubeconfig: str | os.PathLike[str],
    port: int = 0,
    args: Sequence[str] = (),
    log_path: str | os.PathLike[str] | None = None,
    timeout: float = 15.0,
) -> SandboxProcess:
    """Start the sandbox command and wait until it listens; returns a handle with ``url`` and ``stop()``."""
    kubeconfig = pathlib.Path(kubeconfig)
    log = pathlib.Path(log_path) if log_path else _temp_log("kube-sandbox-")
    command = [
        sys.executable,
        "-m",
        "orchestration_operator",
        "sandbox",
        "--port",
        str(port),
        "--kubeconfig",
        str(kubeconfig),
        *args,
    ]
    proc = SandboxProcess(command, env=_python_env(None), log_path=log, cwd=None)
    try:
        match = proc.wait_for_log(_LISTENING_RE.pattern, timeout=timeout)
    except ProcessError:
        proc.stop()
        raise
    proc.url = match.group(1)
    proc.kubeconfig = kubeconfig
    return proc


def start_kopf(
    target: str | os.PathLike[str],
    *,
    kubeconfig: str | os.PathLike[str],
    namespaces: Sequence[str] = (),
    standalone: bool = True,
    verbose: bool = False,
    env: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    log_path: str | os.PathLike[str] | None = None,
    cwd: str | None = None,
) -> KopfProcess:
    """Run ``kopf run`` on a file path or an importable module name, against the kubeconfig's cluster.

    ``namespaces`` empty means cluster-wide (``-A``). The returned handle captures the output; call
    ``wait_for_log`` to wait for the operator to do something and ``stop()`` at the end.
    """
    command = [sys.executable, "-m", "kopf", "run"]
    if standalone:
        command.append("--standalone")
    if verbose:
        command.append("--verbose")
    if namespaces:
        for namespace in namespaces:
            command += ["--namespace", namespace]
    else:
        command.append("--all-namespaces")
    command += list(extra_args)
    text = os.fspath(target)
    if text.endswith(".py") or os.sep in text:
        command.append(text)
    else:
        command += ["-m", text]
    log = pathlib.Path(log_path) if log_path else _temp_log("kopf-")
    full_env = _python_env(env)
    full_env["KUBECONFIG"] = os.fspath(kubeconfig)
    return KopfProcess(command, env=full_env, log_path=log, cwd=cwd)
