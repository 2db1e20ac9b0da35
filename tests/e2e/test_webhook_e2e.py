"""OrchestrationWebhook end to end: kubectl applies YAML, the emulated site's stored webhooks tell the truth.

Registered under Drupal's key; registered again on a URL change; the old key unregistered when
webhookId changes; unregistered on delete, kept with Orphan; restored after an administrator overwrote
it (at the resync); the newer of two colliding ids refused and taking over when the older goes; waiting
for its Connection and catching up within seconds; a URL from a Secret never shown; deletable while the
site fails, after its Connection was deleted, and with its whole namespace.
"""

from __future__ import annotations

import time

import pytest

from conftest import DRIFT_URL, Stack, condition, connection_yaml, eventually, webhook_yaml

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("drifted")]

PLURAL = "orchestrationwebhooks"


def stored_url(e2e: Stack, key: str) -> object:
    record = e2e.emulator.webhooks.get(key)
    return record.url if record is not None else None


def test_a_webhook_is_registered_under_its_drupal_key(e2e: Stack, namespace: str) -> None:
    e2e.apply(namespace, connection_yaml(url=e2e.emulator.url))
    e2e.apply(namespace, webhook_yaml("platform", webhookId='"Platform_Events 1"'))
    e2e.kubectl("wait", "-n", namespace, "--for=condition=Ready", "owh/platform", "--timeout=20s")
    record = e2e.emulator.webhooks["platform-events-1"]
    assert (record.id, record.url, record.source) == ("Platform_Events 1", "https://hooks.example/in", "api")
    obj = e2e.get(PLURAL, namespace, "platform")
    assert obj is not None
    status = obj["status"]
    assert (status["registeredKey"], status["registeredConnection"]) == ("platform-events-1", "site")
    assert status["urlDigest"].startswith("sha256:")
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    assert e2e.wait_events(namespace, "platform", 1) == [
        (
            "Normal",
            "Registered",
            'Registered on OrchestrationConnection "site" under the key "platform-events-1".',
        )
    ]


def test_a_changed_url_is_registered_again(e2e: Stack, namespace: str) -> None:
    e2e.apply(namespace, connection_yaml(url=e2e.emulator.url))
    e2e.apply(namespace, webhook_yaml("hook-url", url="https://hooks.example/v1"))
    e2e.wait_reason(PLURAL, namespace, "hook-url", "Registered", status="True")
    e2e.apply(namespace, webhook_yaml("hook-url", url="https://hooks.example/v2"))
    eventually(lambda: stored_url(e2e, "hook-url") == "https://hooks.example/v2", what="the new URL stored")
    events = e2e.wait_events(namespace, "hook-url", 2)
    assert events[1][2].endswith("(the URL changed).")


def test_a_new_webhook_id_unregisters_the_old_key(e2e: Stack, namespace: str) -> None:
    e2e.apply(namespace, connection_yaml(url=e2e.emulator.url))
    e2e.apply(namespace, webhook_yaml("renamed", webhookId="before-rename"))
    e2e.wait_reason(PLURAL, namespace, "renamed", "Registered", status="True")
    assert "before-rename" in e2e.emulator.webhooks
    e2e.apply(namespace, webhook_yaml("renamed", webhookId="after-rename"))
    eventually(lambda: "after-rename" in e2e.emulator.webhooks, what="the new key stored")
    assert "before-rename" not in e2e.emulator.webhooks
    reasons = [reason for _, reason, _ in e2e.wait_events(namespace, "renamed", 3)]
    assert reasons == ["Registered", "Unregistered", "Registered"]


@pytest.mark.parametrize(("policy", "kept"), [("Delete", False), ("Orphan", True)])
def test_deleting_a_webhook_follows_its_deletion_policy(
    e2e: Stack, namespace: str, policy: str, kept: bool
) -> None:
    name = f"bye-{policy.lower()}"
    e2e.apply(namespace, connection_yaml(url=e2e.emulator.url))
    e2e.apply(namespace, webhook_yaml(name, deletionPolicy=policy))
    e2e.wait_reason(PLURAL, namespace, name, "Registered", status="True")
    e2e.kubectl("delete", "-n", namespace, "owh", name, "--timeout=20s")
    assert e2e.get(PLURAL, namespace, name) is None
    assert (name in e2e.emulator.webhooks) is kept


def test_the_newer_of_two_colliding_webhooks_is_refused(e2e: Stack, namespace: str) -> None:
    e2e.apply(namespace, connection_yaml(url=e2e.emulator.url))
    e2e.apply(namespace, webhook_yaml("first", webhookId="shared_key", url="https://hooks.example/first"))
    e2e.wait_reason(PLURAL, namespace, "first", "Registered", status="True")
    e2e.apply(namespace, webhook_yaml("second", webhookId="Shared-Key", url="https://hooks.example/second"))
    refused = e2e.wait_reason(PLURAL, namespace, "second", "KeyConflict", status="False")
    assert condition(refused, "Stalled")["status"] == "True"
    assert 'OrchestrationWebhook "first"' in condition(refused)["message"]
    assert stored_url(e2e, "shared-key") == "https://hooks.example/first"
    assert [reason for _, reason, _ in e2e.wait_events(namespace, "second", 1)] == ["KeyConflict"]

    # The older one goes: the newer one takes the key over at once.
    e2e.kubectl("delete", "-n", namespace, "owh", "first", "--timeout=20s")
    e2e.wait_reason(PLURAL, namespace, "second", "Registered", status="True", timeout=10)
    assert stored_url(e2e, "shared-key") == "https://hooks.example/second"


