"""Claims on webhook keys: what each webhook claims, and who owns a key."""

from __future__ import annotations

import datetime
from typing import Any

import hypothesis
import pytest
from hypothesis import strategies as st
from reconcile_fakes import NOW, registered_status, webhook_body

from orchestration_operator import client
from orchestration_operator.reconcile import claims


def summary(body: dict[str, Any]) -> dict[claims.ClaimKey, tuple[bool, bool, datetime.datetime | None]]:
    return {key: (c.wanted, c.held, c.release_deadline) for key, c in claims.claims_of(body).items()}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (webhook_body("My_Hook"), {("team", "site", "my-hook"): (True, False, None)}),
        (webhook_body("x", webhookId="A__B 1"), {("team", "site", "a-b-1"): (True, False, None)}),
        (
            webhook_body("hook", status=registered_status("hook")),
            {("team", "site", "hook"): (True, True, None)},
        ),
        (  # moved to another key: the old one stays claimed until it is unregistered
            webhook_body("hook", webhookId="new", status=registered_status("hook")),
            {("team", "site", "new"): (True, False, None), ("team", "site", "hook"): (False, True, None)},
        ),
        (  # moved to another connection
            webhook_body("hook", connectionRef={"name": "other"}, status=registered_status("hook")),
            {("team", "other", "hook"): (True, False, None), ("team", "site", "hook"): (False, True, None)},
        ),
        (  # an invalid spec claims nothing it wants, but keeps what it holds
            webhook_body("hook", url="ftp://no", status=registered_status("hook")),
            {("team", "site", "hook"): (False, True, None)},
        ),
        (
            webhook_body("hook", deleting="2025-05-01T12:00:00Z", status=registered_status("hook")),
            {("team", "site", "hook"): (True, True, NOW + datetime.timedelta(minutes=5))},
        ),
        (
            webhook_body(
                "hook",
                deleting="2025-05-01T12:00:00Z",
                unregisterTimeout="30s",
                status=registered_status("hook"),
            ),
            {("team", "site", "hook"): (True, True, NOW + datetime.timedelta(seconds=30))},
        ),
        (  # Orphan: nothing to wait for
            webhook_body(
                "hook",
                deleting="2025-05-01T12:00:00Z",
                deletionPolicy="Orphan",
                status=registered_status("hook"),
            ),
            {("team", "site", "hook"): (True, True, None)},
        ),
        (  # nothing held: nothing to wait for
            webhook_body("hook", deleting="2025-05-01T12:00:00Z"),
            {("team", "site", "hook"): (True, False, None)},
        ),
    ],
)
def test_claims_of_a_webhook(
    body: dict[str, Any], expected: dict[claims.ClaimKey, tuple[bool, bool, datetime.datetime | None]]
) -> None:
    assert summary(body) == expected


def claim(name: str, created: str | None) -> claims.Claim:
    when = datetime.datetime.fromisoformat(created) if created else None
    return claims.Claim(name=name, uid=name, created=when)


@pytest.mark.parametrize(
    ("candidates", "owner"),
    [
        ([], None),
        ([claim("b", "2025-05-01T10:00:00+00:00"), claim("a", "2025-05-01T10:00:01+00:00")], "b"),
        ([claim("b", "2025-05-01T10:00:00+00:00"), claim("a", "2025-05-01T10:00:00+00:00")], "a"),
        ([claim("a", None), claim("z", "2025-05-01T10:00:00+00:00")], "z"),
    ],
)
def test_the_oldest_claimant_owns_a_key(candidates: list[claims.Claim], owner: str | None) -> None:
    found = claims.owner(candidates)
    assert (found.name if found else None) == owner


def test_releasing_lists_webhooks_of_the_connection_still_unregistering() -> None:
    index: dict[claims.ClaimKey, list[claims.Claim]] = {}
    bodies = [
        webhook_body("a", deleting="2025-05-01T12:00:00Z", status=registered_status("a")),
        webhook_body("b", deleting="2025-05-01T11:00:00Z", status=registered_status("b")),  # deadline passed
        webhook_body("c", status=registered_status("c")),  # not being deleted
        webhook_body(
            "d",
            connectionRef={"name": "other"},
            deleting="2025-05-01T12:00:00Z",
            status=registered_status("d", connection_name="other"),
        ),
    ]
    for body in bodies:
        for key, value in claims.claims_of(body).items():
            index.setdefault(key, []).append(value)
    found = claims.releasing(
        index.items(), namespace="team", connection="site", now=NOW + datetime.timedelta(seconds=1)
    )
    assert found == ["a"]


@hypothesis.given(st.text(max_size=40))
def test_a_key_is_its_own_key(webhook_id: str) -> None:
    # Why unregistering by the stored key deletes exactly that key: Html::getId is idempotent.
    key = client.webhook_key(webhook_id)
    assert client.webhook_key(key) == key
