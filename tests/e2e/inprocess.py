"""The in-process test cluster most e2e modules start: the Kubernetes API sandbox on a background loop,
the Drupal emulator, and an admin kubeconfig with a kubectl bound to it (operators come on top)."""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
from collections.abc import Iterator
from typing import Any

from orchestration_operator.testing import background
from orchestration_operator.testing.drupal import threaded
from orchestration_operator.testing.kube import kubectl as kubectl_module
from orchestration_operator.testing.kube import server


@dataclasses.dataclass(frozen=True)
class Parts:
    sandbox: server.KubeSandbox
    emulator: threaded.ThreadedEmulator
    kubeconfig: pathlib.Path
    kubectl: kubectl_module.Kubectl


@contextlib.contextmanager
def sandbox_and_emulator(
    directory: pathlib.Path, *, loop_name: str, record_requests: int, **emulator: Any
) -> Iterator[Parts]:
    """Start both (``emulator``: ``ThreadedEmulator.start`` options), yield them, stop both."""
    with background.BackgroundLoop(name=loop_name) as loop:
        sandbox = server.KubeSandbox(record_requests=record_requests)
        loop.call(sandbox.start())
        site = threaded.ThreadedEmulator.start(**emulator)
        try:
            kubeconfig = sandbox.write_kubeconfig(directory / "kubeconfig")
            kubectl = kubectl_module.Kubectl(kubeconfig, cache_dir=directory / "kubectl-cache")
            yield Parts(sandbox=sandbox, emulator=site, kubeconfig=kubeconfig, kubectl=kubectl)
        finally:
            site.stop()
            loop.call(sandbox.stop())
