"""Process helpers: output captured to a log, waiting on it with a deadline, a clean stop."""

from __future__ import annotations

import pathlib
import sys

import pytest

from orchestration_operator.testing.kube import process


def test_start_process_logs_and_stops(tmp_path: pathlib.Path) -> None:
    code = "import os, signal, time; print('up', os.environ['KUBECONFIG'], flush=True); time.sleep(30)"
    proc = process.start_process(
        [sys.executable, "-c", code], kubeconfig=tmp_path / "kc", log_path=tmp_path / "p.log"
    )
    match = proc.wait_for_log(r"up (\S+)", timeout=10)
    assert match.group(1) == str(tmp_path / "kc")
    assert proc.returncode is None
    assert proc.stop(timeout=5) != 0  # SIGINT interrupts the sleep: KeyboardInterrupt
    assert "KeyboardInterrupt" in proc.logs()


def test_wait_for_log_reports_an_early_exit(tmp_path: pathlib.Path) -> None:
    proc = process.start_process([sys.executable, "-c", "print('bye')"], log_path=tmp_path / "p.log")
    with pytest.raises(process.ProcessError, match=r"exited \(0\) before logging 'never'"):
        proc.wait_for_log("never", timeout=10)
    assert proc.stop() == 0


def test_wait_for_log_times_out(tmp_path: pathlib.Path) -> None:
    proc = process.start_process(
        [sys.executable, "-c", "import time; time.sleep(30)"], log_path=tmp_path / "p.log"
    )
    try:
        with pytest.raises(process.ProcessError, match=r"not logged within 0\.2 s"):
            proc.wait_for_log("never", timeout=0.2)
    finally:
        proc.stop(timeout=5)