def test_a_webhook_waits_for_its_connection_and_catches_up(e2e: Stack, namespace: str) -> None:
    e2e.apply(namespace, webhook_yaml("early", connection="late"))
    waiting = e2e.wait_reason(PLURAL, namespace, "early", "ConnectionNotFound", status="False")
    assert condition(waiting, "Reconciling")["status"] == "True"
    e2e.apply(namespace, connection_yaml("late", url=e2e.emulator.url))
    e2e.wait_reason("orchestrationconnections", namespace, "late", "Connected", status="True")
    connected = time.monotonic()
    e2e.wait_reason(PLURAL, namespace, "early", "Registered", status="True", timeout=10)
    assert time.monotonic() - connected < 3.0  # woken by the Connection, not by a retry timer


def test_a_url_from_a_secret_never_shows(e2e: Stack, namespace: str) -> None:
    token = "tok-e2e-5f1c9a"
    e2e.apply(namespace, connection_yaml(url=e2e.emulator.url))
    e2e.apply(
        namespace,
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: hook-url}}\n"
        f"stringData: {{url: 'https://hooks.example/in?token={token}'}}\n",
    )
    e2e.apply(namespace, webhook_yaml("secret-url", urlFrom="{secretKeyRef: {name: hook-url, key: url}}"))
    e2e.wait_reason(PLURAL, namespace, "secret-url", "Registered", status="True")
    assert stored_url(e2e, "secret-url") == f"https://hooks.example/in?token={token}"
    shown = e2e.kubectl("get", "-n", namespace, "owh", "secret-url", "-o", "yaml").stdout
    shown += e2e.kubectl("get", "-n", namespace, "events", "-o", "yaml").stdout
    assert "sha256:" in shown
    assert token not in shown
    assert token not in e2e.operator.logs()


def test_a_webhook_is_deletable_while_its_site_fails(e2e: Stack, namespace: str) -> None:
    e2e.apply(namespace, connection_yaml(url=e2e.emulator.url))
    e2e.apply(namespace, webhook_yaml("stuck", unregisterAttempts=1))
    e2e.wait_reason(PLURAL, namespace, "stuck", "Registered", status="True")
    fault = e2e.emulator.add_fault("reset", route="unregister", times=None)
    try:
        started = time.monotonic()
        e2e.kubectl("delete", "-n", namespace, "owh", "stuck", "--wait=false")
        e2e.gone(PLURAL, namespace, "stuck", timeout=20)
        assert time.monotonic() - started < 15
    finally:
        e2e.emulator.remove_fault(fault.id)
    assert e2e.wait_event(namespace, "stuck", "UnregisterAbandoned")[0] == "Warning"
    assert "stuck" in e2e.emulator.webhooks  # it could not be removed, and deletion did not hang


def test_a_webhook_is_deletable_after_its_connection(e2e: Stack, namespace: str) -> None:
    e2e.apply(namespace, connection_yaml(url=e2e.emulator.url))
    e2e.apply(namespace, webhook_yaml("orphaned", unregisterAttempts=2))
    e2e.wait_reason(PLURAL, namespace, "orphaned", "Registered", status="True")
    e2e.kubectl("delete", "-n", namespace, "oconn", "site", "--timeout=20s")
    started = time.monotonic()
    e2e.kubectl("delete", "-n", namespace, "owh", "orphaned", "--timeout=30s")
    assert time.monotonic() - started < 10
    abandoned = e2e.wait_event(namespace, "orphaned", "UnregisterAbandoned")
    assert abandoned[0] == "Warning"
    assert "ConnectionNotFound" in abandoned[2]
    # Its Connection going away was no reason to register again (deleting bumps the generation).
    assert [reason for _, reason, _ in e2e.events(namespace, "orphaned")] == [
        "Registered",
        "UnregisterAbandoned",
    ]


def test_deleting_a_namespace_unregisters_its_webhooks(e2e: Stack, namespace: str) -> None:
    e2e.apply(namespace, connection_yaml(url=e2e.emulator.url))
    e2e.apply(namespace, webhook_yaml("in-namespace", webhookId="namespace-hook"))
    e2e.wait_reason(PLURAL, namespace, "in-namespace", "Registered", status="True")
    e2e.kubectl("delete", "namespace", namespace, "--timeout=30s")
    assert "namespace-hook" not in e2e.emulator.webhooks


def test_zz_an_overwritten_webhook_is_restored_at_the_resync(e2e: Stack, drifted: float) -> None:
    eventually(
        lambda: stored_url(e2e, "drift") == DRIFT_URL,
        timeout=max(1.0, 40 - (time.monotonic() - drifted)),
        what="the administrator's overwrite undone by the resync",
    )
    assert e2e.emulator.webhooks["drift"].source == "api"
