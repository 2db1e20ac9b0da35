"""The five module routes over real loopback HTTP: listing, execute behaviours, webhooks, routing rules."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from orchestration_operator.testing.drupal import (
    Behaviour,
    Catalog,
    Service,
    ServiceError,
    ThreadedEmulator,
    demo_catalog,
    module_routes,
)

Factory = Callable[..., ThreadedEmulator]
Clients = Callable[..., httpx.Client]


def _execute(http: httpx.Client, service_id: Any, config: Any = None) -> httpx.Response:
    return http.post("/orchestration/service/execute", json={"id": service_id, "config": config})


def test_services_listing_is_the_catalog_sorted_by_label(site: ThreadedEmulator, http: httpx.Client) -> None:
    response = http.get("/orchestration/services")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == demo_catalog().listing()
    ticket = next(s for s in response.json() if s["id"] == "eca::create_support_ticket")
    assert [item["key"] for item in ticket["config"]] == ["subject", "body", "priority", "customer_email"]
    assert site.calls("services", status=200, user="admin", auth="basic")


@pytest.mark.parametrize(
    "path",
    [
        "/orchestration/services",
        "/orchestration/services/",
        "/Orchestration/Services",
        "/ORCHESTRATION/SERVICES//",
    ],
)
def test_paths_ignore_case_and_trailing_slash(site: ThreadedEmulator, http: httpx.Client, path: str) -> None:
    assert http.get(path).status_code == 200
    assert [record.path for record in site.calls("services")] == [path]


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/orchestration/nothing", 404, None),
        ("GET", "/orchestration/service/execute", 405, "POST"),
        ("POST", "/orchestration/services", 405, "GET, HEAD"),
        ("DELETE", "/orchestration/poll", 405, "POST"),
    ],
)
def test_unknown_paths_and_methods_get_drupal_pages(
    site: ThreadedEmulator, http: httpx.Client, method: str, path: str, status: int, allow: str | None
) -> None:
    response = http.request(method, path, json={})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers.get("allow") == allow
    assert site.request_count() == 1


def test_base_path(drupal_emulator_factory: Factory, clients: Clients) -> None:
    site = drupal_emulator_factory(base_path="drupal/")
    assert site.url.endswith("/drupal")
    root = site.url.removesuffix("/drupal")
    http = clients(site)
    assert http.get(f"{site.url}/orchestration/services").status_code == 200
    assert http.get(f"{root}/orchestration/services").status_code == 404
    assert http.get(f"{root}/drupalx/orchestration/services").status_code == 404
    assert http.get(f"{site.control_url}/health").json()["url"] == site.url
    assert [r.route for r in site.request_log] == ["services", None, None]


EXECUTE_TABLE: list[tuple[Behaviour, Any, int, Any]] = [
    (Behaviour.echo(), {"a": 1, "b": [True, None]}, 200, {"a": 1, "b": [True, None]}),
    (Behaviour.echo(), None, 200, None),
    (Behaviour.returning({"ok": True}), {}, 200, {"ok": True}),
    (Behaviour.returning([1, "two"]), {}, 200, [1, "two"]),
    (Behaviour.returning("plain string"), {}, 200, "plain string"),
    (Behaviour.undefined(), {}, 200, "undefined"),
    (Behaviour.error("Entity 42 not found."), {}, 500, {"error": "Entity 42 not found."}),
    (
        Behaviour.failure("Agent is not available."),
        {},
        200,
        {"success": False, "error": "Agent is not available."},
    ),
    (Behaviour.counter(), {}, 200, {"calls": 1}),
    (Behaviour.python(lambda config: {"doubled": config["n"] * 2}), {"n": 21}, 200, {"doubled": 42}),
    (
        Behaviour.python(lambda config: (_ for _ in ()).throw(ServiceError("boom"))),
        {},
        500,
        {"error": "boom"},
    ),
]


@pytest.mark.parametrize(("behaviour", "config", "status", "answer"), EXECUTE_TABLE)
def test_execute_behaviours(
    drupal_emulator_factory: Factory,
    clients: Clients,
    behaviour: Behaviour,
    config: Any,
    status: int,
    answer: Any,
) -> None:
    site = drupal_emulator_factory(catalog=Catalog.of([Service("eca::s", "S", behaviour=behaviour)]))
    response = _execute(clients(site), "eca::s", config)
    assert (response.status_code, response.json()) == (status, answer)
    assert response.headers["content-type"] == "application/json"
    assert site.execute_count("eca::s") == 1


async def _async_behaviour(config: Any) -> Any:
    await asyncio.sleep(0)
    return {"async": config}


def test_async_python_behaviour(drupal_emulator_factory: Factory, clients: Clients) -> None:
    site = drupal_emulator_factory(
        catalog=Catalog.of([Service("x::y", "Y", behaviour=Behaviour.python(_async_behaviour))])
    )
    assert _execute(clients(site), "x::y", [1]).json() == {"async": [1]}


def test_large_body_is_exactly_n_bytes(drupal_emulator_factory: Factory, clients: Clients) -> None:
    site = drupal_emulator_factory(
        catalog=Catalog.of([Service("eca::big", "Big", behaviour=Behaviour.large(300_000))])
    )
    response = _execute(clients(site), "eca::big")
    assert len(response.content) == 300_000
    assert response.headers["content-length"] == "300000"


@pytest.mark.parametrize("service_id", ["eca::nope", "eca:send_welcome_email", "send_welcome_email", ""])
def test_unknown_service_is_500_error_never_404(
    site: ThreadedEmulator, http: httpx.Client, service_id: str
) -> None:
    response = _execute(http, service_id)
    assert response.status_code == 500
    assert response.json() == {"error": f'Service "{service_id}" not found.'}
    assert site.counts()["executions"] == {}


@pytest.mark.parametrize(
    ("mode", "content_type"), [("json", "application/json"), ("html", "text/html; charset=utf-8")]
)
@pytest.mark.parametrize(
    "body",
    [
        {
            "content": b"id=eca%3A%3Asend_welcome_email",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        },
        {"json": {"config": {}}},
        {"json": {"id": 5}},
        {"json": ["eca::send_welcome_email"]},
    ],
)
def test_unreadable_execute_requests(
    site: ThreadedEmulator, http: httpx.Client, mode: str, content_type: str, body: dict[str, Any]
) -> None:
    site.update_settings(malformed_request=mode)
    response = http.post("/orchestration/service/execute", **body)
    assert response.status_code == 500
    assert response.headers["content-type"] == content_type
    if mode == "json":
        assert response.json() == {"error": "No service id provided."}
    else:
        assert "unexpected error" in response.text
    assert site.counts()["executions"] == {}


def test_form_encoded_config_reaches_the_service_as_null(site: ThreadedEmulator, http: httpx.Client) -> None:
    # The module json_decodes the raw body: a JSON id with a non-JSON config is impossible, but a
    # client that sends config as a string gets it verbatim.
    response = _execute(http, "eca::create_support_ticket", "subject=x")
    assert response.json() == "subject=x"


def test_execute_count_is_exact_and_ignores_refused_requests(
    site: ThreadedEmulator, http: httpx.Client, clients: Clients
) -> None:
    for _ in range(3):
        assert _execute(http, "eca::publish_article", {"nid": "1"}).status_code == 200
    assert _execute(http, "eca::publish_article", {}).json() == {"calls": 4}
    assert _execute(clients(site, auth=("editor", "editor")), "eca::publish_article").status_code == 403
    site.add_fault("http_502", route="execute")
    assert _execute(http, "eca::publish_article").status_code == 502
    assert site.execute_count("eca::publish_article") == 4
    assert len(site.calls("execute", id="eca::publish_article")) == 6
    assert len(site.calls("execute", id="eca::publish_article", status=200)) == 4
    assert [r.body for r in site.calls("execute", config={"nid": "1"})] == [
        {"id": "eca::publish_article", "config": {"nid": "1"}}
    ] * 3


def test_slow_service_does_not_block_other_requests(
    drupal_emulator_factory: Factory, clients: Clients
) -> None:
    catalog = Catalog.of([Service("eca::slow", "Slow", behaviour=Behaviour.echo(latency_ms=500))])
    site = drupal_emulator_factory(catalog=catalog)
    http = clients(site)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        slow = pool.submit(_execute, http, "eca::slow", {"x": 1})
        deadline = time.monotonic() + 5
        while not site.calls("execute") and time.monotonic() < deadline:
            time.sleep(0.005)
        fast = http.get("/orchestration/services")
        fast_elapsed = time.monotonic() - started
        assert not slow.done()
        assert slow.result().json() == {"x": 1}
        slow_elapsed = time.monotonic() - started
    assert fast.status_code == 200
    assert fast_elapsed < 0.35 < 0.5 <= slow_elapsed


def test_register_echoes_and_stores_under_html_id(site: ThreadedEmulator, http: httpx.Client) -> None:
    body = {"id": "My_Hook 1", "webHookUrl": "https://platform.example.com/webhook/abc?t=<x>"}
    response = http.post("/orchestration/webhook/register", json=body)
    assert response.status_code == 200
    assert response.content == (
        b'{"id":"My_Hook 1",'
        b'"webHookUrl":"https:\\/\\/platform.example.com\\/webhook\\/abc?t=\\u003Cx\\u003E"}'
    )
    record = site.webhooks["my-hook-1"]
    assert (record.id, record.url, record.remote, record.method, record.timeout, record.verify) == (
        "My_Hook 1",
        body["webHookUrl"],
        True,
        "POST",
        30,
        True,
    )
    assert record.auth_method == "none"


def test_register_overwrites_the_same_key_silently(site: ThreadedEmulator, http: httpx.Client) -> None:
    site.set_webhook("a-b", "https://admin.example/hook", remote=False)
    for webhook_id, url in [("a_b", "https://one"), ("A__B", "https://two"), ("a-b", "https://three")]:
        assert http.post(
            "/orchestration/webhook/register", json={"id": webhook_id, "webHookUrl": url}
        ).is_success
    assert list(site.webhooks) == ["a-b"]
    assert (site.webhooks["a-b"].url, site.webhooks["a-b"].id, site.webhooks["a-b"].source) == (
        "https://three",
        "a-b",
        "api",
    )


def test_register_without_url_is_stored_without_validation(
    site: ThreadedEmulator, http: httpx.Client
) -> None:
    assert http.post("/orchestration/webhook/register", json={"id": 7, "webHookUrl": "not a url"}).json() == {
        "id": 7,
        "webHookUrl": "not a url",
    }
    assert http.post("/orchestration/webhook/register", json={"id": "x"}).status_code == 200
    assert site.webhooks["7"].url == "not a url"
    assert site.webhooks["x"].url is None


def test_unregister_uses_the_html_id_and_tolerates_missing(
    site: ThreadedEmulator, http: httpx.Client
) -> None:
    http.post("/orchestration/webhook/register", json={"id": "Hook_X", "webHookUrl": "https://x"})
    assert http.post("/orchestration/webhook/unregister", json={"id": "nothing"}).json() == {"id": "nothing"}
    assert http.post("/orchestration/webhook/unregister", json={"id": "hook x"}).status_code == 200
    assert site.webhooks == {}
    assert http.post("/orchestration/webhook/unregister", json={"id": "hook x"}).status_code == 200


@pytest.mark.parametrize("route", ["register", "unregister"])
@pytest.mark.parametrize("body", [None, {"webHookUrl": "https://x"}, {"id": None}, {"id": ["x"]}])
def test_unreadable_webhook_requests(
    site: ThreadedEmulator, http: httpx.Client, route: str, body: Any
) -> None:
    response = http.post(f"/orchestration/webhook/{route}", json=body)
    assert (response.status_code, response.json()) == (500, {"error": "No webhook id provided."})
    assert site.webhooks == {}


def test_php_arrays_setting_turns_empty_objects_into_lists(
    site: ThreadedEmulator, http: httpx.Client
) -> None:
    assert _execute(http, "eca::create_support_ticket", {}).json() == {}
    site.update_settings(php_arrays=True)
    assert _execute(http, "eca::create_support_ticket", {}).json() == []
    assert _execute(http, "eca::create_support_ticket", {"0": "a", "1": {}}).json() == ["a", []]
    echo = http.post("/orchestration/webhook/register", json={"id": "h", "webHookUrl": "u", "extra": {}})
    assert echo.json() == {"id": "h", "webHookUrl": "u", "extra": []}


def test_front_page_is_html(anon: httpx.Client) -> None:
    response = anon.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


def test_an_emulator_bug_answers_like_a_php_fatal_error(
    site: ThreadedEmulator,
    http: httpx.Client,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(state: Any, body: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setitem(module_routes.HANDLERS, "services", (("GET",), broken))
    response = http.get("/orchestration/services")
    assert response.status_code == 500
    assert "unexpected error" in response.text
    assert site.calls("services", status=500)
    assert "emulator error while serving GET /orchestration/services" in caplog.text
