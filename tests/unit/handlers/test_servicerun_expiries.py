"""ServiceRun TTL expiries: a failed deletion is logged with the run's reference and tried again."""

from __future__ import annotations

import asyncio
import datetime
import logging

import pytest
from kubernetes.client import exceptions as k8s_exceptions

from orchestration_operator.handlers import kube, servicerun

RUN_REF = {
    "apiVersion": "drupal-orchestration.io/v1alpha1",
    "kind": "ServiceRun",
    "name": "nightly",
    "uid": "u-1",
    "namespace": "team",
}


class FlakyDelete:
    """``kube.delete_object`` failing ``failures`` times, then succeeding."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.calls: list[tuple[str, str, str]] = []

    async def __call__(self, *, plural: str, namespace: str, name: str) -> None:
        self.calls.append((plural, namespace, name))
        if self.failures:
            raise self.failures.pop(0)


async def wait_for_calls(delete: FlakyDelete, count: int) -> None:
    async with asyncio.timeout(5):
        while len(delete.calls) < count:
            await asyncio.sleep(0.005)


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servicerun, "MIN_EXPIRY_DELAY", 0.0)
    monkeypatch.setattr(servicerun, "EXPIRY_RETRY_DELAYS", (0.01, 0.02))


@pytest.mark.usefixtures("fast")
@pytest.mark.parametrize(
    ("failures", "reasons"),
    [
        ([], []),
        ([k8s_exceptions.ApiException(status=403, reason="Forbidden")], ["HTTP 403"]),
        ([k8s_exceptions.ApiException(status=500), TimeoutError()], ["HTTP 500", "TimeoutError"]),
    ],
)
async def test_an_expired_run_is_deleted_until_it_works(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    failures: list[Exception],
    reasons: list[str],
) -> None:
    delete = FlakyDelete(list(failures))
    monkeypatch.setattr(kube, "delete_object", delete)
    expiries = servicerun.Expiries()
    with caplog.at_level(logging.WARNING, logger="orchestration_operator.servicerun"):
        expiries.schedule(uid="u-1", namespace="team", name="nightly", at=datetime.datetime.now(datetime.UTC))
        await wait_for_calls(delete, len(failures) + 1)
        await asyncio.sleep(0.05)  # nothing more is scheduled after the success
    assert delete.calls == [("serviceruns", "team", "nightly")] * (len(failures) + 1)
    assert len(expiries) == 0
    assert [(r.getMessage(), getattr(r, "k8s_ref", None)) for r in caplog.records] == [
        (f"Deleting the expired run failed ({reason}); trying again in {delay:g} s.", RUN_REF)
        for reason, delay in zip(reasons, servicerun.EXPIRY_RETRY_DELAYS, strict=False)
    ]


@pytest.mark.usefixtures("fast")
async def test_no_retry_is_scheduled_once_the_operator_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    gate = asyncio.Event()

    async def failing_after_stop(*, plural: str, namespace: str, name: str) -> None:
        await gate.wait()
        raise k8s_exceptions.ApiException(status=503)

    monkeypatch.setattr(kube, "delete_object", failing_after_stop)
    expiries = servicerun.Expiries()
    expiries.schedule(uid="u-1", namespace="team", name="nightly", at=datetime.datetime.now(datetime.UTC))
    async with asyncio.timeout(5):
        while not expiries._tasks:  # the deletion is in flight
            await asyncio.sleep(0.005)
    expiries.cancel_all()  # the operator's cleanup
    gate.set()
    await asyncio.gather(*expiries._tasks)
    assert len(expiries) == 0
