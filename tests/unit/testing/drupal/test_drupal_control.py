"""The control API, through RemoteEmulator, against an emulator whose state we can also read directly."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orchestration_operator.testing.drupal import (
    Catalog,
    ControlError,
    EmulatorControl,
    RemoteEmulator,
    Service,
    ThreadedEmulator,
    User,
    server,
)


@pytest.fixture
def remote(site: ThreadedEmulator, tls: ssl.SSLContext) -> Iterator[RemoteEmulator]:
    with RemoteEmulator(site.control_url, verify=tls) as control:
        yield control


def test_both_facades_share_one_surface(site: ThreadedEmulator, remote: RemoteEmulator) -> None:
    facades: list[EmulatorControl] = [site, remote]  # checked by mypy
    assert [facade.url for facade in facades] == [site.url, site.url]
    assert remote.health() == {"ok": True, "url": site.url, "control_url": site.control_url}


def test_request_log_and_counts(site: ThreadedEmulator, remote: RemoteEmulator, http: httpx.Client) -> None:
    http.post("/orchestration/service/execute", json={"id": "eca::publish_article", "config": {"nid": "3"}})
    http.get("/orchestration/services")
    remote.health()  # control requests are not logged
    assert [r.route for r in remote.request_log] == ["execute", "services"]
    (record,) = remote.calls("execute", id="eca::publish_article", status=200)
    assert record.body == {"id": "eca::publish_article", "config": {"nid": "3"}}
    assert record.headers["Authorization"] == "Basic <redacted>"
    assert remote.calls("services", status=500) == []
    assert remote.execute_count("eca::publish_article") == 1
    assert remote.execute_count("eca::other") == 0
    assert (remote.request_count(), remote.request_count("execute"), remote.request_count("poll")) == (
        2,
        1,
        0,
    )
    assert remote.counts() == {
        "requests": {"execute": 1, "services": 1},
        "executions": {"eca::publish_article": 1},
    }
    assert remote.reset_log() == 2
    assert site.request_log == []
    assert site.counts() == {"requests": {}, "executions": {}}


def test_settings(site: ThreadedEmulator, remote: RemoteEmulator) -> None:
    assert remote.update_settings(poll_order="descending", csrf_required=False)["poll_order"] == "descending"
    assert site.settings.poll_order == "descending"
    assert remote.settings.csrf_required is False
    with pytest.raises(ControlError, match="400: setting 'poll_order' must be one of"):
        remote.update_settings(poll_order="sideways")
    with pytest.raises(ControlError, match="unknown setting 'nope'"):
        remote.update_settings(nope=1)


def test_faults(site: ThreadedEmulator, remote: RemoteEmulator, http: httpx.Client) -> None:
    fault = remote.add_fault("http_502", route="execute", service_id="eca::x", times=None)
    assert (fault.kind, fault.match, fault.times, fault.stage) == (
        "http_502",
        {"id": "eca::x"},
        None,
        "before",
    )
    assert [f.id for f in site.faults] == [fault.id]
    assert http.post("/orchestration/service/execute", json={"id": "eca::x"}).status_code == 502
    assert remote.faults[0].hits == 1
    assert remote.remove_fault(fault.id) is True
    assert remote.remove_fault(fault.id) is False
    remote.add_fault("latency")
    assert remote.clear_faults() == 1
    with pytest.raises(ControlError, match="unknown fault kind"):
        remote.add_fault("explode")


def test_polls(site: ThreadedEmulator, remote: RemoteEmulator, http: httpx.Client) -> None:
    assert remote.add_poll_items("a/b c", "id", [{"id": "1", "data": {"x": 1}}]) == 1
    assert http.post("/orchestration/poll", json={"name": "a/b c", "id": "0"}).json() == [
        {"id": "1", "data": {"x": 1}}
    ]
    assert remote.poll_sources["a/b c"] == {"mode": "id", "items": [{"id": "1", "data": {"x": 1}}]}
    remote.clear_poll_items("a/b c")
    assert "a/b c" not in site.poll_sources
    remote.clear_poll_items()
    assert site.poll_sources == {}
    with pytest.raises(ControlError, match="poll mode"):
        remote.add_poll_items("x", "cursor", [])


def test_webhooks(site: ThreadedEmulator, remote: RemoteEmulator, http: httpx.Client) -> None:
    http.post("/orchestration/webhook/register", json={"id": "My Hook", "webHookUrl": "https://p/1"})
    assert remote.webhooks == site.webhooks
    record = remote.set_webhook("my-hook", "https://admin/2", remote=False, method="PUT")
    assert (record.url, record.remote, record.method, record.source) == (
        "https://admin/2",
        False,
        "PUT",
        "admin",
    )
    assert site.webhooks["my-hook"].url == "https://admin/2"
    result = remote.dispatch_webhook("nothing-here", {"a": 1})
    assert (result.delivered, result.error) == (False, "no webhook stored")
    assert remote.dispatches == [result]
    assert remote.remove_webhook("my-hook") is True
    assert site.webhooks == {}
    with pytest.raises(ControlError, match="needs a 'url'"):
        remote._call("PUT", "/webhooks/x", {"method": "POST"})


def test_sessions_flood_users(site: ThreadedEmulator, remote: RemoteEmulator, anon: httpx.Client) -> None:
    anon.post("/user/login?_format=json", json={"name": "admin", "pass": "admin"})
    assert remote.expire_sessions(username="nobody") == 0
    assert remote.expire_sessions() == 1
    for _ in range(5):
        anon.get("/orchestration/services", auth=("editor", "wrong"))
    assert anon.get("/orchestration/services", auth=("editor", "editor")).status_code == 403
    remote.reset_flood()
    remote.set_user(User("editor", "new-password"))
    assert anon.get("/orchestration/services", auth=("editor", "new-password")).status_code == 200
    assert site.users["editor"].uid == 2  # kept its uid
    assert remote.remove_user("editor") is True
    assert anon.get("/orchestration/services", auth=("editor", "new-password")).status_code == 403
    users = remote._call("GET", "/users")["users"]
    assert {user["name"] for user in users} == {"admin", "blocked"}
    assert all("password" not in user for user in users)


def test_catalog(site: ThreadedEmulator, remote: RemoteEmulator, http: httpx.Client) -> None:
    remote.set_catalog(
        {
            "services": [{"id": "x::a", "label": "A", "behaviour": "counter"}],
            "polls": [{"name": "p", "mode": "id"}],
        }
    )
    assert [s["id"] for s in http.get("/orchestration/services").json()] == ["x::a"]
    assert site.poll_sources == {"p": {"mode": "id", "items": []}}
    remote.add_service(Service("x::b", "B"))
    remote.set_catalog(Catalog.of([*site.emulator.catalog.services.values()]))
    assert [s.id for s in remote.catalog.services.values()] == ["x::a", "x::b"]
    assert remote.remove_service("x::a") is True
    assert remote.remove_service("x::a") is False
    with pytest.raises(ControlError, match="unknown behaviour"):
        remote.add_service({"id": "x::c", "behaviour": "explode"})


def test_reset(site: ThreadedEmulator, remote: RemoteEmulator, http: httpx.Client) -> None:
    initial = http.get("/orchestration/services").json()
    remote.set_catalog({"services": []})
    remote.update_settings(poll_order="descending")
    remote.add_fault("http_500", route="poll")
    http.post("/orchestration/webhook/register", json={"id": "w", "webHookUrl": "https://x"})
    remote.reset()
    assert (site.webhooks, site.faults, site.request_log) == ({}, [], [])
    assert site.settings.poll_order == "ascending"
    assert http.get("/orchestration/services").json() == initial
    assert "new_articles" in site.poll_sources


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("GET", "/nothing", None, 404, "no control route"),
        ("POST", "/settings", {}, 405, "method not allowed"),
        ("PATCH", "/settings", [1], 400, "must be a JSON object"),
        ("DELETE", "/faults/abc", None, 400, "integers"),
        ("POST", "/sessions/expire", {"username": 5}, 400, "must be a string"),
    ],
)
def test_control_errors(
    site: ThreadedEmulator, http: httpx.Client, method: str, path: str, body: Any, status: int, error: str
) -> None:
    response = http.request(method, f"{site.control_url}{path}", json=body)
    assert response.status_code == status
    assert error in response.json()["error"]


def test_body_that_is_not_json(site: ThreadedEmulator, http: httpx.Client) -> None:
    response = http.patch(f"{site.control_url}/settings", content=b"{nope")
    assert (response.status_code, response.json()) == (400, {"error": "the body is not JSON"})


def test_control_api_refuses_non_loopback_clients(
    site: ThreadedEmulator, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "_is_loopback", lambda remote: False)
    response = http.get(f"{site.control_url}/health")
    assert (response.status_code, response.json()) == (
        403,
        {"error": "the control API only answers loopback clients"},
    )
    site.emulator.allow_remote_control = True
    assert http.get(f"{site.control_url}/health").status_code == 200


@pytest.mark.parametrize(
    ("remote_address", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("10.0.0.5", False), (None, False), ("x", False)],
)
def test_loopback_detection(remote_address: str | None, loopback: bool) -> None:
    assert server._is_loopback(remote_address) is loopback


def test_unreachable_control_api(tls: ssl.SSLContext) -> None:
    unreachable = RemoteEmulator("http://127.0.0.1:9/_emulator", timeout=1, verify=tls)
    with unreachable as control, pytest.raises(ControlError, match="ConnectError"):
        control.health()
