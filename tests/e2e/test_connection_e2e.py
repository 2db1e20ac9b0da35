"""OrchestrationConnection end to end: kubectl applies YAML, the operator probes the emulated site.

Ready with the catalog; Forbidden for a wrong password or a user without the permission, and Ready as
soon as the Secret is fixed, without a restart and without sending the refused password again (Drupal's
flood control); SecretNotFound healed by creating the Secret; an unreachable site retries (Reconciling,
not Stalled).
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from conftest import PASSWORD, USER, Stack, condition, connection_yaml, eventually
from orchestration_operator.testing.drupal import threaded, users

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("drifted")]

PLURAL = "orchestrationconnections"


def test_a_connection_becomes_ready_with_the_catalog(e2e: Stack, namespace: str) -> None:
    e2e.apply(namespace, connection_yaml(url=e2e.emulator.url))
    e2e.kubectl("wait", "-n", namespace, "--for=condition=Ready", "oconn/site", "--timeout=20s")
    obj = e2e.get(PLURAL, namespace, "site")
    assert obj is not None
    status = obj["status"]
    catalog = sorted(service.id for service in e2e.emulator.emulator.site.catalog.services.values())
    assert status["serviceCount"] == len(catalog)
    assert sorted(service["id"] for service in status["services"]) == catalog
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    assert "lastCheckedTime" in status
    assert (condition(obj)["status"], condition(obj)["reason"]) == ("True", "Connected")
    assert condition(obj, "Stalled") == {}
    assert condition(obj, "Reconciling") == {}
    assert e2e.wait_events(namespace, "site", 1) == [
        ("Normal", "Connected", f"The site lists {len(catalog)} services.")
    ]
    table = e2e.kubectl("get", "-n", namespace, "oconn").stdout
    assert table.split("\n")[1].split()[:3] == ["site", "True", "Connected"]


def test_a_wrong_password_is_forbidden_until_the_secret_is_fixed(
    e2e: Stack, namespace: str, drupal_emulator_factory: Callable[..., threaded.ThreadedEmulator]
) -> None:
    site = drupal_emulator_factory(users=[users.User(USER, PASSWORD)])  # its own request log
    e2e.apply(namespace, connection_yaml(url=site.url, password="wrong"))
    obj = e2e.wait_reason(PLURAL, namespace, "site", "Forbidden", status="False")
    assert condition(obj, "Stalled")["status"] == "True"
    assert "use orchestration connect" in condition(obj)["message"]
    assert [r.status for r in site.calls("services")] == [403]

    # The operator keeps reading the Secret, but never sends the refused password again: Drupal would
    # block the user after 5 failed logins, and a fixed password would then be refused too.
    secret_path = f"/api/v1/namespaces/{namespace}/secrets/creds"
    eventually(
        lambda: sum(r.path == secret_path for r in e2e.sandbox.request_log()) >= 2,
        timeout=20,
        what="the Secret read again",
    )
    assert [r.status for r in site.calls("services")] == [403]

    e2e.apply(namespace, connection_yaml(url=site.url, password=PASSWORD))
    fixed = e2e.wait_reason(PLURAL, namespace, "site", "Connected", status="True", timeout=15)
    assert condition(fixed, "Stalled") == {}
    assert [r.status for r in site.calls("services")] == [403, 200]
    assert [reason for _, reason, _ in e2e.wait_events(namespace, "site", 2)] == ["Forbidden", "Connected"]


def test_a_user_without_the_permission_is_forbidden(e2e: Stack, namespace: str) -> None:
    e2e.apply(namespace, connection_yaml(url=e2e.emulator.url, username="editor", password="editor"))
    obj = e2e.wait_reason(PLURAL, namespace, "site", "Forbidden", status="False")
    assert '"use orchestration connect" permission' in condition(obj)["message"]


def test_a_missing_secret_stalls_until_it_is_created(e2e: Stack, namespace: str) -> None:
    manifest = connection_yaml(url=e2e.emulator.url)
    secret, conn = manifest.split("---")
    e2e.apply(namespace, conn)
    obj = e2e.wait_reason(PLURAL, namespace, "site", "SecretNotFound", status="False")
    assert condition(obj, "Stalled")["status"] == "True"
    assert condition(obj)["message"] == f'Secret "creds" not found in namespace "{namespace}"'
    e2e.apply(namespace, secret)
    e2e.wait_reason(PLURAL, namespace, "site", "Connected", status="True", timeout=15)


def test_an_unreachable_site_is_retried_not_stalled(e2e: Stack, namespace: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    e2e.apply(namespace, connection_yaml(url=f"http://127.0.0.1:{closed_port}"))
    obj = e2e.wait_reason(PLURAL, namespace, "site", "Unreachable", status="False", timeout=20)
    assert condition(obj, "Reconciling")["status"] == "True"
    assert condition(obj, "Stalled") == {}
    e2e.kubectl("delete", "-n", namespace, "oconn", "site", "--wait=false")  # stop its retries
