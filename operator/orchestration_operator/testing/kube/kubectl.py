"""Run the real ``kubectl`` against a sandbox: its kubeconfig, a fresh ``--cache-dir``, clear failures.

kubectl caches discovery and OpenAPI per server for hours; a cache shared between sandboxes (whose
ports get reused) would show kubectl kinds that no longer exist, so each ``Kubectl`` gets its own cache
directory. A failed command raises ``KubectlError`` with the command line, exit code, stdout and stderr.
The binary is ``$KUBECTL`` or the first ``kubectl`` on ``PATH``.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

import yaml


class KubectlError(AssertionError):
    """kubectl exited with an error (an AssertionError, so pytest reports it as a failed expectation)."""

    def __init__(self, result: subprocess.CompletedProcess[str]) -> None:
        self.result = result
        command = " ".join(result.args) if isinstance(result.args, list) else str(result.args)
        super().__init__(
            f"kubectl failed with exit code {result.returncode}: {command}\n"
            f"--- stdout ---\n{result.stdout.strip()}\n--- stderr ---\n{result.stderr.strip()}"
        )


def find_binary() -> str | None:
    """The kubectl to use: ``$KUBECTL`` or ``kubectl`` on ``PATH``."""
    return os.environ.get("KUBECTL") or shutil.which("kubectl")


def _manifest_text(manifest: str | Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> str:
    if isinstance(manifest, str):
        return manifest
    if isinstance(manifest, Mapping):
        return yaml.safe_dump(dict(manifest), sort_keys=False)
    return yaml.safe_dump_all([dict(m) for m in manifest], sort_keys=False)


class Kubectl:
    """A kubectl bound to one kubeconfig and one cache directory."""

    def __init__(
        self,
        kubeconfig: str | os.PathLike[str],
        *,
        cache_dir: str | os.PathLike[str],
        binary: str | None = None,
        namespace: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        found = binary or find_binary()
        if not found:
            raise FileNotFoundError("kubectl not found: install it or set KUBECTL to its path")
        self.binary = found
        self.kubeconfig = pathlib.Path(kubeconfig)
        self.cache_dir = pathlib.Path(cache_dir)
        self.namespace = namespace
        self.timeout = timeout

    def command(self, *args: str) -> list[str]:
        """The full command line for ``args``."""
        cmd = [self.binary, f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache_dir}"]
        if self.namespace:
            cmd.append(f"--namespace={self.namespace}")
        return [*cmd, *args]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env.pop("KUBECTL_EXTERNAL_DIFF", None)
        return env

    def __call__(
        self,
        *args: str,
        input: str | None = None,  # noqa: A002 - subprocess's name
        check: bool = True,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl and return the finished process; raise ``KubectlError`` on failure if ``check``."""
        result = subprocess.run(
            self.command(*args),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout or self.timeout,
            env=self._env(),
            check=False,
        )
        if check and result.returncode != 0:
            raise KubectlError(result)
        return result

    def json(self, *args: str) -> Any:
        """Run a ``get``-like command with ``-o json`` and return the parsed output."""
        return json.loads(self(*args, "-o", "json").stdout)

    def apply(
        self, manifest: str | Mapping[str, Any] | Sequence[Mapping[str, Any]], *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``kubectl apply -f -`` with ``manifest`` (YAML text, one object or a list of objects)."""
        return self("apply", "-f", "-", *args, input=_manifest_text(manifest), check=check)

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start kubectl in the background (``get -w``, a ``delete`` that waits); the caller ends it."""
        return subprocess.Popen(
            self.command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self._env(),
        )
