"""Handler-level decisions of the Connection loop: waiting after a restart, what a wake-up publishes."""

from __future__ import annotations

import datetime
from typing import Any

import kopf
import pytest

from orchestration_operator.api import connection
from orchestration_operator.handlers import connection as handlers

NOW = datetime.datetime(2025, 5, 1, 12, 0, 0, tzinfo=datetime.UTC)


def conn(*, ready: str = "True", checked: str | None = "2025-05-01T11:59:30Z", observed: int = 1) -> Any:
    status: dict[str, Any] = {
        "observedGeneration": observed,
        "conditions": [
            {
                "type": "Ready",
                "status": ready,
                "reason": "Connected",
                "lastTransitionTime": "2025-05-01T11:00:00Z",
            }
        ],
    }
    if checked is not None:
        status["lastCheckedTime"] = checked
    return connection.OrchestrationConnection.model_validate(
        {
            "metadata": {"name": "site", "namespace": "team", "generation": 1},
            "spec": {
                "url": "https://d.example",
                "auth": {"basic": {"secretRef": {"name": "c"}}},
                "probeInterval": "1m",
            },
            "status": status,
        }
    )


@pytest.mark.parametrize(
    ("case", "wait"),
    [
        (conn(), 30.0),  # probed 30 s ago, interval 1 m: wait 30 s
        (conn(checked="2025-05-01T11:58:00Z"), None),  # overdue: probe now
        (conn(ready="False"), None),
        (conn(checked=None), None),
        (conn(observed=0), None),  # the spec changed while the operator was down
    ],
)
def test_after_a_restart_a_recent_probe_is_not_repeated(case: Any, wait: float | None) -> None:
    assert handlers._not_yet_due(case, NOW) == wait


def body(**status: Any) -> kopf.Body:
    return kopf.Body({"metadata": {"uid": "u1", "generation": 2}, "status": status})


@pytest.mark.parametrize(
    ("event", "obj", "state"),
    [
        ("ADDED", body(), ("u1", 2, None, None, None)),
        (
            "MODIFIED",
            body(
                conditions=[
                    {"type": "Ready", "status": "True", "reason": "Connected", "observedGeneration": 2}
                ]
            ),
            ("u1", 2, "True", "Connected", 2),
        ),
        ("DELETED", body(), None),
    ],
)
def test_the_published_state_changes_with_readiness_only(event: str, obj: kopf.Body, state: Any) -> None:
    assert handlers._published_state(event, obj) == state
