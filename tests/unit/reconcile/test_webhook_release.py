"""The finalizer's step: unregister unless Orphan, only an owned key, bounded attempts, never wedged."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from reconcile_fakes import (
    NOW,
    FakeClaims,
    FakeConnections,
    FakeSite,
    FakeSites,
    make_connection,
    make_webhook,
    registered_status,
    triples,
    webhook_body,
)

from orchestration_operator import client
from orchestration_operator.api import webhook
from orchestration_operator.reconcile import sites, unregistering

DELETED_AT = "2025-05-01T12:00:00Z"


def deleting(**spec: Any) -> dict[str, Any]:
    status = spec.pop("status", registered_status("hook"))
    return webhook_body("hook", deleting=DELETED_AT, status=status, **spec)


async def release(
    body: dict[str, Any],
    *,
    connections: FakeConnections | None = None,
    fakes: FakeSites | None = None,
    claims: FakeClaims | None = None,
    attempt: int = 0,
    now: datetime.datetime = NOW,
) -> unregistering.Deletion:
    hook = make_webhook(body)
    index = claims or FakeClaims()
    index.add(body)
    return await unregistering.release(
        hook.metadata,
        hook.status,
        unregistering.DeletionSettings.of(hook.spec),
        connections=connections if connections is not None else FakeConnections(make_connection()),
        index=index,
        sites_=fakes if fakes is not None else FakeSites(),
        attempt=attempt,
        now=now,
    )


async def test_a_registered_webhook_is_unregistered_by_its_key() -> None:
    fakes = FakeSites()
    outcome = await release(deleting(webhookId="Hook"), fakes=fakes)
    assert outcome.done
    assert outcome.unregistered
    assert fakes.calls() == [("unregister", "hook")]
    assert [(e.type, e.reason, e.message) for e in outcome.events] == [
        ("Normal", "Unregistered", 'Unregistered the key "hook" from OrchestrationConnection "site".')
    ]


@pytest.mark.parametrize(
    ("body", "log"),
    [
        (
            deleting(deletionPolicy="Orphan"),
            'deletionPolicy is Orphan: not unregistering (the key "hook" stays',
        ),
        (deleting(status={}), "nothing registered"),
    ],
)
async def test_nothing_is_called_when(body: dict[str, Any], log: str) -> None:
    fakes = FakeSites()
    outcome = await release(body, fakes=fakes)
    assert outcome.done
    assert not outcome.unregistered
    assert outcome.log.startswith(log)
    assert fakes.calls() == []
    assert outcome.events == ()


async def test_a_key_owned_by_an_older_webhook_is_not_unregistered() -> None:
    fakes = FakeSites()
    index = FakeClaims()
    index.add(webhook_body("elder", webhookId="hook", created="2025-05-01T09:00:00Z"))
    outcome = await release(deleting(), fakes=fakes, claims=index)
    assert outcome.done
    assert fakes.calls() == []
    assert 'belongs to OrchestrationWebhook "elder"' in outcome.log


@pytest.mark.parametrize(
    ("connections", "error", "reason"),
    [
        (FakeConnections(), None, "ConnectionNotFound"),
        (FakeConnections(make_connection(ready="False", reason="Forbidden")), None, "ConnectionNotReady"),
        (FakeConnections(make_connection()), client.ConnectError("refused"), "Unreachable"),
        (FakeConnections(make_connection()), client.ServerError("503", status=503), "ServerError"),
    ],
)
async def test_failed_attempts_are_retried_then_abandoned(
    connections: FakeConnections, error: client.OrchestrationError | None, reason: str
) -> None:
    fakes = FakeSites()
    fakes.site().client.unregister_error = error
    body = deleting(unregisterAttempts=3)
    first = await release(body, connections=connections, fakes=fakes, attempt=0)
    assert not first.done
    assert first.status is not None
    assert triples(first.status.conditions) == {("Ready", "False", reason), ("Reconciling", "True", reason)}
    assert "attempt 1 of 3" in first.message
    assert first.delay == 2.0
    second = await release(body, connections=connections, fakes=fakes, attempt=1)
    assert (second.done, second.delay) == (False, 4.0)
    last = await release(body, connections=connections, fakes=fakes, attempt=2)
    assert last.done
    assert not last.unregistered
    assert [(e.type, e.reason) for e in last.events] == [("Warning", "UnregisterAbandoned")]
    assert "after 3 attempt(s)" in last.events[0].message
    assert "finalizer is released" in last.events[0].message


async def test_refused_credentials_are_not_sent_on_delete() -> None:
    fakes = FakeSites()
    outcome = await release(
        deleting(),
        connections=FakeConnections(make_connection(ready="False", reason="Forbidden")),
        fakes=fakes,
    )
    assert not outcome.done
    assert fakes.calls() == []


async def test_a_connection_that_is_merely_unreachable_is_tried_on_delete() -> None:
    fakes = FakeSites()
    conn = make_connection(ready="False", reason="Unreachable")
    outcome = await release(deleting(), connections=FakeConnections(conn), fakes=fakes)
    assert outcome.done
    assert outcome.unregistered


async def test_attempts_end_at_the_unregister_timeout() -> None:
    body = deleting(unregisterTimeout="10s")
    near = await release(body, connections=FakeConnections(), now=NOW + datetime.timedelta(seconds=9))
    assert (near.done, near.delay) == (False, 1.0)  # never sleeps past the deadline
    late = await release(body, connections=FakeConnections(), now=NOW + datetime.timedelta(seconds=10))
    assert late.done
    assert [e.reason for e in late.events] == ["UnregisterAbandoned"]


async def test_a_vanished_secret_uses_the_last_client_of_the_site() -> None:
    fakes = FakeSites()
    fakes.error = sites.SiteConfigError("SecretNotFound", 'Secret "creds" not found in namespace "team"')
    cached = FakeSite()
    fakes.cached[("team", "site")] = cached
    outcome = await release(deleting(), fakes=fakes)
    assert outcome.done
    assert outcome.unregistered
    assert cached.client.calls == [("unregister", "hook")]


async def test_a_vanished_secret_without_a_last_client_is_a_failed_attempt() -> None:
    fakes = FakeSites()
    fakes.error = sites.SiteConfigError("SecretNotFound", 'Secret "creds" not found in namespace "team"')
    outcome = await release(deleting(), fakes=fakes)
    assert not outcome.done
    assert outcome.status is not None
    assert ("Ready", "False", "SecretNotFound") in triples(outcome.status.conditions)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({}, (webhook.DeletionPolicy.DELETE, 5, datetime.timedelta(minutes=5))),
        (
            {"deletionPolicy": "Orphan", "unregisterAttempts": 2, "unregisterTimeout": "30s"},
            (webhook.DeletionPolicy.ORPHAN, 2, datetime.timedelta(seconds=30)),
        ),
        (
            {"deletionPolicy": "Bogus", "unregisterAttempts": 0, "unregisterTimeout": "soon"},
            (webhook.DeletionPolicy.DELETE, 5, datetime.timedelta(minutes=5)),
        ),
        ({"unregisterAttempts": True}, (webhook.DeletionPolicy.DELETE, 5, datetime.timedelta(minutes=5))),
    ],
)
def test_deletion_settings_of_a_spec_that_no_longer_parses(
    raw: dict[str, Any], expected: tuple[webhook.DeletionPolicy, int, datetime.timedelta]
) -> None:
    settings = unregistering.DeletionSettings.from_raw(raw)
    assert (settings.policy, settings.attempts, settings.timeout) == expected
