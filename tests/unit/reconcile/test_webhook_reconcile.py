"""One pass of an OrchestrationWebhook: exact conditions per situation, what is called on the site, when
the next pass is due, which events are posted, and that a URL from a Secret never shows."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import pytest
from reconcile_fakes import (
    NOW,
    FakeClaims,
    FakeConnections,
    FakeSecrets,
    FakeSites,
    make_connection,
    make_webhook,
    registered_status,
    triples,
    webhook_body,
)

from orchestration_operator import client
from orchestration_operator.reconcile import sites, wakeups
from orchestration_operator.reconcile import webhook as reconcile_webhook

SECRET_URL = "https://hooks.example/in?token=s3cr3t"


@dataclasses.dataclass
class World:
    sites: FakeSites = dataclasses.field(default_factory=FakeSites)
    connections: FakeConnections = dataclasses.field(
        default_factory=lambda: FakeConnections(make_connection())
    )
    claims: FakeClaims = dataclasses.field(default_factory=FakeClaims)
    secrets: FakeSecrets = dataclasses.field(
        default_factory=lambda: FakeSecrets({"hook-url": {"url": SECRET_URL.encode()}})
    )
    memory: reconcile_webhook.WebhookMemory = dataclasses.field(
        default_factory=reconcile_webhook.WebhookMemory
    )

    async def run(
        self, body: dict[str, Any], *, now: datetime.datetime = NOW, forced: bool = False
    ) -> reconcile_webhook.Pass:
        self.claims.add(body)
        return await reconcile_webhook.reconcile(
            make_webhook(body),
            connections=self.connections,
            index=self.claims,
            sites_=self.sites,
            secrets=self.secrets,
            memory=self.memory,
            now=now,
            forced=forced,
        )

    def calls(self, name: str = "site") -> list[tuple[str, ...]]:
        return self.sites.calls(name)


def ready(reason: str) -> set[tuple[str, str, str]]:
    return {("Ready", "True", reason)}


def waiting(reason: str) -> set[tuple[str, str, str]]:
    return {("Ready", "False", reason), ("Reconciling", "True", reason)}


def stalled(reason: str) -> set[tuple[str, str, str]]:
    return {("Ready", "False", reason), ("Stalled", "True", reason)}


def events(outcome: reconcile_webhook.Pass) -> list[tuple[str, str]]:
    return [(event.type, event.reason) for event in outcome.events]


async def test_a_new_webhook_is_registered() -> None:
    world = World()
    outcome = await world.run(webhook_body("My_Hook", resyncInterval="10m"))
    assert triples(outcome.status.conditions) == ready("Registered")
    assert world.calls() == [("register", "My_Hook", "https://hooks.example/in")]
    status = outcome.status
    assert (status.registered_key, status.registered_connection) == ("my-hook", "site")
    assert status.url_digest == reconcile_webhook.url_digest("https://hooks.example/in")
    assert (status.last_registered_time, status.observed_generation) == (NOW, 1)
    assert outcome.delay == 600.0
    assert events(outcome) == [("Normal", "Registered")]
    assert outcome.registered
    assert outcome.called
    assert outcome.topics == {
        wakeups.connection_topic("team", "site"),
        wakeups.webhook_key_topic("team", "site", "my-hook"),
    }


def _forbidden_connection() -> FakeConnections:
    return FakeConnections(make_connection(ready="False", reason="Forbidden"))


@pytest.mark.parametrize(
    ("world", "spec", "conditions", "delay"),
    [
        pytest.param(
            World(connections=FakeConnections()), {}, waiting("ConnectionNotFound"), None, id="no-connection"
        ),
        pytest.param(
            World(connections=_forbidden_connection()),
            {},
            waiting("ConnectionNotReady"),
            None,
            id="not-ready",
        ),
        pytest.param(
            World(connections=FakeConnections(make_connection(ready=None))),
            {},
            waiting("ConnectionNotReady"),
            None,
            id="never-probed",
        ),
        pytest.param(
            World(secrets=FakeSecrets()),
            {"urlFrom": {"secretKeyRef": {"name": "hook-url", "key": "url"}}},
            stalled("SecretNotFound"),
            5.0,
            id="url-secret-missing",
        ),
        pytest.param(
            World(),
            {"urlFrom": {"secretKeyRef": {"name": "hook-url", "key": "other"}}},
            stalled("SecretNotFound"),
            5.0,
            id="url-secret-key-missing",
        ),
        pytest.param(
            World(secrets=FakeSecrets({"hook-url": {"url": b"not a url s3cr3t"}})),
            {"urlFrom": {"secretKeyRef": {"name": "hook-url", "key": "url"}}},
            stalled("InvalidSpec"),
            5.0,
            id="url-secret-not-a-url",
        ),
    ],
)
async def test_a_webhook_that_cannot_register_yet(
    world: World, spec: dict[str, Any], conditions: set[tuple[str, str, str]], delay: float | None
) -> None:
    body = webhook_body("hook", **spec)
    outcome = await world.run(body)
    assert triples(outcome.status.conditions) == conditions
    assert outcome.delay == delay
    assert world.calls() == []
    assert outcome.status.registered_key is None
    reason = next(iter(conditions))[2]
    # Waiting for a Connection is said in status only; a bad URL Secret is worth an Event.
    assert events(outcome) == ([] if reason.startswith("Connection") else [("Warning", reason)])
    assert "s3cr3t" not in repr(outcome)


@pytest.mark.parametrize(
    ("error", "conditions", "delay"),
    [
        (client.ConnectError("refused"), waiting("Unreachable"), 2.0),
        (client.Timeout("slow", may_have_reached_server=True), waiting("Timeout"), 2.0),
        (client.ServerError("502", status=502), waiting("ServerError"), 2.0),
        (client.InvalidResponse("html", status=200), waiting("InvalidResponse"), 2.0),
        (client.BadRequest("400", status=400), waiting("RegistrationFailed"), 2.0),
        (client.Forbidden("403", status=403), stalled("Forbidden"), None),
        (client.Unauthorized("401", status=401), stalled("Unauthorized"), None),
    ],
)
async def test_a_failed_register_call(
    error: client.OrchestrationError, conditions: set[tuple[str, str, str]], delay: float | None
) -> None:
    world = World()
    world.sites.site().client.register_error = error
    outcome = await world.run(webhook_body("hook"))
    assert triples(outcome.status.conditions) == conditions
    assert outcome.delay == delay
    assert outcome.called
    assert not outcome.registered
    assert outcome.status.registered_key is None


async def test_register_failures_back_off_up_to_the_resync_interval() -> None:
    world = World()
    world.sites.site().client.register_error = client.ConnectError("refused")
    body = webhook_body("hook", resyncInterval="30s")
    delays = [(await world.run(body)).delay for _ in range(5)]
    assert delays == [2.0, 4.0, 8.0, 16.0, 30.0]


async def test_a_site_that_cannot_be_configured() -> None:
    world = World()
    world.sites.error = sites.SiteConfigError(
        "SecretNotFound", 'Secret "creds" not found in namespace "team"'
    )
    outcome = await world.run(webhook_body("hook"))
    assert triples(outcome.status.conditions) == stalled("SecretNotFound")
    assert not outcome.called


async def test_a_url_from_a_secret_shows_only_as_a_digest() -> None:
    world = World()
    body = webhook_body("hook", urlFrom={"secretKeyRef": {"name": "hook-url", "key": "url"}})
    outcome = await world.run(body)
    assert triples(outcome.status.conditions) == ready("Registered")
    assert world.calls() == [("register", "hook", SECRET_URL)]
    assert outcome.status.url_digest == reconcile_webhook.url_digest(SECRET_URL)
    assert "s3cr3t" not in repr(outcome.status.to_dict()) + repr(outcome.events)


# --- when a pass registers -----------------------------------------------------------------------------


def _registered(**spec: Any) -> dict[str, Any]:
    return webhook_body("hook", resyncInterval="10m", status=registered_status("hook"), **spec)


async def test_a_registered_webhook_waits_for_its_resync() -> None:
    world = World()
    outcome = await world.run(_registered())
    assert world.calls() == []
    assert outcome.delay == 540.0  # registered at 11:59, resync 10m, now 12:00
    assert outcome.events == ()
    assert outcome.status == make_webhook(_registered()).status


async def test_the_resync_registers_again_silently() -> None:
    world = World()
    later = NOW + datetime.timedelta(minutes=9)
    outcome = await world.run(_registered(), now=later)
    assert world.calls() == [("register", "hook", "https://hooks.example/in")]
    assert outcome.status.last_registered_time == later
    assert outcome.events == ()
    assert outcome.delay == 600.0


@pytest.mark.parametrize(
    ("change", "event"),
    [
        ("forced", None),  # a newcomer claims the key: re-register our URL, nothing changed for us
        ("connection-generation", None),  # the Connection's spec changed (maybe another site)
        ("url", "(the URL changed)"),
        ("webhook-was-not-ready", None),
    ],
)
async def test_a_pass_registers_before_the_resync_when(change: str, event: str | None) -> None:
    world = World()
    world.memory.registered_through = ("uid-site", 0 if change == "connection-generation" else 1)
    spec: dict[str, Any] = {}
    body = _registered()
    if change == "url":
        body = webhook_body(
            "hook", generation=2, status=registered_status("hook"), url="https://hooks.example/v2"
        )
    if change == "webhook-was-not-ready":
        body["status"]["conditions"][0].update(status="False", reason="Unreachable")
    del spec
    outcome = await world.run(body, forced=change == "forced")
    assert len(world.calls()) == 1
    assert triples(outcome.status.conditions) == ready("Registered")
    messages = [e.message for e in outcome.events]
    if event is None:
        expected = 1 if change == "webhook-was-not-ready" else 0
        assert len(messages) == expected
    else:
        assert len(messages) == 1
        assert messages[0].endswith(event + ".")
    assert world.memory.registered_through == ("uid-site", 1)


async def test_a_registered_webhook_does_not_follow_a_connection_outage_until_its_resync() -> None:
    world = World(connections=FakeConnections(make_connection(ready="False", reason="Unreachable")))
    outcome = await world.run(_registered())
    assert triples(outcome.status.conditions) == ready("Registered")
    assert world.calls() == []
    later = await world.run(_registered(), now=NOW + datetime.timedelta(minutes=9))
    assert triples(later.status.conditions) == waiting("ConnectionNotReady")
    assert events(later) == [("Warning", "ConnectionNotReady")]


# --- key conflicts -------------------------------------------------------------------------------------


async def test_the_newer_of_two_webhooks_with_one_key_is_refused() -> None:
    world = World()
    world.claims.add(webhook_body("a-b", created="2025-05-01T09:00:00Z", status=registered_status("a-b")))
    outcome = await world.run(webhook_body("newer", webhookId="A_B", created="2025-05-01T10:00:00Z"))
    assert triples(outcome.status.conditions) == stalled("KeyConflict")
    assert world.calls() == []
    message = outcome.status.conditions[0].message
    assert 'OrchestrationWebhook "a-b"' in message
    assert '"a-b"' in message
    assert '"A_B"' in message
    assert events(outcome) == [("Warning", "KeyConflict")]
    assert outcome.delay is None
    assert wakeups.webhook_key_topic("team", "site", "a-b") in outcome.topics
    assert outcome.publish == frozenset()


async def test_the_older_webhook_keeps_its_key_when_a_newer_one_appears() -> None:
    world = World()
    world.claims.add(webhook_body("newer", webhookId="A_B", created="2025-05-01T11:00:00Z"))
    outcome = await world.run(webhook_body("a-b", created="2025-05-01T09:00:00Z"))
    assert triples(outcome.status.conditions) == ready("Registered")


async def test_a_webhook_that_registered_in_a_race_leaves_the_key_to_its_owner() -> None:
    world = World()
    world.claims.add(webhook_body("owner", webhookId="hook", created="2025-05-01T09:00:00Z"))
    outcome = await world.run(_registered())
    assert triples(outcome.status.conditions) == stalled("KeyConflict")
    assert world.calls() == []  # no unregister: the key is the owner's
    assert (outcome.status.registered_key, outcome.status.registered_connection) == (None, None)
    assert outcome.publish == {wakeups.webhook_key_topic("team", "site", "hook")}


# --- moving to another key -----------------------------------------------------------------------------


def _moved(**spec: Any) -> dict[str, Any]:
    return webhook_body("hook", generation=2, status=registered_status("hook"), **spec)


async def test_a_new_webhook_id_unregisters_the_old_key_first() -> None:
    world = World()
    outcome = await world.run(_moved(webhookId="renamed"))
    assert world.calls() == [("unregister", "hook"), ("register", "renamed", "https://hooks.example/in")]
    assert outcome.status.registered_key == "renamed"
    assert [(e.type, e.reason, e.message) for e in outcome.events] == [
        ("Normal", "Unregistered", 'Unregistered the old key "hook" from OrchestrationConnection "site".'),
        (
            "Normal",
            "Registered",
            'Registered on OrchestrationConnection "site" under the key "renamed" '
            "(the key or connection changed).",
        ),
    ]
    assert outcome.publish == {wakeups.webhook_key_topic("team", "site", "hook")}


async def test_a_new_connection_unregisters_from_the_old_one() -> None:
    world = World(connections=FakeConnections(make_connection(), make_connection("other")))
    outcome = await world.run(_moved(connectionRef={"name": "other"}))
    assert world.calls("site") == [("unregister", "hook")]
    assert world.calls("other") == [("register", "hook", "https://hooks.example/in")]
    assert outcome.status.registered_connection == "other"


async def test_an_old_key_that_cannot_be_unregistered_is_retried_then_abandoned() -> None:
    world = World()
    world.sites.site().client.unregister_error = client.ConnectError("refused")
    body = _moved(webhookId="renamed", unregisterAttempts=3)
    first = await world.run(body)
    assert triples(first.status.conditions) == waiting("Unreachable")
    assert (
        "attempt 1 of 3" in first.status.conditions[1].message
        or "attempt 1 of 3" in first.status.conditions[0].message
    )
    assert first.delay == 2.0
    second = await world.run(body, now=NOW + datetime.timedelta(seconds=2))
    assert second.delay == 4.0
    third = await world.run(body, now=NOW + datetime.timedelta(seconds=6))
    assert events(third)[0] == ("Warning", "UnregisterAbandoned")
    assert triples(third.status.conditions) == ready("Registered")
    assert third.status.registered_key == "renamed"
    assert [call[0] for call in world.calls()] == ["unregister"] * 3 + ["register"]


async def test_an_old_key_is_abandoned_after_the_unregister_timeout() -> None:
    world = World()
    world.sites.site().client.unregister_error = client.ConnectError("refused")
    body = _moved(webhookId="renamed", unregisterTimeout="10s")
    await world.run(body)
    outcome = await world.run(body, now=NOW + datetime.timedelta(seconds=10))
    assert events(outcome)[0] == ("Warning", "UnregisterAbandoned")


async def test_an_old_key_on_a_connection_that_is_not_ready_is_not_called() -> None:
    world = World(
        connections=FakeConnections(
            make_connection("site", ready="False", reason="Forbidden"), make_connection("other")
        )
    )
    outcome = await world.run(_moved(connectionRef={"name": "other"}))
    assert world.calls("site") == []
    assert triples(outcome.status.conditions) == waiting("ConnectionNotReady")


async def test_an_old_key_owned_by_an_older_webhook_is_left_alone() -> None:
    world = World()
    world.claims.add(webhook_body("elder", webhookId="hook", created="2025-05-01T09:00:00Z"))
    outcome = await world.run(_moved(webhookId="renamed"))
    assert world.calls() == [("register", "renamed", "https://hooks.example/in")]
    assert outcome.status.registered_key == "renamed"


def test_the_topics_of_a_webhook_include_what_it_still_holds() -> None:
    hook = make_webhook(_moved(webhookId="renamed", connectionRef={"name": "other"}))
    assert reconcile_webhook.topics_for(hook) == {
        wakeups.connection_topic("team", "other"),
        wakeups.webhook_key_topic("team", "other", "renamed"),
        wakeups.connection_topic("team", "site"),
        wakeups.webhook_key_topic("team", "site", "hook"),
    }


async def test_a_connection_whose_new_spec_was_not_probed_yet_is_waited_for() -> None:
    conn = make_connection(generation=2)  # Ready, but for generation 1
    world = World(connections=FakeConnections(conn))
    outcome = await world.run(webhook_body("hook"))
    assert triples(outcome.status.conditions) == waiting("ConnectionNotReady")
    assert "its new spec has not been probed yet" in outcome.status.conditions[0].message
    assert world.calls() == []


async def test_a_connection_being_deleted_is_no_reason_to_register_again() -> None:
    conn = make_connection(generation=2).model_copy(deep=True)
    deleting = conn.model_copy(
        update={"metadata": conn.metadata.model_copy(update={"deletion_timestamp": NOW})}
    )
    world = World(connections=FakeConnections(deleting))
    world.memory.registered_through = ("uid-site", 1)
    outcome = await world.run(_registered())
    assert world.calls() == []
    assert outcome.events == ()
    assert triples(outcome.status.conditions) == ready("Registered")
