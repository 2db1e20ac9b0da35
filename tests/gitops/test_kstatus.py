"""kstatus's rules (orchestration_operator.testing.kstatus) and the status objects they judge."""

from __future__ import annotations

from typing import Any

import pytest
from gitops_cases import Case, by_name, params

from orchestration_operator.testing import kstatus


def resource(*conditions: tuple[str, str], generation: int = 1, observed: int | None = 1) -> dict[str, Any]:
    status: dict[str, Any] = {
        "conditions": [{"type": t, "status": s, "message": f"{t} says {s}"} for t, s in conditions]
    }
    if observed is not None:
        status["observedGeneration"] = observed
    return {"kind": "Widget", "metadata": {"name": "w", "generation": generation}, "status": status}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (resource(), ("Current", "Resource is current")),
        (resource(("Ready", "False")), ("Current", "Resource is current")),  # kstatus ignores Ready
        (resource(("Ready", "True")), ("Current", "Resource is current")),
        (resource(("Reconciling", "True")), ("InProgress", "Reconciling says True")),
        (resource(("Reconciling", "False"), ("Stalled", "False")), ("Current", "Resource is current")),
        (resource(("Stalled", "True")), ("Failed", "Stalled says True")),
        (resource(("Stalled", "True"), ("Reconciling", "True")), ("Failed", "Stalled says True")),
        (resource(("Reconciling", "True"), ("Stalled", "True")), ("InProgress", "Reconciling says True")),
        (
            resource(("Stalled", "True"), generation=3, observed=2),
            ("InProgress", "Widget generation is 3, but latest observed generation is 2"),
        ),
        (resource(("Stalled", "True"), generation=3, observed=None), ("Failed", "Stalled says True")),
        (
            {
                **resource(("Ready", "True")),
                "metadata": {"generation": 1, "deletionTimestamp": "2026-01-01T00:00:00Z"},
            },
            ("Terminating", "Resource scheduled for deletion"),
        ),
        ({"kind": "Widget", "metadata": {"name": "w"}}, ("Current", "Resource is current")),
    ],
)
def test_kstatus_generic_rules(obj: dict[str, Any], expected: tuple[str, str]) -> None:
    result = kstatus.compute(obj)
    assert (result.status, result.message) == expected


@pytest.mark.parametrize("case", params())
def test_kstatus_of_each_status_object(case: Case) -> None:
    assert kstatus.compute(case.object).status == case.kstatus


@pytest.mark.parametrize("case", params())
def test_status_objects_follow_the_conventions_unless_marked(case: Case) -> None:
    assert bool(kstatus.convention_problems(case.object)) == case.conventions_broken


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("run-succeeded", "Current"),
        ("run-failed", "Failed"),
        ("webhook-waiting-for-connection", "InProgress"),
    ],
)
def test_finished_runs_end_and_waiting_webhooks_wait(name: str, expected: str) -> None:
    assert kstatus.compute(by_name(name).object).status == expected


@pytest.mark.parametrize(
    ("obj", "problems"),
    [
        (resource(("Ready", "True")), []),
        (resource(("Ready", "False"), ("Reconciling", "True")), []),
        (
            resource(("Ready", "False")),
            [
                "Ready=False without Reconciling=True or Stalled=True: kstatus reports Current; "
                "set Reconciling while work goes on, Stalled when only a change of spec can help"
            ],
        ),
        (
            resource(("Ready", "True"), ("Stalled", "True")),
            ["Ready=True together with Reconciling=True or Stalled=True"],
        ),
        (
            resource(("Ready", "False"), ("Reconciling", "True"), ("Stalled", "True")),
            ["Reconciling=True and Stalled=True at once: kstatus takes whichever is listed first"],
        ),
        (
            resource(("Ready", "True"), observed=None),
            ["status.observedGeneration is missing: a stale status cannot be told from a current one"],
        ),
        (
            resource(("Reconciling", "True")),
            ["no Ready condition: Ready is the summary every consumer reads first"],
        ),
        ({"kind": "Widget", "metadata": {"generation": 1}}, []),
    ],
)
def test_convention_problems(obj: dict[str, Any], problems: list[str]) -> None:
    assert kstatus.convention_problems(obj) == problems


def test_condition_of_an_older_generation_is_a_problem() -> None:
    obj = resource(("Ready", "True"), generation=2, observed=2)
    obj["status"]["conditions"][0]["observedGeneration"] = 1
    assert kstatus.convention_problems(obj) == ["condition Ready is of generation 1, the status of 2"]
