"""Execute failures classified by whether the service ran; result object names, shapes and digests."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from orchestration_operator import client
from orchestration_operator.client import responses, routes
from orchestration_operator.reconcile import runoutcomes, runresults

Kind = runoutcomes.Kind


def http(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> client.OrchestrationError:
    return responses.error_for(routes.EXECUTE, status, httpx.Headers(headers or {}), body)


def before_request(error: client.OrchestrationError) -> client.OrchestrationError:
    error.before_request = True
    return error


@pytest.mark.parametrize(
    ("error", "kind", "reason"),
    [
        (client.ConnectError("refused"), Kind.NOT_RUN, "Unreachable"),
        (client.TLSError("bad cert", certificate_problem=True), Kind.NOT_RUN, "TLSError"),
        (client.Timeout("pool", may_have_reached_server=False), Kind.NOT_RUN, "Timeout"),
        (client.TransportError("not sent", may_have_reached_server=False), Kind.NOT_RUN, "Unreachable"),
        (http(401), Kind.NOT_RUN, "Unauthorized"),
        (http(403), Kind.NOT_RUN, "Forbidden"),
        (http(429), Kind.NOT_RUN, "RateLimited"),
        (before_request(client.LoginFailed("login refused", status=403)), Kind.NOT_RUN, "Forbidden"),
        (before_request(http(500, b'{"error": "x"}')), Kind.NOT_RUN, "Unreachable"),
        (http(500, b'{"error": "boom"}'), Kind.FAILED, "ServiceFailed"),
        (http(400), Kind.FAILED, "RequestRejected"),
        (http(404), Kind.FAILED, "RequestRejected"),
        (http(405), Kind.FAILED, "RequestRejected"),
        (http(302, headers={"Location": "https://x/login"}), Kind.FAILED, "RequestRejected"),
        (responses.invalid(routes.EXECUTE, 200, b"<html>"), Kind.FAILED, "InvalidResponse"),
        (client.ResponseTooLarge("big", status=200, limit=10), Kind.FAILED, "InvalidResponse"),
        (client.InvalidServiceId("eca:x"), Kind.FAILED, "InvalidSpec"),
        (client.Timeout("read", may_have_reached_server=True), Kind.UNKNOWN, "OutcomeUnknown"),
        (client.ConnectionLost("reset"), Kind.UNKNOWN, "OutcomeUnknown"),
        (client.TransportError("odd", may_have_reached_server=True), Kind.UNKNOWN, "OutcomeUnknown"),
        (http(502), Kind.UNKNOWN, "OutcomeUnknown"),
        (http(503), Kind.UNKNOWN, "OutcomeUnknown"),
        (http(504), Kind.UNKNOWN, "OutcomeUnknown"),
        (
            http(500, b"<html><body>The website encountered an unexpected error.</body></html>"),
            Kind.UNKNOWN,
            "OutcomeUnknown",
        ),
        (RuntimeError("bug"), Kind.UNKNOWN, "OutcomeUnknown"),
    ],
)
def test_every_failure_says_whether_the_service_may_have_run(
    error: BaseException, kind: runoutcomes.Kind, reason: str
) -> None:
    failure = runoutcomes.classify(error, timeout=30)
    assert (failure.kind, failure.reason) == (kind, reason)


def test_a_service_failure_carries_the_services_own_message_shortened() -> None:
    failure = runoutcomes.classify(http(500, b'{"error": "' + b"e" * 2000 + b'"}'), timeout=30)
    assert failure.http_status == 500
    assert failure.message == "e" * 999 + "…"
    assert "e" * 10 not in repr(failure)


def test_a_rate_limit_keeps_its_retry_after() -> None:
    failure = runoutcomes.classify(http(429, headers={"Retry-After": "12"}), timeout=30)
    assert failure.retry_after == 12.0


@pytest.mark.parametrize(
    ("run_name", "expected"),
    [
        ("welcome", "welcome-result"),
        ("a" * 246, "a" * 246 + "-result"),
    ],
)
def test_result_objects_are_named_after_the_run(run_name: str, expected: str) -> None:
    assert runresults.object_name(run_name) == expected


def test_a_long_run_name_is_shortened_with_a_hash_to_a_valid_name() -> None:
    name = runresults.object_name("a" * 250)
    assert len(name) == 253
    assert name.endswith("-result")
    assert name != runresults.object_name("a" * 249 + "b")


@pytest.mark.parametrize(
    ("value", "shape"),
    [
        ({}, "an object"),
        ([1], "a list of 1 item"),
        ([], "a list of 0 items"),
        ("undefined", 'the string "undefined" (the service returned nothing)'),
        ("x", "a string"),
        (None, "null"),
        (True, "a boolean"),
        (1.5, "a number"),
    ],
)
def test_shapes_describe_a_result_without_showing_it(value: Any, shape: str) -> None:
    assert runresults.shape(value) == shape


class Owned:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    async def get_configmap(self, *, namespace: str, name: str) -> None:
        return None

    async def put_configmap(self, *, namespace: str, name: str, data: Any, owner: Any) -> None:
        self.data = dict(data)

    async def put_secret(self, *, namespace: str, name: str, data: Any, owner: Any) -> None:
        self.data = dict(data)


async def test_a_stored_result_is_the_body_verbatim_without_a_byte_order_mark() -> None:
    from orchestration_operator.api import servicerun

    raw = b'\xef\xbb\xbf{"caf\\u00e9": 1}'
    owned = Owned()
    placement = await runresults.place(
        client.ExecuteResult(value={"café": 1}, raw=raw),
        servicerun.ResultPolicy(max_status_bytes=0),
        run_name="r",
        namespace="ns",
        owner={},
        owned=owned,
    )
    assert owned.data == {"result.json": '{"caf\\u00e9": 1}'}
    assert placement.status["resultDigest"] == runresults.digest(raw)
    assert placement.status["resultBytes"] == len(raw)
