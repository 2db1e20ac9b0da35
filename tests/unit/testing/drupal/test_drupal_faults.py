"""Faults on demand: what the client meets when PHP, a proxy or the network misbehaves."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from orchestration_operator.testing.drupal import FaultError, ThreadedEmulator

Clients = Callable[..., httpx.Client]
WELCOME = {"id": "eca::send_welcome_email", "config": {"user_id": "1"}}


def _execute(http: httpx.Client, body: Any = WELCOME, **options: Any) -> httpx.Response:
    return http.post("/orchestration/service/execute", json=body, **options)


@pytest.mark.parametrize("stage", ["before", "after"])
@pytest.mark.parametrize(
    ("kind", "status", "marker", "headers"),
    [
        ("http_500", 500, "The website encountered an unexpected error", {}),
        ("http_502", 502, "502 Bad Gateway", {}),
        ("http_504", 504, "504 Gateway Time-out", {}),
        ("http_429", 429, "429 Too Many Requests", {"retry-after": "7"}),
    ],
)
def test_error_answers(
    site: ThreadedEmulator,
    http: httpx.Client,
    stage: str,
    kind: str,
    status: int,
    marker: str,
    headers: dict[str, str],
) -> None:
    fault = site.add_fault(kind, route="execute", stage=stage, retry_after=7)
    response = _execute(http)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert marker in response.text
    for name, value in headers.items():
        assert response.headers[name] == value
    assert site.execute_count("eca::send_welcome_email") == (1 if stage == "after" else 0)
    (record,) = site.calls("execute")
    assert (record.status, record.fault) == (status, kind)
    assert site.faults == []  # times=1: used up
    assert fault.id >= 1
    assert _execute(http).status_code == 200


def test_times_and_always(site: ThreadedEmulator, http: httpx.Client) -> None:
    site.add_fault("http_502", route="services", times=2)
    assert [http.get("/orchestration/services").status_code for _ in range(3)] == [502, 502, 200]
    fault = site.add_fault("http_504", route="services", times=None)
    assert [http.get("/orchestration/services").status_code for _ in range(3)] == [504, 504, 504]
    assert site.faults[0].hits == 3
    assert site.remove_fault(fault.id)
    assert http.get("/orchestration/services").status_code == 200


def test_matching_by_route_and_service(site: ThreadedEmulator, http: httpx.Client) -> None:
    site.add_fault("http_500", route="execute", service_id="eca::publish_article", times=None)
    site.add_fault("http_502", route="poll", match={"name": "order_updates"}, times=None)
    assert _execute(http).status_code == 200
    assert _execute(http, {"id": "eca::publish_article"}).status_code == 500
    assert http.post("/orchestration/poll", json={"name": "new_articles", "timestamp": 0}).status_code == 200
    assert http.post("/orchestration/poll", json={"name": "order_updates", "id": "0"}).status_code == 502
    assert site.clear_faults() == 2


def test_any_route_includes_unknown_paths(site: ThreadedEmulator, http: httpx.Client) -> None:
    site.add_fault("http_502", times=2)
    assert http.get("/nowhere").status_code == 502
    assert http.get("/user/login_status?_format=json").status_code == 502


def test_latencies_add_up_and_precede_another_fault(site: ThreadedEmulator, http: httpx.Client) -> None:
    site.add_fault("latency", route="services", latency_ms=80)
    site.add_fault("latency", route="services", latency_ms=80)
    site.add_fault("http_500", route="services")
    started = time.monotonic()
    assert http.get("/orchestration/services").status_code == 500
    assert time.monotonic() - started >= 0.16
    (record,) = site.calls("services")
    assert record.fault == "latency+latency+http_500"


def test_latency_after_the_service_ran(site: ThreadedEmulator, http: httpx.Client) -> None:
    site.add_fault("latency", route="execute", stage="after", latency_ms=2000)
    with pytest.raises(httpx.ReadTimeout):
        _execute(http, timeout=0.15)
    assert site.execute_count("eca::send_welcome_email") == 1  # the outcome is unknown to the client


@pytest.mark.parametrize(("stage", "executed"), [("before", 0), ("after", 1)])
def test_hang_until_the_client_gives_up(
    site: ThreadedEmulator, http: httpx.Client, stage: str, executed: int
) -> None:
    site.add_fault("hang", route="execute", stage=stage)
    with pytest.raises(httpx.ReadTimeout):
        _execute(http, timeout=0.15)
    assert http.get("/orchestration/services").status_code == 200  # the emulator is not blocked
    assert site.execute_count("eca::send_welcome_email") == executed


def test_hang_ends_by_closing_the_connection(site: ThreadedEmulator, http: httpx.Client) -> None:
    site.add_fault("hang", route="services", hang_seconds=0.1)
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("/orchestration/services")
    (record,) = site.calls("services")
    assert (record.status, record.fault) == (None, "hang")


def test_stop_ends_hanging_requests_at_once(
    drupal_emulator_factory: Callable[..., ThreadedEmulator], clients: Clients
) -> None:
    site = drupal_emulator_factory()
    site.add_fault("hang", times=None)
    http = clients(site, timeout=30)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(http.get, "/orchestration/services")
        deadline = time.monotonic() + 5
        while not site.calls("services") and time.monotonic() < deadline:
            time.sleep(0.005)
        started = time.monotonic()
        site.stop()
        assert time.monotonic() - started < 1.5
        with pytest.raises(httpx.TransportError):
            pending.result(timeout=5)


def test_malformed_json(site: ThreadedEmulator, http: httpx.Client) -> None:
    site.add_fault("malformed_json", route="execute")
    response = _execute(http)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.text.startswith("<br />\n<b>Warning</b>")
    assert response.text.endswith('"undefined"')
    with pytest.raises(ValueError):  # json's own error type
        response.json()
    assert site.execute_count("eca::send_welcome_email") == 1


def test_truncated_body(site: ThreadedEmulator, http: httpx.Client) -> None:
    site.add_fault("truncated", route="services")
    with pytest.raises(httpx.RemoteProtocolError, match="without sending complete message body"):
        http.get("/orchestration/services")
    (record,) = site.calls("services")
    assert (record.status, record.fault) == (200, "truncated")
    assert http.get("/orchestration/services").status_code == 200


@pytest.mark.parametrize(
    ("kind", "error"), [("reset", httpx.ReadError), ("close", httpx.RemoteProtocolError)]
)
@pytest.mark.parametrize(("stage", "executed"), [("before", 0), ("after", 1)])
def test_connection_dropped_without_answer(
    site: ThreadedEmulator, http: httpx.Client, kind: str, error: type[Exception], stage: str, executed: int
) -> None:
    site.add_fault(kind, route="execute", stage=stage)
    with pytest.raises(error):
        _execute(http)
    (record,) = site.calls("execute")
    assert (record.status, record.fault) == (None, kind)
    assert site.execute_count("eca::send_welcome_email") == executed
    assert _execute(http).status_code == 200


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("explode", {}, "unknown fault kind"),
        ("truncated", {"stage": "before"}, "stage is 'after'"),
        ("malformed_json", {"stage": "before"}, "stage is 'after'"),
        ("http_500", {"stage": "during"}, "'before' or 'after'"),
        ("http_500", {"times": 0}, "positive integer"),
        ("latency", {"latency_ms": -1}, "negative"),
        ("http_500", {"match": ["id"]}, "mapping"),
    ],
)
def test_invalid_faults(site: ThreadedEmulator, kind: str, options: dict[str, Any], message: str) -> None:
    with pytest.raises(FaultError, match=message):
        site.add_fault(kind, **options)
    assert site.faults == []
