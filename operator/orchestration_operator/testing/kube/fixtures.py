"""pytest fixtures for the Kubernetes API sandbox (loaded by tests/conftest.py as a plugin).

- ``kube_sandbox``: a fresh ``KubeSandbox`` serving on a ``BackgroundLoop`` thread, so a synchronous test
  can run kubectl or an operator process without freezing it; its direct-access methods
  (``get_object``, ``patch_object``, ``close_watches``, ...) work from the test thread.
- ``async_kube_sandbox``: a sandbox on the async test's own loop, for tests that only talk HTTP to it
  (a blocking call in such a test would freeze it).
- ``kube_kubeconfig``: the path of a kubeconfig for it (admin token).
- ``kubectl``: a ``Kubectl`` with that kubeconfig and a fresh ``--cache-dir`` (skips if no kubectl).
- ``kopf_operator``: starts ``kopf run`` on a file or module against the sandbox; stops it at teardown
  and prints its log tail (pytest shows it when the test failed).
"""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from orchestration_operator.testing import background
from orchestration_operator.testing.kube import kubectl as kubectl_module
from orchestration_operator.testing.kube import process, server


@pytest.fixture
def kube_sandbox() -> Iterator[server.KubeSandbox]:
    """A running sandbox on a background loop (one per test: nothing leaks between tests)."""
    with background.BackgroundLoop(name="kube-sandbox") as loop:
        sandbox = server.KubeSandbox(record_requests=10_000)
        loop.call(sandbox.start())
        try:
            yield sandbox
        finally:
            loop.call(sandbox.stop())


@pytest.fixture
async def async_kube_sandbox() -> AsyncIterator[server.KubeSandbox]:
    """A running sandbox on the test's own event loop."""
    async with server.KubeSandbox(record_requests=10_000) as sandbox:
        yield sandbox


@pytest.fixture
def kube_kubeconfig(kube_sandbox: server.KubeSandbox, tmp_path: pathlib.Path) -> pathlib.Path:
    return kube_sandbox.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def kubectl(kube_kubeconfig: pathlib.Path, tmp_path: pathlib.Path) -> kubectl_module.Kubectl:
    """The real kubectl against the sandbox, with its own discovery cache."""
    if kubectl_module.find_binary() is None:
        pytest.skip("kubectl is not installed (set KUBECTL or put kubectl on PATH)")
    return kubectl_module.Kubectl(kube_kubeconfig, cache_dir=tmp_path / "kubectl-cache")


@pytest.fixture
def kopf_operator(
    kube_kubeconfig: pathlib.Path, tmp_path: pathlib.Path
) -> Iterator[Callable[..., process.KopfProcess]]:
    """A factory: ``kopf_operator(path_or_module, **start_kopf_options)`` starts kopf against the sandbox."""
    started: list[process.KopfProcess] = []

    def start(target: str | pathlib.Path, **options: Any) -> process.KopfProcess:
        options.setdefault("log_path", tmp_path / f"kopf-{len(started)}.log")
        proc = process.start_kopf(target, kubeconfig=options.pop("kubeconfig", kube_kubeconfig), **options)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
        print(f"--- kopf log ({proc.log_path}) ---\n{proc.logs()[-6000:]}")
