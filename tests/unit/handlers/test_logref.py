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
