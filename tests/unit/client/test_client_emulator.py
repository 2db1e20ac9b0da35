"""The client against the Drupal emulator over real loopback HTTP: every quirk, auth mode and fault.

The emulator (``orchestration_operator.testing.drupal``) is written independently of the client from the
same API page, so these tests cross-check both: webhook keys against its own ``Html::getId``, retries
against its request log, "executed once" against its execution counters.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from client_fakes import Sleeps

from orchestration_operator.client import (
    BasicAuth,
    ConnectionLost,
    Forbidden,
    InvalidResponse,
    LoginAuth,
    LoginFailed,
    NotFound,
    OrchestrationClient,
    OrchestrationError,
    ResponseTooLarge,
    RetryPolicy,
    ServerError,
    ServiceFailed,
    SessionAuth,
    Timeout,
    Unauthorized,
    diagnose,
    webhook_key,
)
from orchestration_operator.client.auth import Auth
from orchestration_operator.testing.background import BackgroundLoop
from orchestration_operator.testing.drupal import Behaviour, Catalog, Service, ThreadedEmulator

ADMIN = BasicAuth("admin", "admin")

CATALOG = Catalog.of(
    [
        Service(id="eca::echo", label="Echo", behaviour=Behaviour.echo()),
        Service(id="eca::nothing", label="Nothing", behaviour=Behaviour.undefined()),
        Service(id="tool::entity:load", label="Load entity", behaviour=Behaviour.returning([{"nid": 1}])),
        Service(id="eca::broken", label="Broken", behaviour=Behaviour.error("Model failed: no user 42")),
        Service(
            id="ai_agent::helper", label="Helper", behaviour=Behaviour.failure("Agent is not available.")
        ),
        Service(id="eca::count", label="Count", behaviour=Behaviour.counter()),
        Service(id="eca::big", label="Big", behaviour=Behaviour.large(64 * 1024)),
        Service(id="eca::slow", label="Slow", behaviour=Behaviour.returning("late", latency_ms=2000)),
    ]
)


@pytest.fixture(scope="module")
def shared_emulator(drupal_emulator_loop: BackgroundLoop) -> Iterator[ThreadedEmulator]:
    # One site for the module, serving from a background thread, reset before each test: starting an
    # aiohttp server per test would cost more than the tests themselves.
    emulator = ThreadedEmulator.start(
        loop=drupal_emulator_loop, catalog=CATALOG, site_name="Emulated site", base_path="/drupal"
    )
    yield emulator
    emulator.stop()


@pytest.fixture
def emulator(shared_emulator: ThreadedEmulator) -> ThreadedEmulator:
    shared_emulator.reset()  # catalog, users, settings, sessions, flood, webhooks, faults, request log
    return shared_emulator


@pytest.fixture
async def connect(
    emulator: ThreadedEmulator, sleeps: Sleeps
) -> AsyncIterator[Callable[..., OrchestrationClient]]:
    made: list[OrchestrationClient] = []

    def factory(auth: Auth | None = ADMIN, **kwargs: Any) -> OrchestrationClient:
        kwargs.setdefault("retry", RetryPolicy(sleep=sleeps, random=lambda: 1.0))
        client = OrchestrationClient(kwargs.pop("url", emulator.url), auth=auth, **kwargs)
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.aclose()


Connect = Callable[..., OrchestrationClient]


async def test_catalog(connect: Connect) -> None:
    services = await connect().list_services()
    assert [s.id for s in services] == [
        "eca::big",
        "eca::broken",
        "eca::count",
        "eca::echo",
        "ai_agent::helper",
        "tool::entity:load",
        "eca::nothing",
        "eca::slow",
    ]  # sorted by label, as Drupal does, and kept in that order


@pytest.mark.parametrize(
    ("service_id", "config", "value"),
    [
        ("eca::echo", {"user_id": "42", "n": None}, {"user_id": "42", "n": None}),
        ("eca::echo", {}, {}),
        ("eca::nothing", {}, "undefined"),
        ("tool::entity:load", {"id": 1}, [{"nid": 1}]),
        ("eca::count", {}, {"calls": 1}),
    ],
)
async def test_execute_results(connect: Connect, service_id: str, config: dict[str, Any], value: Any) -> None:
    result = await connect().execute(service_id, config)
    assert result.value == value


async def test_provider_failure_inside_a_200(connect: Connect) -> None:
    result = await connect().execute("ai_agent::helper")
    assert result.reported_error == "Agent is not available."


@pytest.mark.parametrize(
    ("service_id", "error"),
    [("eca::broken", "Model failed: no user 42"), ("eca::missing", None), ("eca:echo", None)],
)
async def test_service_failures_are_500_with_the_modules_error(
    connect: Connect, emulator: ThreadedEmulator, service_id: str, error: str | None
) -> None:
    client = connect()
    if ":" in service_id and "::" not in service_id:
        # A single-colon id never leaves the client; Drupal would have answered 500 (never 404).
        with pytest.raises(ValueError, match="use a double colon"):
            await client.execute(service_id)
        assert emulator.request_count("execute") == 0
        return
    with pytest.raises(ServiceFailed) as caught:
        await client.execute(service_id)
    if error is not None:
        assert caught.value.error == error
    assert caught.value.outcome_unknown is False
    assert emulator.request_count("execute") == 1


async def test_large_results_are_capped(connect: Connect, emulator: ThreadedEmulator) -> None:
    assert len((await connect().execute("eca::big")).raw) == 64 * 1024
    with pytest.raises(ResponseTooLarge):
        await connect(max_response_bytes=16 * 1024).execute("eca::big")
    assert emulator.execute_count("eca::big") == 2


# --- authentication ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "error_type", "fragment"),
    [
        (None, Unauthorized, 'realm "Emulated site"'),
        (BasicAuth("admin", "wrong"), Forbidden, "wrong credentials"),
        (BasicAuth("editor", "editor"), Forbidden, '"use orchestration connect" permission'),
        (BasicAuth("blocked", "blocked"), Forbidden, "blocked user"),
        (BasicAuth("nobody", "x"), Forbidden, "wrong credentials"),
        (LoginAuth("admin", "wrong"), LoginFailed, "the site refused the login"),
        (LoginAuth("blocked", "blocked"), LoginFailed, "the site refused the login"),
        (LoginAuth("editor", "editor"), Forbidden, "the login worked, so the credentials are right"),
    ],
)
async def test_auth_failures(
    connect: Connect, auth: Auth | None, error_type: type[OrchestrationError], fragment: str
) -> None:
    with pytest.raises(OrchestrationError) as caught:
        await connect(auth).list_services()
    assert type(caught.value) is error_type
    assert fragment in str(caught.value)
    assert "<" not in str(caught.value)


async def test_login_session_with_csrf(connect: Connect, emulator: ThreadedEmulator) -> None:
    # The emulator requires X-CSRF-Token on session POSTs by default: a client without it fails here.
    client = connect(LoginAuth("admin", "admin"))
    assert len(await client.list_services()) == 8
    assert (await client.execute("eca::echo", {"a": 1})).value == {"a": 1}
    assert [r.auth for r in emulator.calls("execute")] == ["cookie"]
    assert emulator.request_count("login") == 1


async def test_a_burst_logs_in_once(connect: Connect, emulator: ThreadedEmulator) -> None:
    client = connect(LoginAuth("admin", "admin"))
    await asyncio.gather(*(client.poll("none", timestamp=0) for _ in range(20)))
    assert emulator.request_count("login") == 1


async def test_expired_sessions_log_in_again_once(connect: Connect, emulator: ThreadedEmulator) -> None:
    client = connect(LoginAuth("admin", "admin"))
    await client.list_services()
    emulator.expire_sessions()
    await asyncio.gather(*(client.execute("eca::count") for _ in range(5)))
    assert emulator.request_count("login") == 2
    assert emulator.execute_count("eca::count") == 5  # each ran exactly once, after the renewal


async def test_a_given_session_fetches_its_csrf_token(connect: Connect, emulator: ThreadedEmulator) -> None:
    opener = connect(LoginAuth("admin", "admin"))
    await opener.list_services()
    session = opener.auth._session  # type: ignore[union-attr]
    assert session is not None
    client = connect(SessionAuth(session.cookie))
    assert (await client.execute("eca::echo", {"x": 1})).value == {"x": 1}
    assert emulator.request_count("session_token") == 1


async def test_flood_control_blocks_even_the_right_password(
    connect: Connect, emulator: ThreadedEmulator
) -> None:
    for _ in range(5):
        with pytest.raises(Forbidden):
            await connect(BasicAuth("admin", "wrong")).list_services()
    with pytest.raises(Forbidden, match="flood control"):
        await connect(ADMIN).list_services()
    emulator.reset_flood()
    assert len(await connect(ADMIN).list_services()) == 8


# --- webhooks -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "webhook_id",
    [
        "my_webhook",
        "My_Hook 1",
        "A__B",
        "--a--",
        "x[0][b]",
        "ÉCOLE été",
        "😀hook",
        "\u212aelvin",
        "İstanbul",
        "a.b:c/d",
    ],
)
async def test_webhook_keys_match_drupal(
    connect: Connect, emulator: ThreadedEmulator, webhook_id: str
) -> None:
    client = connect()
    key = await client.register_webhook(webhook_id, "https://platform.example/hook")
    assert key == webhook_key(webhook_id)
    assert set(emulator.webhooks) == {key}  # stored under exactly the key the client predicted
    assert await client.unregister_webhook(webhook_id) == key
    assert emulator.webhooks == {}


async def test_ids_that_normalize_alike_overwrite_each_other(
    connect: Connect, emulator: ThreadedEmulator
) -> None:
    client = connect()
    await client.register_webhook("a_b", "https://one.example/")
    await client.register_webhook("A-B", "https://two.example/")
    assert list(emulator.webhooks) == ["a-b"]
    assert emulator.webhooks["a-b"].url == "https://two.example/"


# --- polls -----------------------------------------------------------------------------------------------

ITEMS_TS = [{"timestamp": 100, "data": "a"}, {"timestamp": 200, "data": "b"}, {"timestamp": 200, "data": "c"}]
ITEMS_ID = [{"id": "2", "data": "b"}, {"id": "10", "data": "c"}, {"id": "1", "data": "a"}]


@pytest.mark.parametrize(
    ("settings", "cursor", "expected"),
    [
        ({"poll_comparison": "gt", "poll_order": "ascending"}, {"timestamp": 100}, [200, 200]),
        ({"poll_comparison": "ge", "poll_order": "ascending"}, {"timestamp": 200}, [200, 200]),
        ({"poll_comparison": "gt", "poll_order": "descending"}, {"timestamp": 0}, [200, 200, 100]),
        ({"poll_comparison": "all", "poll_order": "ascending"}, {"timestamp": 200}, [100, 200, 200]),
    ],
)
async def test_timestamp_polls_return_what_the_site_answers(
    connect: Connect,
    emulator: ThreadedEmulator,
    settings: dict[str, Any],
    cursor: dict[str, Any],
    expected: list[int],
) -> None:
    emulator.update_settings(**settings)
    emulator.add_poll_items("articles", "timestamp", ITEMS_TS)
    items = await connect().poll("articles", **cursor)
    assert [i.timestamp for i in items] == expected


@pytest.mark.parametrize(
    ("order", "expected"),
    [("ascending", ["1", "2", "10"]), ("descending", ["10", "2", "1"]), ("insertion", ["2", "10", "1"])],
)
async def test_id_polls_keep_the_sites_order(
    connect: Connect, emulator: ThreadedEmulator, order: str, expected: list[str]
) -> None:
    emulator.update_settings(poll_order=order)
    emulator.add_poll_items("nodes", "id", ITEMS_ID)
    assert [i.id for i in await connect().poll("nodes", id="0")] == expected


async def test_polls_never_send_both_cursors(connect: Connect, emulator: ThreadedEmulator) -> None:
    emulator.update_settings(both_cursor_keys="reject_400")
    client = connect()
    await client.poll("x", timestamp=0)
    await client.poll("x", id="0")
    assert [r.body for r in emulator.calls("poll")] == [
        {"name": "x", "timestamp": 0},
        {"name": "x", "id": "0"},
    ]


# --- faults ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["http_502", "http_504", "reset", "close"])
async def test_idempotent_calls_survive_one_fault(
    connect: Connect, emulator: ThreadedEmulator, kind: str
) -> None:
    emulator.add_fault(kind, route="services")
    assert len(await connect().list_services()) == 8
    assert emulator.request_count("services") == 2


async def test_retry_after_is_honoured(connect: Connect, emulator: ThreadedEmulator, sleeps: Sleeps) -> None:
    emulator.add_fault("http_429", route="poll", retry_after=3)
    assert await connect().poll("x", timestamp=0) == []
    assert sleeps.delays == [3.0]


@pytest.mark.parametrize(
    ("kind", "stage", "error_type", "ran"),
    [
        ("http_502", "before", ServerError, 0),
        ("http_504", "after", ServerError, 1),
        ("http_500", "after", ServerError, 1),
        ("reset", "before", ConnectionLost, 0),
        ("close", "after", ConnectionLost, 1),
        ("truncated", "after", ConnectionLost, 1),
        ("malformed_json", "after", InvalidResponse, 1),
    ],
)
async def test_execute_is_never_retried_when_it_may_have_run(
    connect: Connect,
    emulator: ThreadedEmulator,
    kind: str,
    stage: str,
    error_type: type[OrchestrationError],
    ran: int,
) -> None:
    emulator.add_fault(kind, route="execute", stage=stage)
    with pytest.raises(OrchestrationError) as caught:
        await connect().execute("eca::count")
    assert type(caught.value) is error_type
    assert caught.value.outcome_unknown is True
    assert emulator.request_count("execute") == 1
    assert emulator.execute_count("eca::count") == ran


async def test_execute_timeout_is_not_retried(connect: Connect, emulator: ThreadedEmulator) -> None:
    with pytest.raises(Timeout) as caught:
        await connect().execute("eca::slow", read_timeout=0.2)
    assert caught.value.may_have_reached_server is True
    assert emulator.request_count("execute") == 1


async def test_wrong_base_path_is_not_found(connect: Connect, emulator: ThreadedEmulator) -> None:
    with pytest.raises(NotFound):
        await connect(url=emulator.url.removesuffix("/drupal")).list_services()


# --- diagnose --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "path", "code", "failed"),
    [
        (ADMIN, "", 0, None),
        (LoginAuth("admin", "admin"), "", 0, None),
        (None, "", 5, "authentication"),
        (BasicAuth("admin", "nope"), "", 6, "authentication"),
        (BasicAuth("editor", "editor"), "", 6, "authentication"),
        (LoginAuth("editor", "editor"), "", 6, "permission"),
        (LoginAuth("admin", "nope"), "", 5, "authentication"),
        (ADMIN, "/other", 7, "api"),
    ],
)
async def test_diagnose(
    emulator: ThreadedEmulator, auth: Auth | None, path: str, code: int, failed: str | None
) -> None:
    emulator.add_poll_items("articles", "timestamp", [{"timestamp": 2_000_000_000, "data": 1}])
    findings = await diagnose.diagnose(
        emulator.url.removesuffix("/drupal") + (path or "/drupal"), auth=auth, poll_name="articles"
    )
    assert diagnose.exit_code(findings) == code
    assert [f.check for f in findings if f.status is diagnose.Status.FAIL] == ([failed] if failed else [])
    if code == 0:
        assert findings[-1].line().startswith("ok   poll: 'articles' answered 1 item since")
