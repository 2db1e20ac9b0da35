"""The local stack: the Kubernetes API sandbox, the Drupal emulator and the operator, as processes.

``orchestration-operator local`` (the README's first command) and the end-to-end tests run the
operator the way a cluster does: ``orchestration-operator run --standalone`` in its own process,
pointed at a kubeconfig. The process handling itself is ``testing.kube.process`` (output to a log
file, waits on the log with a deadline, SIGINT then SIGKILL); this module says what to start:

- :func:`start_sandbox`: ``orchestration-operator sandbox``, its kubeconfig and log in a state directory;
- :func:`start_emulator`: ``orchestration-operator emulator`` on a given port, waiting until it listens;
- :func:`start_operator`: ``orchestration-operator run --standalone --all-namespaces``, waiting until its
  startup is done. Liveness and metrics ports are off (tests may run several operators at once) and
  Secrets are re-read after one second (a fixed Secret shows fast), unless ``env`` says otherwise.

Children run in their own session (``start_new_session``), so a Ctrl-C in the terminal reaches only the
parent, which stops them in order: the operator first (it may still write), then emulator and sandbox.

A test and local-trial tool: production is a real cluster and a real Drupal site.
"""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Mapping, Sequence

from orchestration_operator.testing.kube import process

OPERATOR_STARTED = r"Initial authentication has finished"
"""What kopf logs once its startup handlers ran and it logged in (the watches start right after)."""


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "orchestration_operator", *args]


def start_sandbox(*, state: pathlib.Path, port: int = 0, timeout: float = 30.0) -> process.SandboxProcess:
    """``orchestration-operator sandbox``, its kubeconfig and log in ``state``."""
    return process.start_sandbox_process(
        kubeconfig=state / "kubeconfig", port=port, log_path=state / "sandbox.log", timeout=timeout
    )


def start_emulator(
    *, state: pathlib.Path, port: int, args: Sequence[str] = (), timeout: float = 30.0
) -> tuple[process.LoggedProcess, str]:
    """``orchestration-operator emulator`` logging to ``state/emulator.log``; returns it and its URL."""
    emulator = process.start_process(
        _command("emulator", "--host", "127.0.0.1", "--port", str(port), *args),
        log_path=state / "emulator.log",
    )
    try:
        url = emulator.wait_for_log(r"emulator listening on (\S+)", timeout=timeout).group(1)
    except process.ProcessError:
        emulator.stop()
        raise
    return emulator, url


def start_operator(
    *,
    kubeconfig: pathlib.Path,
    log_path: pathlib.Path,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    timeout: float = 60.0,
) -> process.LoggedProcess:
    """``orchestration-operator run --standalone --all-namespaces`` against ``kubeconfig``."""
    settings = {
        "ORCHESTRATION_OPERATOR_HEALTH_PORT": "0",
        "ORCHESTRATION_OPERATOR_METRICS_PORT": "0",
        "ORCHESTRATION_OPERATOR_SECRET_CACHE_SECONDS": "1",
        **(env or {}),
    }
    operator = process.start_process(
        _command("run", "--standalone", "--all-namespaces", *args),
        kubeconfig=kubeconfig,
        env=settings,
        log_path=log_path,
    )
    try:
        operator.wait_for_log(OPERATOR_STARTED, timeout=timeout)
    except process.ProcessError:
        operator.stop()
        raise
    return operator


def running(child: process.LoggedProcess) -> bool:
    return child.returncode is None
