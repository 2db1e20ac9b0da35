"""The five calls on the wire: URLs under a sub-path, JSON bodies, cursors, results, bounds and hooks.

Also the list of "what existing clients get wrong" from the API page, one test each.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import httpx
import pytest
from client_fakes import BASE, ClientFactory, Site, echo, html_page, reply

from orchestration_operator.client import (
    BadRequest,
    BasicAuth,
    Forbidden,
    InvalidServiceId,
    LoginAuth,
    NotFound,
    OrchestrationClient,
    OrchestrationError,
    PollItem,
    ServiceFailed,
    ServiceId,
    SessionAuth,
    Timeout,
    Unauthorized,
    UnexpectedStatus,
    webhook_key,
)

EXECUTE = "/orchestration/service/execute"
POLL = "/orchestration/poll"
REGISTER = "/orchestration/webhook/register"
UNREGISTER = "/orchestration/webhook/unregister"
SERVICES = "/orchestration/services"


@pytest.mark.parametrize(
    ("base_url", "normalized"),
    [
        ("https://drupal.example/sub", "https://drupal.example/sub"),
        ("https://drupal.example/sub/", "https://drupal.example/sub"),
        ("  https://drupal.example/sub//  ", "https://drupal.example/sub"),
        ("http://drupal.example:8080", "http://drupal.example:8080"),
        ("https://drupal.example/", "https://drupal.example"),
    ],
)
def test_base_url_is_normalized(base_url: str, normalized: str) -> None:
    assert (
        OrchestrationClient(base_url, auth=None, transport=httpx.MockTransport(print)).base_url == normalized
    )


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        ("drupal.example", "the base URL must be an absolute http:// or https:// URL"),
        ("ftp://drupal.example", "the base URL must be an absolute http:// or https:// URL"),
        ("https://", "the base URL must be an absolute http:// or https:// URL"),
        ("https://bot:hunter2@drupal.example", "the base URL must not hold credentials: pass them as auth"),
        ("https://drupal.example/?q=1", "the base URL must not have a query or fragment"),
        ("https://drupal.example/#x", "the base URL must not have a query or fragment"),
    ],
)
def test_bad_base_urls_are_refused(base_url: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        OrchestrationClient(base_url, auth=None)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_concurrent_requests": 0}, "max_concurrent_requests must be at least 1"),
        ({"max_response_bytes": 0}, "max_response_bytes must be at least 1"),
        ({"timeout": 0}, "timeout must be positive"),
    ],
)
def test_bad_settings_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OrchestrationClient(BASE, auth=None, **fields)


CALLS: dict[str, tuple[Any, str, str, Any]] = {
    # name: (call, method, path, JSON body sent)
    "list": (lambda c: c.list_services(), "GET", SERVICES, None),
    "execute": (
        lambda c: c.execute("eca::send_welcome_email", {"user_id": "42"}),
        "POST",
        EXECUTE,
        {"id": "eca::send_welcome_email", "config": {"user_id": "42"}},
    ),
    "register": (
        lambda c: c.register_webhook("my_webhook", "https://platform.example.com/webhook/abc"),
        "POST",
        REGISTER,
        {"id": "my_webhook", "webHookUrl": "https://platform.example.com/webhook/abc"},
    ),
    "unregister": (lambda c: c.unregister_webhook("my_webhook"), "POST", UNREGISTER, {"id": "my_webhook"}),
    "poll_timestamp": (
        lambda c: c.poll("user_created", timestamp=1748000000),
        "POST",
        POLL,
        {"name": "user_created", "timestamp": 1748000000},
    ),
    "poll_id": (lambda c: c.poll("node_saved", id="123"), "POST", POLL, {"name": "node_saved", "id": "123"}),
}


@pytest.mark.parametrize("call", CALLS)
async def test_requests_on_the_wire(make_client: ClientFactory, site: Site, call: str) -> None:
    invoke, method, path, body = CALLS[call]
    site.on(method, path, reply(200, [] if method == "GET" or path == POLL else {"ok": 1}))
    await invoke(make_client())
    (request,) = site.requests
    assert request.method == method
    assert str(request.url) == f"https://drupal.example/sub{path}"  # relative to the sub-path, no ?_format
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith("orchestration-operator/")
    if body is None:
        assert request.content == b""
        assert "content-type" not in request.headers
    else:
        # Drupal json_decode()s the raw body: a JSON object, declared as such, never form-encoded.
        assert request.headers["content-type"] == "application/json"
        assert json.loads(request.content) == body


async def test_execute_sends_an_empty_config_object_and_keeps_nulls(
    make_client: ClientFactory, site: Site
) -> None:
    site.on("POST", EXECUTE, reply(200, "undefined"))
    client = make_client()
    await client.execute("eca::x")
    await client.execute(ServiceId("tool", "entity:load"), {"a": None, "nested": {"b": [1, None]}, "ü": "ß"})
    assert site.bodies(EXECUTE) == [
        {"id": "eca::x", "config": {}},
        {"id": "tool::entity:load", "config": {"a": None, "nested": {"b": [1, None]}, "ü": "ß"}},
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"x": float("nan")},
            "the request cannot be encoded as JSON: Out of range float values are not JSON",
        ),
        (
            {"x": object()},
            "the request cannot be encoded as JSON: Object of type object is not JSON serializable",
        ),
    ],
)
async def test_execute_refuses_config_that_is_not_json(
    make_client: ClientFactory, site: Site, config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await make_client().execute("eca::x", config)
    assert site.requests == []


@pytest.mark.parametrize("service_id", ["eca:send", "send", "::send", "eca::"])
async def test_execute_checks_the_service_id_before_sending(
    make_client: ClientFactory, site: Site, service_id: str
) -> None:
    with pytest.raises(InvalidServiceId):
        await make_client().execute(service_id)
    assert site.requests == []


async def test_execute_read_timeout_applies_to_that_call_only(make_client: ClientFactory, site: Site) -> None:
    site.on("POST", EXECUTE, reply(200, {}))
    site.on("GET", SERVICES, reply(200, []))
    client = make_client(timeout=12.0)
    await client.execute("eca::x", read_timeout=90.0)
    await client.list_services()
    assert [r.extensions["timeout"] for r in site.requests] == [
        {"connect": 12.0, "read": 90.0, "write": 12.0, "pool": 12.0},
        {"connect": 12.0, "read": 12.0, "write": 12.0, "pool": 12.0},
    ]


@pytest.mark.parametrize(
    ("webhook_id", "key"),
    [("my_webhook", "my-webhook"), ("My_Hook 1", "my-hook-1"), ("A__B", "a-b"), ("x[0]", "x-0")],
)
async def test_register_and_unregister_use_one_key(
    make_client: ClientFactory, site: Site, webhook_id: str, key: str
) -> None:
    # Clients that register under one id and unregister under another leave webhooks behind forever.
    site.on("POST", REGISTER, echo()).on("POST", UNREGISTER, echo())
    client = make_client()
    assert await client.register_webhook(webhook_id, "https://platform.example/hook?token=t") == key
    assert await client.unregister_webhook(webhook_id) == key
    # The raw id goes on the wire: Drupal normalizes it itself, and the admin UI shows it.
    assert [b["id"] for b in site.bodies(REGISTER) + site.bodies(UNREGISTER)] == [webhook_id, webhook_id]
    assert webhook_key(webhook_id) == key


@pytest.mark.parametrize(
    ("webhook_id", "url", "message"),
    [
        ("!!!", "https://p.example/", "normalizes to an empty key in Drupal"),
        ("日本", "https://p.example/", "normalizes to an empty key in Drupal"),
        ("ok", "ftp://p.example/", "a webhook URL must be an absolute http:// or https:// URL"),
        ("ok", "/relative", "a webhook URL must be an absolute http:// or https:// URL"),
        ("ok", "", "a webhook URL must be an absolute http:// or https:// URL"),
    ],
)
async def test_register_refuses_what_drupal_would_store_uselessly(
    make_client: ClientFactory, site: Site, webhook_id: str, url: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await make_client().register_webhook(webhook_id, url)
    assert site.requests == []


async def test_unregistering_an_unknown_webhook_is_fine(make_client: ClientFactory, site: Site) -> None:
    site.on("POST", UNREGISTER, echo())
    assert await make_client().unregister_webhook("never-registered") == "never-registered"


@pytest.mark.parametrize(
    ("cursor", "body"),
    [
        ({"timestamp": 0}, {"name": "p", "timestamp": 0}),  # a valid first poll, not "no cursor"
        ({"id": "0"}, {"name": "p", "id": "0"}),
        ({"id": ""}, {"name": "p", "id": ""}),
        ({"timestamp": 1764000000}, {"name": "p", "timestamp": 1764000000}),
    ],
)
async def test_poll_sends_exactly_one_cursor(
    make_client: ClientFactory, site: Site, cursor: dict[str, Any], body: dict[str, Any]
) -> None:
    site.on("POST", POLL, reply(200, []))
    await make_client().poll("p", **cursor)
    assert site.bodies(POLL) == [body]
    assert b"1764000000." not in site.requests[0].content  # integers, never floats


@pytest.mark.parametrize(
    ("name", "cursor", "error_type", "message"),
    [
        ("p", {}, ValueError, "poll needs exactly one of timestamp= or id="),
        ("p", {"timestamp": 1, "id": "1"}, ValueError, "poll needs exactly one of timestamp= or id="),
        ("p", {"timestamp": 1764000000.123}, TypeError, "must be an int of whole seconds, not float"),
        ("p", {"timestamp": True}, TypeError, "must be an int of whole seconds, not bool"),
        ("p", {"timestamp": "1764000000"}, TypeError, "must be an int of whole seconds, not str"),
        ("p", {"id": 17}, TypeError, "the poll id must be a str, not int"),
        ("p", {"timestamp": -1}, ValueError, "poll timestamp must not be negative"),
        ("", {"timestamp": 1}, ValueError, "the poll name is empty"),
    ],
)
async def test_poll_refuses_ambiguous_cursors_before_sending(
    make_client: ClientFactory,
    site: Site,
    name: str,
    cursor: dict[str, Any],
    error_type: type[Exception],
    message: str,
) -> None:
    # Drupal silently uses the timestamp when both are sent: a client expecting the id gets wrong items.
    with pytest.raises(error_type, match=message):
        await make_client().poll(name, **cursor)
    assert site.requests == []


@pytest.mark.parametrize(
    "items",
    [
        [{"id": "1", "data": "a"}, {"id": "2", "data": "b"}, {"id": "10", "data": "c"}],  # oldest first
        [{"id": "10", "data": "c"}, {"id": "2", "data": "b"}, {"id": "1", "data": "a"}],  # newest first
        [{"id": "2", "data": "b"}, {"id": "10", "data": "c"}, {"id": "1", "data": "a"}],  # no order at all
    ],
)
async def test_poll_returns_items_in_the_sites_order_untouched(
    make_client: ClientFactory, site: Site, items: list[dict[str, Any]]
) -> None:
    # Assuming newest-first duplicates items on oldest-first sites: the client neither sorts nor drops.
    site.on("POST", POLL, reply(200, items))
    assert await make_client().poll("p", id="0") == [PollItem.model_validate(i) for i in items]


async def test_poll_keeps_items_at_and_before_the_cursor(make_client: ClientFactory, site: Site) -> None:
    # Items created later in the same second as the cursor are lost by clients that filter "> cursor";
    # and ">=" or "everything" sites answer older items too. The client keeps all: the caller dedupes.
    items = [{"timestamp": 1748000000, "data": "same second"}, {"timestamp": 1747999999, "data": "older"}]
    site.on("POST", POLL, reply(200, items))
    result = await make_client().poll("p", timestamp=1748000000)
    assert [(i.timestamp, i.data) for i in result] == [(1748000000, "same second"), (1747999999, "older")]


async def test_poll_unknown_name_is_an_empty_list(make_client: ClientFactory, site: Site) -> None:
    site.on("POST", POLL, reply(200, []))
    assert await make_client().poll("no-such-poll", timestamp=0) == []


async def test_poll_neither_cursor_answer_is_bad_request(make_client: ClientFactory, site: Site) -> None:
    # What a site answers to a client that sends no cursor (this client never does; see above).
    site.on("POST", POLL, reply(400, {"error": "No timestamp or id provided."}))
    with pytest.raises(BadRequest) as caught:
        await make_client().poll("p", timestamp=0)
    assert str(caught.value) == (
        "POST /orchestration/poll answered 400 Bad Request (the site said: 'No timestamp or id provided.')"
    )


async def test_unknown_service_is_service_failed_not_not_found(
    make_client: ClientFactory, site: Site
) -> None:
    site.on("POST", EXECUTE, reply(500, {"error": 'Service "eca::nope" not found.'}))
    with pytest.raises(ServiceFailed) as caught:
        await make_client().execute("eca::nope")
    assert not isinstance(caught.value, NotFound)
    assert caught.value.error == 'Service "eca::nope" not found.'
    assert caught.value.outcome_unknown is False


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(401, Unauthorized), (403, Forbidden)],
)
async def test_401_and_403_are_told_apart(
    make_client: ClientFactory, site: Site, status: int, error_type: type[OrchestrationError]
) -> None:
    site.on("GET", SERVICES, html_page(status, "Denied"))
    with pytest.raises(OrchestrationError) as caught:
        await make_client().list_services()
    assert type(caught.value) is error_type


async def test_concurrency_is_bounded_per_client(make_client: ClientFactory, site: Site) -> None:
    in_flight = peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.002)
        in_flight -= 1
        return httpx.Response(200, json=[])

    site.on("POST", POLL, slow)
    client = make_client(max_concurrent_requests=3)
    await asyncio.gather(*(client.poll("p", timestamp=i) for i in range(30)))
    assert peak == 3
    assert len(site.requests) == 30


async def test_on_request_hook_sees_every_exchange(make_client: ClientFactory, site: Site) -> None:
    seen: list[tuple[str, str]] = []
    site.on("GET", SERVICES, reply(200, []))
    site.on("POST", EXECUTE, httpx.ReadTimeout(""))
    site.on("POST", POLL, reply(503, body=""), reply(200, []))
    client = make_client(on_request=lambda route, outcome, seconds: seen.append((route, outcome)))
    await client.list_services()
    await client.poll("p", timestamp=0)
    with pytest.raises(Timeout):
        await client.execute("eca::x")
    assert seen == [("list_services", "200"), ("poll", "503"), ("poll", "200"), ("execute", "Timeout")]


async def test_a_failing_hook_does_not_fail_the_call(
    make_client: ClientFactory, site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(route: str, outcome: str, seconds: float) -> None:
        raise RuntimeError("metrics down")

    site.on("GET", SERVICES, reply(200, []))
    assert await make_client(on_request=broken).list_services() == []
    assert "the on_request hook failed" in caplog.text


async def test_every_log_line_of_a_client_carries_its_log_extra(
    make_client: ClientFactory, site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    site.on("POST", POLL, reply(503, body=""), reply(200, []))
    ref = {"kind": "OrchestrationConnection", "namespace": "shop", "name": "site"}
    caplog.set_level(logging.DEBUG, logger="orchestration_operator.client")
    await make_client(log_extra={"k8s_ref": ref}).poll("p", timestamp=0)
    lines = [
        (re.sub(r"[\d.]+ ms$", "N ms", r.getMessage()), getattr(r, "k8s_ref", None)) for r in caplog.records
    ]
    assert lines == [
        ("POST /orchestration/poll -> 503 in N ms", ref),
        ("poll failed (ServerError), retry 1 of 3 in 0.50s", ref),
        ("POST /orchestration/poll -> 200 in N ms", ref),
    ]


async def test_cookies_set_by_the_site_are_not_replayed(make_client: ClientFactory, site: Site) -> None:
    # One client serves every resource of a connection: a cookie must not leak from one call to the next.
    site.on("GET", SERVICES, reply(200, [], headers={"Set-Cookie": "SESSx=someone; path=/"}))
    client = make_client()
    await client.list_services()
    await client.list_services()
    assert [r.headers.get("cookie") for r in site.requests] == [None, None]


async def test_redirects_are_not_followed(make_client: ClientFactory, site: Site) -> None:
    site.on("POST", EXECUTE, reply(301, body="", headers={"Location": "https://drupal.example/new/x"}))
    with pytest.raises(UnexpectedStatus) as caught:
        await make_client().execute("eca::x")
    assert "redirected to 'https://drupal.example/new/x'" in str(caught.value)
    assert len(site.requests) == 1


# --- secrets ---------------------------------------------------------------------------------------------

PASSWORD = "pw-Z9#secret"
COOKIE_VALUE = "cookie-Q7secret"
CSRF = "csrf-K3secret"
SECRETS = [PASSWORD, COOKIE_VALUE, CSRF, "cHctWjkjc2VjcmV0"]  # the last: base64 of the password


@pytest.mark.parametrize(
    "make_auth",
    [
        lambda: BasicAuth("bot", PASSWORD),
        lambda: SessionAuth(f"SSESSabc={COOKIE_VALUE}", csrf_token=CSRF),
        lambda: LoginAuth("bot", PASSWORD),
    ],
)
@pytest.mark.parametrize(
    "failure",
    [
        html_page(403, "Access denied"),
        reply(401, body="", headers={"WWW-Authenticate": 'Basic realm="x"'}),
        reply(500, {"error": "boom"}),
        html_page(200, "Oops"),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("refused"),
    ],
)
async def test_credentials_never_appear_in_reprs_errors_or_logs(
    make_client: ClientFactory,
    site: Site,
    caplog: pytest.LogCaptureFixture,
    make_auth: Any,
    failure: Any,
) -> None:
    auth = make_auth()
    site.on(
        "POST",
        "/user/login",
        lambda r: httpx.Response(
            200, json={"csrf_token": CSRF}, headers={"Set-Cookie": f"SSESSabc={COOKIE_VALUE}; path=/"}
        ),
    )
    site.on("POST", EXECUTE, failure)
    caplog.set_level(logging.DEBUG)
    client = make_client(auth=auth)
    with pytest.raises(OrchestrationError) as caught:
        await client.execute("eca::x", {"user": "u"})
    texts = [repr(auth), repr(client), str(caught.value), repr(caught.value), caplog.text]
    error: BaseException | None = caught.value
    while error is not None:  # the whole chain, httpx's exceptions included
        texts += [str(error), repr(error)]
        error = error.__cause__ or error.__context__
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_auth_reprs_show_the_username_only() -> None:
    assert repr(BasicAuth("bot", PASSWORD)) == "BasicAuth(username='bot', password=<hidden>)"
    assert repr(LoginAuth("bot", PASSWORD)) == "LoginAuth(username='bot', password=<hidden>)"
    assert (
        repr(SessionAuth(f"SSESSabc={COOKIE_VALUE}", CSRF))
        == "SessionAuth(cookie=<hidden>, csrf_token=<hidden>)"
    )
    assert repr(SessionAuth(f"SSESSabc={COOKIE_VALUE}")) == "SessionAuth(cookie=<hidden>, csrf_token=None)"


async def test_catalog_keeps_the_sites_order(make_client: ClientFactory, site: Site) -> None:
    # Sorted by label and config items by weight on the site: the client re-sorts nothing.
    catalog = [
        {"id": "tool::b", "label": "A", "config": [{"key": "z", "weight": 0}, {"key": "a", "weight": 1}]},
        {"id": "eca::a", "label": "B", "config": []},
    ]
    site.on("GET", SERVICES, reply(200, catalog))
    services = await make_client().list_services()
    assert [(s.id, [c.key for c in s.config]) for s in services] == [("tool::b", ["z", "a"]), ("eca::a", [])]
