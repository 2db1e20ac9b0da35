"""The ServiceRun state machine: every path, with the exact status writes and conditions."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
from typing import Any

import httpx
import pytest
import runfakes
from runfakes import NOW, UID, World, conds, make_run, message, result

from orchestration_operator import client
from orchestration_operator.api import names
from orchestration_operator.reconcile import runresults, runstate
from orchestration_operator.reconcile import servicerun as reconcile

T = "2025-05-01T12:00:00Z"
EXECUTION = reconcile.execution_id(UID, None)
EXECUTING = [("Ready", "Unknown", "Executing"), ("Reconciling", "True", "Executing")]


def marker(**fields: Any) -> dict[str, Any]:
    """The start marker of attempt 1 of the first execution, with ``fields`` changed."""
    written = {
        "executionId": EXECUTION,
        "rerun": None,
        "observedGeneration": 1,
        "phase": "Running",
        "startedAttempt": 1,
        "attempts": 0,
        "error": None,
        "startTime": T,
    }
    written.update(fields)
    return written


def without_conditions(status: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in status.items() if key != "conditions"}


# --- success and the result's place ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "result_spec", "in_status", "ref_kind", "truncated", "note"),
    [
        ({"sent": True}, {}, True, None, False, "an object (14 bytes) in status.result"),
        ([1, 2, 3], {}, True, None, False, "a list of 3 items (9 bytes) in status.result"),
        ("done", {}, True, None, False, "a string (6 bytes) in status.result"),
        ("undefined", {}, True, None, False, 'the string "undefined" (the service returned nothing)'),
        (
            {"big": "x" * 5000},
            {},
            False,
            "ConfigMap",
            True,
            "over maxStatusBytes (4096)) in ConfigMap 'welcome-result'",
        ),
        ({"a": 1}, {"maxStatusBytes": 0}, False, "ConfigMap", True, "over maxStatusBytes (0)"),
        ({"token": "s3cr3t"}, {"sensitive": True}, False, "Secret", False, "sensitive) in Secret"),
    ],
)
async def test_success_puts_the_result_in_status_or_an_owned_object(
    value: Any,
    result_spec: dict[str, Any],
    in_status: bool,
    ref_kind: str | None,
    truncated: bool,
    note: str,
) -> None:
    world = World(runfakes.FakeExecutor(result(value)))
    step = await reconcile.reconcile(make_run(result=result_spec), world.deps())

    raw = json.dumps(value).encode()
    (written, rv), *more = world.writer.writes
    assert more == []
    assert rv == "17"
    assert without_conditions(written) == marker()
    assert conds(written) == EXECUTING
    assert world.executor.calls == [("eca::send_welcome_email", {"user_id": "42"}, 60.0)]

    assert conds(step.status) == [("Ready", "True", "Succeeded")]
    assert note in message(step.status)
    expected: dict[str, Any] = {
        "executionId": EXECUTION,
        "rerun": None,
        "observedGeneration": 1,
        "phase": "Succeeded",
        "startedAttempt": 1,
        "attempts": 1,
        "completionTime": T,
        "error": None,
        "result": value if in_status else None,
        "resultRef": None,
        "resultTruncated": truncated,
        "resultBytes": len(raw),
        "resultDigest": "sha256:" + hashlib.sha256(raw).hexdigest(),
    }
    if ref_kind is not None:
        expected["resultRef"] = {"kind": ref_kind, "name": "welcome-result", "key": "result.json"}
        data, owner = world.owned.objects[(ref_kind, "welcome-result")]
        stored = data["result.json"]
        assert (stored if isinstance(stored, str) else stored.decode()) == raw.decode()
        assert owner == {
            "apiVersion": "drupal-orchestration.io/v1alpha1",
            "kind": "ServiceRun",
            "metadata": {"name": "welcome", "uid": UID},
        }
    else:
        assert world.owned.objects == {}
    assert without_conditions(step.status) == expected
    assert step.retry_after is None
    assert step.finished
    assert [(e.type, e.reason, e.message) for e in step.events] == [
        ("Normal", "Succeeded", message(step.status))
    ]
    assert step.outcome == reconcile.Outcome(reconcile.servicerun.Phase.SUCCEEDED, "Succeeded", 0.0)


@pytest.mark.parametrize(
    ("result_spec", "shown"),
    [({}, "'Agent is not available.'"), ({"sensitive": True}, "see the result Secret")],
)
async def test_a_200_that_reports_success_false_is_succeeded_with_a_note(
    result_spec: dict[str, Any], shown: str
) -> None:
    value = {"success": False, "error": "Agent is not available."}
    world = World(runfakes.FakeExecutor(result(value)))
    step = await reconcile.reconcile(make_run(result=result_spec), world.deps())
    assert step.status["phase"] == "Succeeded"
    assert conds(step.status) == [("Ready", "True", "Succeeded")]
    assert message(step.status).endswith(
        f'Note: the site answered 200 but the result reports "success": false ({shown})'
    )
    # The Event says so too, but never with the text the service reported.
    [event] = step.events
    assert (event.type, event.reason) == ("Normal", "Succeeded")
    assert event.message.endswith('; the result reports "success": false')
    assert "Agent is not available" not in event.message


async def test_a_result_that_cannot_be_stored_still_succeeds_with_its_digest() -> None:
    world = World(runfakes.FakeExecutor(result({"big": "x" * 5000})), owned=runfakes.FakeOwned(fail=True))
    step = await reconcile.reconcile(make_run(), world.deps())
    assert step.status["phase"] == "Succeeded"
    assert step.status["resultRef"] is None
    assert step.status["resultTruncated"] is True
    assert step.status["resultDigest"].startswith("sha256:")
    assert "storing it in ConfigMap 'welcome-result' failed (RuntimeError)" in message(step.status)


async def test_a_result_too_large_for_any_object_keeps_only_its_digest() -> None:
    big = client.ExecuteResult(value="x", raw=b'"' + b"x" * runresults.MAX_STORED_BYTES + b'"')
    world = World(runfakes.FakeExecutor(big))
    step = await reconcile.reconcile(make_run(), world.deps())
    assert step.status["resultRef"] is None
    assert step.status["resultBytes"] == runresults.MAX_STORED_BYTES + 2
    assert "too large to store in a ConfigMap" in message(step.status)
    assert world.owned.objects == {}


# --- failures ------------------------------------------------------------------------------------------


def _http(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> client.OrchestrationError:
    from orchestration_operator.client import responses, routes

    return responses.error_for(routes.EXECUTE, status, httpx.Headers(headers or {}), body)


def _read_timeout() -> client.OrchestrationError:
    return client.Timeout("execute: timed out waiting for the answer", may_have_reached_server=True)


def _invalid_200() -> client.OrchestrationError:
    from orchestration_operator.client import responses, routes

    return responses.invalid(routes.EXECUTE, 200, b"<html><title>Oops</title></html>")


@pytest.mark.parametrize(
    ("error", "phase", "reason", "http_status", "in_message"),
    [
        (
            _http(500, b'{"error": "User 42 does not exist."}'),
            "Failed",
            "ServiceFailed",
            500,
            '"eca::send_welcome_email" failed (HTTP 500): User 42 does not exist.',
        ),
        (_http(400, b'{"message": "bad"}'), "Failed", "RequestRejected", 400, "400 Bad Request"),
        (_http(404, b"<html></html>"), "Failed", "RequestRejected", 404, "the route does not exist"),
        (_invalid_200(), "Failed", "InvalidResponse", 200, "an HTML page instead of JSON"),
        (_read_timeout(), "Unknown", "OutcomeUnknown", None, "no answer within spec.timeout (60s)"),
        (_http(502, b"<html>Bad gateway</html>"), "Unknown", "OutcomeUnknown", 502, "502 Bad Gateway"),
        (_http(500, b"<html><title>Error</title></html>"), "Unknown", "OutcomeUnknown", 500, "Error"),
        (client.ConnectionLost("execute: reset"), "Unknown", "OutcomeUnknown", None, "execute: reset"),
        (ValueError("boom"), "Unknown", "OutcomeUnknown", None, "failed unexpectedly (ValueError)"),
    ],
)
async def test_final_failures_are_stalled_with_a_reason_per_cause(
    error: BaseException, phase: str, reason: str, http_status: int | None, in_message: str
) -> None:
    world = World(runfakes.FakeExecutor(error))
    step = await reconcile.reconcile(make_run(), world.deps())
    assert len(world.writer.writes) == 1
    assert len(world.executor.calls) == 1
    assert step.status["phase"] == phase
    assert step.status["attempts"] == step.status["startedAttempt"] == 1
    assert step.status["completionTime"] == T
    assert conds(step.status) == [("Ready", "False", reason), ("Stalled", "True", reason)]
    assert in_message in message(step.status)
    error_field = step.status["error"]
    assert error_field["reason"] == reason
    assert error_field.get("httpStatus") == http_status
    assert step.retry_after is None
    assert step.finished
    assert [(e.type, e.reason) for e in step.events] == [("Warning", reason)]
    # Events point at status; they never carry the service's error text.
    assert "does not exist" not in step.events[0].message


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (client.ConnectError("execute: connection refused"), "Unreachable"),
        (client.TLSError("execute: TLS handshake failed", certificate_problem=False), "TLSError"),
        (client.Timeout("execute: timed out while connecting", may_have_reached_server=False), "Timeout"),
        (_http(401), "Unauthorized"),
        (_http(403), "Forbidden"),
        (_http(429, headers={"Retry-After": "7"}), "RateLimited"),
    ],
)
async def test_calls_that_provably_did_not_run_are_retried_then_fail(
    error: BaseException, reason: str
) -> None:
    world = World(runfakes.FakeExecutor(error))
    step = await reconcile.reconcile(make_run(), world.deps())
    assert step.status["phase"] == "Running"
    assert (step.status["startedAttempt"], step.status["attempts"]) == (1, 1)
    assert conds(step.status) == [("Ready", "False", "Retrying"), ("Reconciling", "True", "Retrying")]
    # backoff 1s: the first retry waits between 0.5 and 1 s (0.75 with random 0.5); Retry-After wins.
    assert step.retry_after == (7.0 if reason == "RateLimited" else 0.75)
    assert f"attempt 1 of 3 did not reach the service ({reason}:" in message(step.status)
    assert not step.finished

    # The third and last attempt (two recorded) fails the run; nothing was ever run.
    status = {
        "executionId": EXECUTION,
        "phase": "Running",
        "startTime": T,
        "startedAttempt": 2,
        "attempts": 2,
        "conditions": step.status["conditions"],
    }
    step = await reconcile.reconcile(make_run(status=status, kopf_retry=2), world.deps())
    expected = marker(startedAttempt=3, attempts=2)
    del expected["startTime"]  # kept from the first attempt
    assert without_conditions(world.writer.writes[-1][0]) == expected
    assert step.status["phase"] == "Failed"
    assert (step.status["startedAttempt"], step.status["attempts"]) == (3, 3)
    assert conds(step.status) == [("Ready", "False", reason), ("Stalled", "True", reason)]
    assert message(step.status).startswith('"eca::send_welcome_email" was not run: 3 attempts did not reach')


async def test_a_retry_keeps_the_start_time_and_counts_attempts() -> None:
    status = {"executionId": EXECUTION, "phase": "Running", "startTime": "2025-05-01T11:59:00Z"}
    status |= {"startedAttempt": 1, "attempts": 1}
    world = World(runfakes.FakeExecutor(result("ok")))
    step = await reconcile.reconcile(make_run(status=status), world.deps())
    written = world.writer.writes[0][0]
    assert "startTime" not in written
    assert (written["startedAttempt"], written["attempts"]) == (2, 1)
    assert message(written) == 'calling "eca::send_welcome_email" (attempt 2 of 3)'
    assert (step.status["startedAttempt"], step.status["attempts"]) == (2, 2)
    assert message(step.status).endswith("(attempt 2)")


@pytest.mark.parametrize(("attempts", "phase"), [(1, "Running"), (3, "Unknown")])
async def test_unknown_outcomes_are_retried_only_when_opted_in(attempts: int, phase: str) -> None:
    world = World(runfakes.FakeExecutor(_read_timeout()))
    retry = {"unknownOutcome": "Retry", "maxAttempts": attempts + 1 if phase == "Running" else attempts}
    status = {}
    if attempts > 1:
        status = {"executionId": EXECUTION, "phase": "Running", "startTime": T}
        status |= {"startedAttempt": attempts - 1, "attempts": attempts - 1}
    step = await reconcile.reconcile(make_run(retry=retry, status=status), world.deps())
    assert step.status["phase"] == phase
    if phase == "Running":
        assert conds(step.status) == [("Ready", "False", "Retrying"), ("Reconciling", "True", "Retrying")]
        assert "has an unknown outcome (OutcomeUnknown" in message(step.status)
        assert step.retry_after == 0.75
    else:
        assert conds(step.status)[-1] == ("Stalled", "True", "OutcomeUnknown")
        assert "is unknown after 3 attempts (retry.maxAttempts)" in message(step.status)


# --- refused before any call ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "reason", "in_message"),
    [
        (
            {"serviceId": "eca::send_welcom_email"},
            "ServiceNotFound",
            'service "eca::send_welcom_email" is not in the catalog of connection "site" (2 services); '
            'did you mean "eca::send_welcome_email"?',
        ),
        (
            {"config": {}},
            "ValidationFailed",
            'config key "user_id" is required (User ID: The numeric user ID.) but not set',
        ),
        (
            {"config": {"user_id": None}},
            "ValidationFailed",
            'config key "user_id" is required (User ID: The numeric user ID.) but not set',
        ),
        (
            {"config": {"user_id": "1", "tone": "angry"}},
            "ValidationFailed",
            "config key \"tone\": 'angry' is not one of the options warm (Warm), formal (Formal)",
        ),
        (
            {"config": {"user_id": "1", "count": "many"}},
            "ValidationFailed",
            'config key "count" must be an integer (catalog type "integer"), not \'many\'',
        ),
        (
            {"config": {"user_id": "1", "colour": 1}, "unknownKeys": "Refuse"},
            "ValidationFailed",
            'config key "colour" is not declared by the service (declared: count, subject, tone, user_id) '
            "(unknownKeys: Refuse)",
        ),
        (
            {"timeout": "forever"},
            "InvalidSpec",
            "spec.timeout: invalid duration 'forever'",
        ),
    ],
)
async def test_refused_runs_never_call_execute_and_say_what_to_fix(
    spec: dict[str, Any], reason: str, in_message: str
) -> None:
    world = World(runfakes.FakeExecutor(result("never")))
    step = await reconcile.reconcile(make_run(spec=spec), world.deps())
    assert world.executor.calls == []
    assert world.writer.writes == []
    assert step.status["phase"] == "Failed"
    assert conds(step.status) == [("Ready", "False", reason), ("Stalled", "True", reason)]
    assert in_message in message(step.status)
    assert step.status["error"] == {"reason": reason, "message": message(step.status)}
    assert step.status["completionTime"] == T
    assert "startedAttempt" not in step.status
    assert [(e.type, e.reason, e.message) for e in step.events] == [("Warning", reason, message(step.status))]
    assert step.finished
    assert step.outcome == reconcile.Outcome(reconcile.servicerun.Phase.FAILED, reason, None)


async def test_every_validation_problem_is_listed_at_once() -> None:
    world = World(runfakes.FakeExecutor(result("never")))
    run = make_run(spec={"config": {"tone": "loud", "count": 1.5}})
    step = await reconcile.reconcile(run, world.deps())
    assert message(step.status) == (
        'the config does not match the catalog entry of "eca::send_welcome_email": '
        'config key "user_id" is required (User ID: The numeric user ID.) but not set; '
        "config key \"tone\": 'loud' is not one of the options warm (Warm), formal (Formal); "
        'config key "count" must be an integer (catalog type "integer"), not 1.5. '
        "Fix spec.config or spec.configFrom in a new ServiceRun (the spec is immutable). "
        "Execute was not called."
    )


async def test_a_missing_service_refreshes_an_old_catalog_once_before_refusing() -> None:
    refreshed = runfakes.services([*runfakes.CATALOG, {"id": "eca::new", "config": []}])
    site = runfakes.FakeSite(runfakes.FakeExecutor(result("ok")), refreshed=refreshed)
    world = World(site.client, site=site)
    step = await reconcile.reconcile(make_run(serviceId="eca::new", config={}), world.deps())
    assert site.catalog_calls == [None, reconcile.MISSING_SERVICE_REFRESH]
    assert step.status["phase"] == "Succeeded"


async def test_unknown_keys_warn_by_default_and_execute() -> None:
    world = World(runfakes.FakeExecutor(result("ok")))
    step = await reconcile.reconcile(make_run(config={"user_id": "1", "user": "x"}), world.deps())
    assert world.executor.calls == [("eca::send_welcome_email", {"user_id": "1", "user": "x"}, 60.0)]
    assert step.status["phase"] == "Succeeded"
    assert [(e.type, e.reason, e.message) for e in step.events] == [
        (
            "Warning",
            "UnknownConfigKeys",
            'config key "user" is not declared by the service; did you mean "user_id"?; executing anyway '
            "(unknownKeys: Warn)",
        ),
        ("Normal", "Succeeded", message(step.status)),
    ]


# --- configFrom ------------------------------------------------------------------------------------------


async def test_config_from_secrets_and_configmaps_is_merged_over_config() -> None:
    sources = runfakes.FakeSources(
        secrets={"creds": {"uid": b"7"}},
        configmaps={"settings": {"tone": "formal", "count": "3"}},
    )
    world = World(runfakes.FakeExecutor(result("ok")), sources=sources)
    config_from = [
        {"key": "user_id", "secretKeyRef": {"name": "creds", "key": "uid"}},
        {"key": "tone", "configMapKeyRef": {"name": "settings", "key": "tone"}},
        {"key": "count", "configMapKeyRef": {"name": "settings", "key": "count"}, "format": "JSON"},
    ]
    step = await reconcile.reconcile(make_run(configFrom=config_from), world.deps())
    assert world.executor.calls == [
        ("eca::send_welcome_email", {"user_id": "7", "tone": "formal", "count": 3}, 60.0)
    ]
    assert sources.reads == [("Secret", "creds"), ("ConfigMap", "settings")]  # each object read once
    assert step.status["phase"] == "Succeeded"


async def test_a_secret_value_is_never_shown_in_a_validation_message() -> None:
    sources = runfakes.FakeSources(secrets={"creds": {"tone": b"hunter2"}})
    world = World(runfakes.FakeExecutor(result("ok")), sources=sources)
    config_from = [{"key": "tone", "secretKeyRef": {"name": "creds", "key": "tone"}}]
    step = await reconcile.reconcile(make_run(configFrom=config_from), world.deps())
    assert "hunter2" not in json.dumps(step.status)
    assert (
        'config key "tone": the value is not one of the options warm (Warm), formal (Formal) (from Secret '
        in (message(step.status))
    )


@pytest.mark.parametrize(
    ("sources", "source", "reason", "text"),
    [
        (
            {},
            {"secretKeyRef": {"name": "creds", "key": "uid"}},
            "SecretNotFound",
            'Secret "creds" (spec.configFrom) not found in namespace "team"; waiting for it',
        ),
        (
            {"secrets": {"creds": {}}},
            {"secretKeyRef": {"name": "creds", "key": "uid"}},
            "SecretNotFound",
            'Secret "creds" (spec.configFrom) has no key "uid"; waiting for it',
        ),
        (
            {},
            {"configMapKeyRef": {"name": "settings", "key": "uid"}},
            "ConfigMapNotFound",
            'ConfigMap "settings" (spec.configFrom) not found in namespace "team"; waiting for it',
        ),
        (
            {"configmaps": {"settings": {}}},
            {"configMapKeyRef": {"name": "settings", "key": "uid"}},
            "ConfigMapNotFound",
            'ConfigMap "settings" (spec.configFrom) has no key "uid" in data; waiting for it',
        ),
    ],
)
async def test_a_missing_config_source_makes_the_run_wait(
    sources: dict[str, Any], source: dict[str, Any], reason: str, text: str
) -> None:
    world = World(runfakes.FakeExecutor(result("never")), sources=runfakes.FakeSources(**sources))
    step = await reconcile.reconcile(make_run(configFrom=[{"key": "user_id", **source}]), world.deps())
    assert world.executor.calls == []
    assert world.writer.writes == []
    assert step.status["phase"] == "Pending"
    assert conds(step.status) == [("Ready", "False", reason), ("Reconciling", "True", reason)]
    assert message(step.status) == text + " (the run waits; nothing was called)"
    assert step.retry_after == reconcile.WAIT_INITIAL
    assert not step.finished


@pytest.mark.parametrize(
    ("data", "value_format", "text"),
    [
        (
            b"{not json",
            "JSON",
            'config key "user_id": Secret "creds" key "uid" is not valid JSON (format: JSON; ',
        ),
        (b"\xff\xfe", "Text", 'Secret "creds" key "uid" is not UTF-8 text'),
    ],
)
async def test_an_unusable_config_source_fails_the_run(data: bytes, value_format: str, text: str) -> None:
    sources = runfakes.FakeSources(secrets={"creds": {"uid": data}})
    world = World(runfakes.FakeExecutor(result("never")), sources=sources)
    source = {"key": "user_id", "secretKeyRef": {"name": "creds", "key": "uid"}, "format": value_format}
    step = await reconcile.reconcile(make_run(configFrom=[source]), world.deps())
    assert world.executor.calls == []
    assert conds(step.status) == [
        ("Ready", "False", "ValidationFailed"),
        ("Stalled", "True", "ValidationFailed"),
    ]
    assert text in message(step.status)
    assert "{not json" not in message(step.status)


# --- waiting for the connection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry", "delay"),
    [(0, 2.0), (1, 4.0), (2, 8.0), (3, 16.0), (4, 30.0), (50, 30.0)],
)
async def test_a_connection_that_is_down_leaves_the_run_pending(retry: int, delay: float) -> None:
    unavailable = reconcile.Unavailable(
        "ConnectionNotReady", 'OrchestrationConnection "site" is not Ready: Unreachable: connection refused'
    )
    world = World(runfakes.FakeExecutor(result("never")), unavailable=unavailable)
    step = await reconcile.reconcile(make_run(kopf_retry=retry), world.deps())
    assert world.executor.calls == []
    assert world.writer.writes == []
    assert step.status == {
        "executionId": EXECUTION,
        "observedGeneration": 1,
        "phase": "Pending",
        "conditions": step.status["conditions"],
    }
    assert conds(step.status) == [
        ("Ready", "False", "ConnectionNotReady"),
        ("Reconciling", "True", "ConnectionNotReady"),
    ]
    assert message(step.status) == (
        'OrchestrationConnection "site" is not Ready: Unreachable: connection refused '
        "(the run waits; nothing was called)"
    )
    assert step.retry_after == delay
    assert step.retry_message == "waiting (ConnectionNotReady)"
    assert (step.waiting, step.connection) == (True, "site")


async def test_waiting_again_for_the_same_reason_writes_nothing() -> None:
    unavailable = reconcile.Unavailable("ConnectionNotReady", 'OrchestrationConnection "site" is not Ready')
    world = World(runfakes.FakeExecutor(result("never")), unavailable=unavailable)
    first = await reconcile.reconcile(make_run(), world.deps())
    later = make_run(status={**first.status}, kopf_retry=1)
    again = await reconcile.reconcile(later, world.deps())
    assert again.status == {}
    assert (again.waiting, again.retry_after) == (True, 4.0)


async def test_a_catalog_that_cannot_be_fetched_leaves_the_run_pending() -> None:
    executor = runfakes.FakeExecutor(result("never"))
    site = runfakes.FakeSite(executor, catalog_error=client.ConnectError("list_services: connection refused"))
    world = World(executor, site=site)
    step = await reconcile.reconcile(make_run(), world.deps())
    assert executor.calls == []
    assert conds(step.status)[1] == ("Reconciling", "True", "ConnectionNotReady")
    assert message(step.status).startswith(
        "the service catalog could not be fetched (Unreachable): list_services: connection refused"
    )


# --- at most once ----------------------------------------------------------------------------------------

IN_FLIGHT = {
    "executionId": EXECUTION,
    "phase": "Running",
    "startTime": "2025-05-01T11:58:00Z",
    "startedAttempt": 1,
    "attempts": 0,
    "conditions": [
        {"type": "Reconciling", "status": "True", "reason": "Executing", "lastTransitionTime": T},
        {"type": "Ready", "status": "Unknown", "reason": "Executing", "lastTransitionTime": T},
    ],
}


async def test_a_call_found_started_without_an_outcome_ends_unknown_without_calling() -> None:
    world = World(runfakes.FakeExecutor(result("never")))
    step = await reconcile.reconcile(make_run(status=IN_FLIGHT), world.deps())
    assert world.executor.calls == []
    assert world.writer.writes == []
    assert step.status["phase"] == "Unknown"
    assert (step.status.get("startedAttempt", 1), step.status["attempts"]) == (1, 1)
    assert conds(step.status) == [("Ready", "False", "OutcomeUnknown"), ("Stalled", "True", "OutcomeUnknown")]
    assert message(step.status).startswith(
        "execute call 1 was recorded as started (execution started 2025-05-01T11:58:00Z) but its outcome "
        "never was: the operator stopped during the call."
    )
    assert step.status["error"]["reason"] == "OutcomeUnknown"
    assert step.finished
    assert [(e.type, e.reason) for e in step.events] == [("Warning", "OutcomeUnknown")]


async def test_a_call_found_started_is_retried_when_opted_in() -> None:
    world = World(runfakes.FakeExecutor(result("ok")))
    step = await reconcile.reconcile(
        make_run(status=IN_FLIGHT, retry={"unknownOutcome": "Retry"}), world.deps()
    )
    written = world.writer.writes[0][0]
    assert (written["startedAttempt"], written["attempts"]) == (2, 1)
    assert "startTime" not in written
    assert len(world.executor.calls) == 1
    assert (step.status["phase"], step.status["attempts"]) == ("Succeeded", 2)


async def test_a_stale_body_replays_the_outcome_this_process_recorded() -> None:
    world = World(runfakes.FakeExecutor(result({"n": 1})))
    first = await reconcile.reconcile(make_run(), world.deps())
    # kopf hands over an older copy of the run: the start marker without the outcome.
    step = await reconcile.reconcile(make_run(status=IN_FLIGHT), world.deps())
    assert len(world.executor.calls) == 1
    assert len(world.writer.writes) == 1
    assert step.status == first.status
    assert step.outcome is None  # reported once
    assert step.events == ()


async def test_a_finished_run_is_left_alone() -> None:
    world = World(runfakes.FakeExecutor(result("never")))
    status = {"phase": "Succeeded", "completionTime": T, "executionId": EXECUTION, "attempts": 1}
    status["startedAttempt"] = 1
    step = await reconcile.reconcile(make_run(status=status, ttlSecondsAfterFinished=30), world.deps())
    assert step == reconcile.Step(expires_at=NOW + datetime.timedelta(seconds=30), finished=True)
    assert world.executor.calls == []
    assert world.connections_asked == []


async def test_the_start_marker_is_a_claim_a_newer_run_version_wins() -> None:
    world = World(
        runfakes.FakeExecutor(result("never")), writer=runfakes.FakeWriter(error=reconcile.StartConflict())
    )
    step = await reconcile.reconcile(make_run(), world.deps())
    assert world.executor.calls == []
    assert step.status == {}
    assert step.retry_after == reconcile.CONFLICT_DELAY


async def test_a_run_deleted_before_its_start_is_not_executed() -> None:
    world = World(
        runfakes.FakeExecutor(result("never")), writer=runfakes.FakeWriter(error=reconcile.RunGone())
    )
    step = await reconcile.reconcile(make_run(), world.deps())
    assert world.executor.calls == []
    assert step == reconcile.Step()


async def test_a_status_that_cannot_be_read_is_never_executed() -> None:
    world = World(runfakes.FakeExecutor(result("never")))
    step = await reconcile.reconcile(make_run(status={"startedAttempt": "many"}), world.deps())
    assert world.executor.calls == []
    assert step.status["phase"] == "Unknown"
    assert conds(step.status) == [("Ready", "False", "OutcomeUnknown"), ("Stalled", "True", "OutcomeUnknown")]


async def test_an_invalid_spec_with_a_call_in_flight_ends_unknown() -> None:
    world = World(runfakes.FakeExecutor(result("never")))
    step = await reconcile.reconcile(make_run(status=IN_FLIGHT, timeout="forever"), world.deps())
    assert step.status["phase"] == "Unknown"


# --- rerun ----------------------------------------------------------------------------------------------

DONE = {
    "executionId": EXECUTION,
    "phase": "Succeeded",
    "startTime": T,
    "completionTime": T,
    "startedAttempt": 1,
    "attempts": 1,
    "result": "first",
    "resultBytes": 7,
    "resultDigest": "sha256:abc",
    "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded", "lastTransitionTime": T}],
}


async def test_a_new_rerun_value_executes_once_more_from_a_clean_slate() -> None:
    world = World(runfakes.FakeExecutor(result("second")))
    step = await reconcile.reconcile(make_run(status=DONE, rerun="2025-05-01"), world.deps())
    execution = reconcile.execution_id(UID, "2025-05-01")
    assert execution != EXECUTION
    written = world.writer.writes[0][0]
    assert without_conditions(written) == marker(
        executionId=execution,
        rerun="2025-05-01",
        completionTime=None,
        result=None,
        resultRef=None,
        resultTruncated=False,
        resultBytes=None,
        resultDigest=None,
    )
    assert conds(written) == [("Ready", "Unknown", "Executing"), ("Reconciling", "True", "Executing")]
    assert (step.status["rerun"], step.status["result"], step.status["attempts"]) == (
        "2025-05-01",
        "second",
        1,
    )


async def test_the_same_rerun_value_never_executes_twice() -> None:
    world = World(runfakes.FakeExecutor(result("never")))
    status = DONE | {"rerun": "again", "executionId": reconcile.execution_id(UID, "again")}
    step = await reconcile.reconcile(make_run(status=status, rerun="again"), world.deps())
    assert world.executor.calls == []
    assert step == reconcile.Step(finished=True)


async def test_a_rerun_over_a_call_lost_in_flight_warns_and_executes() -> None:
    world = World(runfakes.FakeExecutor(result("ok")))
    step = await reconcile.reconcile(make_run(status=IN_FLIGHT, rerun="x"), world.deps())
    assert len(world.executor.calls) == 1
    assert step.status["phase"] == "Succeeded"
    assert [(e.type, e.reason) for e in step.events] == [
        ("Warning", "OutcomeUnknown"),
        ("Normal", "Succeeded"),
    ]
    assert "Starting the execution for drupal-orchestration.io/rerun='x'" in step.events[0].message


async def test_a_validation_failure_records_the_rerun_value_it_answers() -> None:
    world = World(runfakes.FakeExecutor(result("never")))
    step = await reconcile.reconcile(make_run(status=DONE, rerun="r2", config={}), world.deps())
    assert (step.status["phase"], step.status["rerun"]) == ("Failed", "r2")
    assert step.status["result"] is None  # the previous execution's result is cleared


# --- bounds ----------------------------------------------------------------------------------------------


async def test_start_markers_without_outcome_stay_within_the_bound_plus_headroom() -> None:
    executor = runfakes.FakeExecutor(result("ok"), delay=0.01)
    site = runfakes.FakeSite(executor, limit=4)
    world = World(executor, site=site, gates=runstate.Gates(headroom=lambda limit: 2))
    outstanding = 0
    peak = 0

    class CountingWriter(runfakes.FakeWriter):
        async def write_start(self, status: Any, *, resource_version: str | None) -> None:
            nonlocal outstanding, peak
            outstanding += 1
            peak = max(peak, outstanding)

    world.writer = CountingWriter()

    async def one(i: int) -> None:
        nonlocal outstanding
        run = make_run(name=f"run-{i}")
        run = reconcile.Run(**{**run.__dict__, "uid": f"uid-{i}"})
        step = await reconcile.reconcile(run, world.deps())
        outstanding -= 1
        assert step.status["phase"] == "Succeeded"

    await asyncio.gather(*(one(i) for i in range(30)))
    assert peak == 6
    assert len(executor.calls) == 30


def test_the_ledger_forgets_after_a_while_and_beyond_its_size() -> None:
    now = [0.0]
    ledger = runstate.Ledger(keep_seconds=10, max_entries=3, clock=lambda: now[0])
    ledger.started(("a", "e", 1))
    ledger.finished(("a", "e", 1), "done")
    assert ledger.lookup(("a", "e", 1)) is not None
    now[0] = 11
    assert ledger.lookup(("a", "e", 1)) is None
    for i in range(5):
        ledger.started(("b", "e", i))
    assert len(ledger) == 3
    assert ledger.lookup(("b", "e", 0)) is None
    assert ledger.lookup(("b", "e", 4)) is not None


def test_gates_follow_the_sites_bound() -> None:
    gates = runstate.Gates()
    first = gates.gate(("ns", "a"), 20)
    assert gates.gate(("ns", "a"), 20) is first
    assert first._value == 30  # 20 slots + 10 headroom
    assert gates.gate(("ns", "a"), 4) is not first
    assert gates.gate(("ns", "a"), 4)._value == 6


def test_execution_ids_are_stable_per_rerun_value() -> None:
    assert reconcile.execution_id("u", None) == reconcile.execution_id("u", "")
    assert reconcile.execution_id("u", "a") != reconcile.execution_id("u", "b")
    assert reconcile.execution_id("u", "a") != reconcile.execution_id("v", "a")
    assert len(reconcile.execution_id("u", None)) == 16


def test_reprs_never_show_results() -> None:
    step = reconcile.Step(status={"result": "secret-value"})
    assert "secret-value" not in repr(step)
    assert names.RERUN_ANNOTATION == "drupal-orchestration.io/rerun"
