"""Condition constants and the pure helpers that set them."""

from __future__ import annotations

import datetime
import re

import pydantic
import pytest

from orchestration_operator.api import conditions

T0 = datetime.datetime(2025, 5, 1, 12, 0, 0, tzinfo=datetime.UTC)
T1 = T0 + datetime.timedelta(minutes=1)
T2 = T0 + datetime.timedelta(minutes=2)


def summary(items: list[conditions.Condition]) -> list[tuple[str, str, str, datetime.datetime]]:
    return [(c.type, c.status, c.reason, c.last_transition_time) for c in items]


def test_set_condition_appends_a_new_type_with_now() -> None:
    result = conditions.set_condition(
        [], type_="Ready", status="False", reason="Progressing", message="probing", now=T0, generation=3
    )
    assert result == [
        conditions.Condition(
            type="Ready",
            status="False",
            reason="Progressing",
            message="probing",
            last_transition_time=T0,
            observed_generation=3,
        )
    ]


def test_same_status_keeps_transition_time_and_takes_the_rest() -> None:
    first = conditions.set_condition(
        [], type_="Ready", status="False", reason="Unreachable", message="a", now=T0, generation=1
    )
    second = conditions.set_condition(
        first, type_="Ready", status="False", reason="Forbidden", message="b", now=T1, generation=2
    )
    (ready,) = second
    assert (ready.reason, ready.message, ready.observed_generation) == ("Forbidden", "b", 2)
    assert ready.last_transition_time == T0


def test_changed_status_moves_transition_time() -> None:
    first = conditions.set_condition(
        [], type_="Ready", status="False", reason="Unreachable", message="", now=T0
    )
    second = conditions.set_condition(
        first, type_="Ready", status="True", reason="Connected", message="", now=T1
    )
    assert summary(second) == [("Ready", "True", "Connected", T1)]


def test_set_condition_replaces_in_place_and_does_not_mutate() -> None:
    original = conditions.mark_reconciling([], reason="Progressing", message="", now=T0)
    assert [c.type for c in original] == ["Reconciling", "Ready"]
    updated = conditions.set_condition(
        original, type_="Reconciling", status="True", reason="Executing", message="", now=T1
    )
    assert [c.type for c in updated] == ["Reconciling", "Ready"]
    assert updated[0].reason == "Executing"
    assert original[0].reason == "Progressing"


def test_mark_ready_removes_abnormal_conditions() -> None:
    stalled = conditions.mark_stalled([], reason="InvalidSpec", message="spec.url: bad", now=T0, generation=1)
    assert summary(stalled) == [("Stalled", "True", "InvalidSpec", T0), ("Ready", "False", "InvalidSpec", T0)]
    ready = conditions.mark_ready(stalled, reason="Connected", message="12 services", now=T1, generation=2)
    assert summary(ready) == [("Ready", "True", "Connected", T1)]
    assert ready[0].observed_generation == 2


def test_mark_reconciling_removes_stalled_and_can_keep_ready() -> None:
    stalled = conditions.mark_stalled([], reason="SecretNotFound", message="", now=T0)
    waiting = conditions.mark_reconciling(stalled, reason="ConnectionNotReady", message="waiting", now=T1)
    assert summary(waiting) == [
        ("Ready", "False", "ConnectionNotReady", T0),
        ("Reconciling", "True", "ConnectionNotReady", T1),
    ]
    ready = conditions.mark_ready(waiting, reason="Connected", message="", now=T2)
    refreshing = conditions.mark_reconciling(ready, reason="Progressing", message="", now=T2, ready="True")
    assert summary(refreshing) == [
        ("Ready", "True", "Progressing", T2),
        ("Reconciling", "True", "Progressing", T2),
    ]


def test_mark_stalled_removes_reconciling() -> None:
    running = conditions.mark_reconciling([], reason="Executing", message="", now=T0)
    failed = conditions.mark_stalled(running, reason="ServiceFailed", message="boom", now=T1)
    assert summary(failed) == [
        ("Ready", "False", "ServiceFailed", T0),
        ("Stalled", "True", "ServiceFailed", T1),
    ]
    assert conditions.is_true(failed, conditions.STALLED)
    assert not conditions.is_true(failed, conditions.READY)
    assert not conditions.is_true(failed, conditions.RECONCILING)
    assert conditions.find(failed, conditions.RECONCILING) is None


def test_long_messages_are_cut_to_the_kubernetes_bound() -> None:
    (ready,) = conditions.set_condition(
        [], type_="Ready", status="False", reason="ServiceFailed", message="x" * 40000, now=T0
    )
    assert len(ready.message) == conditions.MAX_MESSAGE_LENGTH
    assert ready.message.endswith("...")


def test_condition_serializes_like_metav1_condition() -> None:
    (ready,) = conditions.set_condition(
        [],
        type_="Ready",
        status="True",
        reason="Connected",
        message="ok",
        now=T0.replace(microsecond=123456),
        generation=4,
    )
    assert ready.to_dict() == {
        "type": "Ready",
        "status": "True",
        "reason": "Connected",
        "message": "ok",
        "lastTransitionTime": "2025-05-01T12:00:00Z",
        "observedGeneration": 4,
    }


def test_condition_parses_what_the_api_server_returns() -> None:
    parsed = conditions.Condition.model_validate(
        {
            "type": "Ready",
            "status": "False",
            "reason": "Forbidden",
            "lastTransitionTime": "2025-05-01T12:00:00Z",
        }
    )
    assert parsed.last_transition_time == T0
    assert parsed.message == ""


@pytest.mark.parametrize(
    ("field", "value"),
    [("reason", "not camel case"), ("reason", ""), ("status", "true"), ("type", "")],
)
def test_condition_refuses_malformed_values(field: str, value: str) -> None:
    raw = {
        "type": "Ready",
        "status": "True",
        "reason": "Connected",
        "lastTransitionTime": "2025-05-01T12:00:00Z",
    }
    with pytest.raises(pydantic.ValidationError):
        conditions.Condition.model_validate({**raw, field: value})


def test_every_reason_is_registered_camel_case_and_documented_in_one_line() -> None:
    constants = {
        name: value
        for name, value in vars(conditions).items()
        if name.isupper() and isinstance(value, str) and name not in {"TRUE", "FALSE", "UNKNOWN"}
    }
    reasons = {value for name, value in constants.items() if value not in conditions.TYPES}
    assert reasons == set(conditions.REASONS)
    for reason, doc in conditions.REASONS.items():
        assert re.fullmatch(r"[A-Z][A-Za-z]+", reason), reason
        assert doc.endswith("."), reason
        assert "\n" not in doc, reason


def test_the_documented_reasons_exist() -> None:
    expected = {
        "Connected", "Unauthorized", "Forbidden", "Unreachable", "TLSError", "InvalidResponse",
        "SecretNotFound", "InvalidSpec", "ConnectionNotFound", "ConnectionNotReady", "Registered",
        "KeyConflict", "Succeeded", "ServiceFailed", "ValidationFailed", "OutcomeUnknown", "SinkFailing",
        "PollFailed", "Polling",
    }  # fmt: skip
    assert expected <= set(conditions.REASONS)
    assert conditions.TYPES == ("Ready", "Reconciling", "Stalled")
