"""``EmulatorProcess``: ``orchestration-operator emulator`` as a subprocess (e2e tests, local stack).

It starts ``python -m orchestration_operator emulator --port 0 ...`` with this very package on the
``PYTHONPATH``, waits (with a deadline) for the line ``emulator listening on URL``, and offers the
URL and a ``RemoteEmulator`` on the control API. ``stop()`` sends SIGTERM and waits, then kills.
"""

from __future__ import annotations

import collections
import os
import pathlib
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from types import TracebackType
from typing import IO

from orchestration_operator.testing.drupal import errors, remote

LISTENING_PREFIX = "emulator listening on "
SOURCE_ROOT = pathlib.Path(__file__).resolve().parents[3]  # the directory holding orchestration_operator/


class EmulatorProcess:
    """One emulator subprocess. Use as a context manager, or ``start()`` / ``stop()``."""

    def __init__(
        self,
        *args: str,
        host: str = "127.0.0.1",
        port: int = 0,
        env: dict[str, str] | None = None,
        startup_timeout: float = 20.0,
    ) -> None:
        self.command: list[str] = [
            sys.executable,
            "-m",
            "orchestration_operator",
            "emulator",
            "--host",
            host,
            "--port",
            str(port),
            *args,
        ]
        self._env = env
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=200)
        self._threads: list[threading.Thread] = []
        self._url: str | None = None
        self._control: remote.RemoteEmulator | None = None

    def start(self) -> str:
        """Start the process and return the emulator's URL once it listens."""
        env = dict(os.environ if self._env is None else self._env)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SOURCE_ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        self._process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self._process.stdout is not None
        assert self._process.stderr is not None
        self._threads = [
            threading.Thread(target=self._pump, args=(self._process.stdout, self._lines), daemon=True),
            threading.Thread(target=self._pump, args=(self._process.stderr, None), daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(remaining, 0.0))
            except queue.Empty:
                self.stop()
                raise errors.ProcessError(
                    f"the emulator did not listen within {self._startup_timeout} s"
                ) from None
            if line is None:
                code = self.stop()
                raise errors.ProcessError(f"the emulator exited with {code}: {self.stderr_tail()}")
            if line.startswith(LISTENING_PREFIX):
                self._url = line[len(LISTENING_PREFIX) :].strip()
                return self._url

    def _pump(self, stream: IO[str], lines: queue.Queue[str | None] | None) -> None:
        for line in stream:
            if lines is not None:
                lines.put(line)
            else:
                self._stderr.append(line.rstrip("\n"))
        if lines is not None:
            lines.put(None)

    def stop(self, *, timeout: float = 10.0, signum: int = signal.SIGTERM) -> int | None:
        """Send ``signum`` (SIGTERM), wait up to ``timeout``, then SIGKILL. Returns the exit code."""
        if self._control is not None:
            self._control.close()
            self._control = None
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signum)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout=timeout)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        return process.returncode

    def __enter__(self) -> EmulatorProcess:
        if self._process is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the emulator process is not started")
        return self._url

    @property
    def control_url(self) -> str:
        parts = urllib.parse.urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}/_emulator"

    @property
    def control(self) -> remote.RemoteEmulator:
        """A ``RemoteEmulator`` on this process's control API (closed by ``stop``)."""
        if self._control is None:
            self._control = remote.RemoteEmulator(self.control_url)
        return self._control

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def returncode(self) -> int | None:
        return self._process.poll() if self._process is not None else None

    def stderr_tail(self, lines: int = 20) -> str:
        return "\n".join(list(self._stderr)[-lines:])
