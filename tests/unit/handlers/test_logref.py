"""The object reference of log lines written outside kopf's handler loggers, as kopf prints its own."""

from __future__ import annotations

import json
import logging

import kopf
import pytest

from orchestration_operator.handlers import logref


@pytest.mark.parametrize(
    ("plural", "kind"),
    [
        ("orchestrationconnections", "OrchestrationConnection"),
        ("orchestrationwebhooks", "OrchestrationWebhook"),
        ("serviceruns", "ServiceRun"),
        ("eventpolls", "EventPoll"),
    ],
)
def test_the_reference_is_printed_as_kopf_prints_its_own(plural: str, kind: str) -> None:
    record = logging.LogRecord(
        "orchestration_operator.x", logging.WARNING, __file__, 1, "it failed", (), None
    )
    for key, value in logref.extra(plural, namespace="team", name="a", uid="u-1").items():
        setattr(record, key, value)
    formatter = kopf._core.actions.loggers.ObjectJsonFormatter(refkey="object")
    line = json.loads(formatter.format(record))
    assert (line["message"], line["object"]) == (
        "it failed",
        {
            "apiVersion": "drupal-orchestration.io/v1alpha1",
            "kind": kind,
            "name": "a",
            "uid": "u-1",
            "namespace": "team",
        },
    )


async def test_the_operators_site_clients_carry_their_connection_in_log_lines() -> None:
    """The registry the operator builds hands each site's client the Connection's reference (no uid)."""
    from orchestration_operator import client
    from orchestration_operator.handlers import shared
    from orchestration_operator.reconcile import sites

    config = sites.SiteConfig(
        url="http://127.0.0.1:9",
        auth=client.BasicAuth("u", "p"),
        verify=True,
        timeout=1.0,
        max_concurrent_requests=1,
        catalog_refresh=60.0,
        fingerprint="f",
    )
    factory = sites._default_factory(None, shared._connection_ref)
    api = factory(("shop", "site"), config)
    try:
        assert api._log_extra == {
            "k8s_ref": {
                "apiVersion": "drupal-orchestration.io/v1alpha1",
                "kind": "OrchestrationConnection",
                "name": "site",
                "namespace": "shop",
            }
        }
    finally:
        await api.aclose()
