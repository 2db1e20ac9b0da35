"""The spec models against tables of valid and invalid specs, each checked against the CRD as well.

Every row runs twice: through the pydantic model (the exact ``InvalidSpec`` message the operator would
show) and through the generated CRD (defaults, OpenAPI constraints and CEL rules, see ``crdcheck``), so
the two can only drift with a failing test.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
from typing import Any

import pydantic
import pytest

from orchestration_operator.api import (
    connection,
    crdgen,
    eventpoll,
    kinds,
    names,
    servicerun,
    validation,
    webhook,
)

from . import crdcheck

MINIMAL: dict[str, dict[str, Any]] = {
    "OrchestrationConnection": {
        "url": "http://127.0.0.1:8081",
        "auth": {"basic": {"secretRef": {"name": "drupal-credentials"}}},
    },
    "OrchestrationWebhook": {"connectionRef": {"name": "demo"}, "url": "https://hooks.example.com/x"},
    "ServiceRun": {"connectionRef": {"name": "demo"}, "serviceId": "eca::send_welcome_email"},
    "EventPoll": {
        "connectionRef": {"name": "demo"},
        "name": "user_registered",
        "mode": "timestamp",
        "sinks": [{"name": "inspect", "configMap": {"name": "events"}}],
    },
}

_DELETE = object()


def spec(kind: str, **changes: Any) -> dict[str, Any]:
    """The minimal spec of ``kind`` with top-level keys replaced (``_DELETE`` removes one)."""
    result = {**MINIMAL[kind], **changes}
    return {key: value for key, value in result.items() if value is not _DELETE}


@functools.cache
def schema(kind: str) -> dict[str, Any]:
    return crdcheck.spec_schema(crdgen.crd(kinds.by_kind(kind)))


def drop_empty(value: Any) -> Any:
    """Empty lists and objects removed: the model writes ``config: {}``, the CRD leaves it absent."""
    if isinstance(value, dict):
        pruned = {key: drop_empty(child) for key, child in value.items()}
        return {key: child for key, child in pruned.items() if child not in ({}, [])}
    if isinstance(value, list):
        return [drop_empty(item) for item in value]
    return value


# --- Valid specs -------------------------------------------------------------------------------------

SECRET_URL = {"secretKeyRef": {"name": "hook", "key": "url"}}
VALID = [
    pytest.param("OrchestrationConnection", spec("OrchestrationConnection"), id="connection-minimal"),
    pytest.param(
        "OrchestrationConnection",
        spec(
            "OrchestrationConnection",
            url="https://example.com/drupal/",
            auth={"login": {"secretRef": {"name": "s", "usernameKey": "user", "passwordKey": "pass"}}},
            tls={"caSecretRef": {"name": "site-ca"}},
            timeout="1m30s",
            maxConcurrentRequests=20,
            catalogRefreshInterval="10m",
            probeInterval="30s",
        ),
        id="connection-full",
    ),
    pytest.param(
        "OrchestrationConnection",
        spec("OrchestrationConnection", auth={"session": {"secretRef": {"name": "cookie"}}}),
        id="connection-session",
    ),
    pytest.param(
        "OrchestrationConnection",
        spec("OrchestrationConnection", tls={"insecureSkipVerify": True}),
        id="connection-insecure",
    ),
    pytest.param("OrchestrationWebhook", spec("OrchestrationWebhook"), id="webhook-minimal"),
    pytest.param(
        "OrchestrationWebhook",
        spec(
            "OrchestrationWebhook",
            url=_DELETE,
            urlFrom=SECRET_URL,
            webhookId="My_Hook 1",
            deletionPolicy="Orphan",
            resyncInterval="1h",
            unregisterAttempts=3,
            unregisterTimeout="30s",
        ),
        id="webhook-full",
    ),
    pytest.param("ServiceRun", spec("ServiceRun"), id="servicerun-minimal"),
    pytest.param(
        "ServiceRun", spec("ServiceRun", serviceId="tool::entity:load"), id="servicerun-colon-in-service"
    ),
    pytest.param(
        "ServiceRun",
        spec(
            "ServiceRun",
            config={"user_id": "42", "nested": {"a": [1, 2, {"b": None}]}, "flag": True},
            configFrom=[
                {"key": "token", "secretKeyRef": {"name": "api", "key": "token"}},
                {"key": "options", "configMapKeyRef": {"name": "opts", "key": "json"}, "format": "JSON"},
            ],
            timeout="5m",
            retry={"maxAttempts": 5, "backoff": {"initialInterval": "500ms"}, "unknownOutcome": "Retry"},
            result={"maxStatusBytes": 0, "sensitive": True},
            unknownKeys="Refuse",
            ttlSecondsAfterFinished=0,
        ),
        id="servicerun-full",
    ),
    pytest.param("EventPoll", spec("EventPoll"), id="eventpoll-minimal"),
    pytest.param(
        "EventPoll",
        spec(
            "EventPoll",
            mode="id",
            interval="5s",
            startFrom={"id": "1200"},
            suspend=True,
            sinks=[
                {
                    "name": "platform",
                    "http": {
                        "urlFrom": SECRET_URL,
                        "mode": "binary",
                        "headersFrom": {"secretRef": {"name": "platform-headers"}},
                        "timeout": "30s",
                        "retry": {
                            "maxAttempts": 10,
                            "backoff": {"initialInterval": "2s", "maxInterval": "5m"},
                        },
                    },
                },
                {"name": "inspect", "configMap": {"name": "events", "maxEvents": 10}},
            ],
        ),
        id="eventpoll-full",
    ),
    pytest.param(
        "EventPoll", spec("EventPoll", startFrom={"timestamp": 1748000000}), id="eventpoll-start-timestamp"
    ),
    pytest.param(
        "EventPoll", spec("EventPoll", startFrom={"position": "beginning"}), id="eventpoll-beginning"
    ),
]


@pytest.mark.parametrize(("kind", "raw"), VALID)
def test_valid_spec_parses_and_the_crd_agrees_on_defaults(kind: str, raw: dict[str, Any]) -> None:
    model = validation.parse_spec(kinds.by_kind(kind).spec, raw)
    defaulted = crdcheck.default(schema(kind), raw)
    assert crdcheck.errors(schema(kind), defaulted) == []
    # What the API server stores (CRD defaults applied) is what the model means, field for field.
    assert drop_empty(model.to_dict()) == drop_empty(defaulted)
    # And the model parses the stored form back to itself.
    assert validation.parse_spec(kinds.by_kind(kind).spec, defaulted) == model


# --- Invalid specs -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Bad:
    kind: str
    raw: dict[str, Any]
    errors: tuple[str, ...]  # exactly what the model says (the InvalidSpec message, one line per problem)
    crd: tuple[str, ...]  # what the CRD says (crdcheck's wording for schema errors, the CEL message)


SERVICE_ID = "must be <provider>::<service> with a double colon, for example eca::send_welcome_email"
BASE_URL = (
    "must be an http:// or https:// URL without query or fragment, for example https://www.example.com or "
    "https://example.com/drupal"
)
ONE_AUTH = "set exactly one of basic, session or login"
ONE_URL = "set exactly one of url or urlFrom"
TLS_BOTH = "insecureSkipVerify and caSecretRef exclude each other: trust a CA or skip verification"
DURATION_HINT = "use a number with a unit (ms, s, m or h), for example 30s, 5m or 1h30m"
TS_NEEDS_MODE = "startFrom.timestamp needs mode: timestamp (use startFrom.id with mode: id)"
ID_NEEDS_MODE = "startFrom.id needs mode: id (use startFrom.timestamp with mode: timestamp)"
ONE_START = "set exactly one of position, timestamp or id"
WEBHOOK_ID = (
    "must contain a letter or digit (Drupal stores a webhook under Html::getId(webhookId), which keeps only "
    "letters, digits, '-' and '_')"
)
C, W, S, E = "OrchestrationConnection", "OrchestrationWebhook", "ServiceRun", "EventPoll"

INVALID = {
    # OrchestrationConnection
    "connection-url-scheme": Bad(
        C, spec(C, url="ftp://example.com"), (f"spec.url: {BASE_URL}",), ("spec.url: pattern",)
    ),
    "connection-url-query": Bad(
        C, spec(C, url="https://example.com/?q=1"), (f"spec.url: {BASE_URL}",), ("spec.url: pattern",)
    ),
    "connection-url-missing": Bad(
        C, spec(C, url=_DELETE), ("spec.url: required field is missing",), ("spec.url: required",)
    ),
    "connection-no-auth": Bad(C, spec(C, auth={}), (f"spec.auth: {ONE_AUTH}",), (f"spec.auth: {ONE_AUTH}",)),
    "connection-two-auths": Bad(
        C,
        spec(C, auth={"basic": {"secretRef": {"name": "a"}}, "login": {"secretRef": {"name": "a"}}}),
        (f"spec.auth: {ONE_AUTH}",),
        (f"spec.auth: {ONE_AUTH}",),
    ),
    "connection-auth-without-secret": Bad(
        C,
        spec(C, auth={"basic": {}}),
        ("spec.auth.basic.secretRef: required field is missing",),
        ("spec.auth.basic.secretRef: required",),
    ),
    "connection-secret-name": Bad(
        C,
        spec(C, auth={"basic": {"secretRef": {"name": "Drupal_Creds"}}}),
        (
            "spec.auth.basic.secretRef.name: must be a Kubernetes object name: lower-case letters, digits, "
            "'-' and '.', starting and ending with a letter or digit",
        ),
        ("spec.auth.basic.secretRef.name: pattern",),
    ),
    "connection-tls-both": Bad(
        C,
        spec(C, tls={"insecureSkipVerify": True, "caSecretRef": {"name": "ca"}}),
        (f"spec.tls: {TLS_BOTH}",),
        (f"spec.tls: {TLS_BOTH}",),
    ),
    "connection-timeout-zero": Bad(
        C,
        spec(C, timeout="0s"),
        ("spec.timeout: must be at least 1s",),
        ("spec.timeout: must be at least 1s",),
    ),
    "connection-timeout-words": Bad(
        C,
        spec(C, timeout="5 minutes"),
        (f"spec.timeout: invalid duration '5 minutes': {DURATION_HINT}",),
        # The API server reports the pattern, and CEL's duration() fails on the same string.
        ("spec.timeout: pattern", "spec.timeout: must be at least 1s", "spec.timeout: must be at most 10m"),
    ),
    "connection-concurrency-zero": Bad(
        C,
        spec(C, maxConcurrentRequests=0),
        ("spec.maxConcurrentRequests: Input should be greater than or equal to 1",),
        ("spec.maxConcurrentRequests: minimum",),
    ),
    "connection-typo": Bad(
        C, spec(C, timeOut="30s"), ("spec.timeOut: unknown field",), ("spec.timeOut: unknown field",)
    ),
    # OrchestrationWebhook
    "webhook-no-url": Bad(W, spec(W, url=_DELETE), (f"spec: {ONE_URL}",), (f"spec: {ONE_URL}",)),
    "webhook-two-urls": Bad(W, spec(W, urlFrom=SECRET_URL), (f"spec: {ONE_URL}",), (f"spec: {ONE_URL}",)),
    "webhook-url-no-scheme": Bad(
        W,
        spec(W, url="hooks.example.com/x"),
        ("spec.url: must be an http:// or https:// URL",),
        ("spec.url: pattern",),
    ),
    "webhook-id-no-alnum": Bad(
        W, spec(W, webhookId="__"), (f"spec.webhookId: {WEBHOOK_ID}",), ("spec.webhookId: pattern",)
    ),
    "webhook-policy-case": Bad(
        W,
        spec(W, deletionPolicy="delete"),
        ("spec.deletionPolicy: Input should be 'Delete' or 'Orphan'",),
        ("spec.deletionPolicy: enum",),
    ),
    "webhook-resync-too-often": Bad(
        W,
        spec(W, resyncInterval="10s"),
        ("spec.resyncInterval: must be at least 30s",),
        ("spec.resyncInterval: must be at least 30s",),
    ),
    "webhook-unregister-attempts": Bad(
        W,
        spec(W, unregisterAttempts=0),
        ("spec.unregisterAttempts: Input should be greater than or equal to 1",),
        ("spec.unregisterAttempts: minimum",),
    ),
    # ServiceRun
    "servicerun-single-colon": Bad(
        S,
        spec(S, serviceId="eca:send_welcome_email"),
        (f"spec.serviceId: {SERVICE_ID}",),
        ("spec.serviceId: pattern", f"spec.serviceId: {SERVICE_ID}"),
    ),
    "servicerun-empty-service": Bad(
        S, spec(S, serviceId="eca::"), (f"spec.serviceId: {SERVICE_ID}",), ("spec.serviceId: pattern",)
    ),
    "servicerun-empty-provider": Bad(
        S, spec(S, serviceId="::foo"), (f"spec.serviceId: {SERVICE_ID}",), ("spec.serviceId: pattern",)
    ),
    "servicerun-no-connection": Bad(
        S,
        spec(S, connectionRef=_DELETE),
        ("spec.connectionRef: required field is missing",),
        ("spec.connectionRef: required",),
    ),
    "servicerun-config-not-object": Bad(
        S,
        spec(S, config=["user_id", "42"]),
        ("spec.config: Input should be a valid dictionary",),
        ("spec.config: type object",),
    ),
    "servicerun-config-source-both": Bad(
        S,
        spec(
            S,
            configFrom=[
                {
                    "key": "token",
                    "secretKeyRef": {"name": "a", "key": "b"},
                    "configMapKeyRef": {"name": "a", "key": "b"},
                }
            ],
        ),
        ("spec.configFrom[0]: set exactly one of secretKeyRef or configMapKeyRef",),
        ("spec.configFrom[0]: set exactly one of secretKeyRef or configMapKeyRef",),
    ),
    "servicerun-config-source-duplicate": Bad(
        S,
        spec(
            S,
            configFrom=[
                {"key": "token", "secretKeyRef": {"name": "a", "key": "b"}},
                {"key": "token", "configMapKeyRef": {"name": "a", "key": "b"}},
            ],
        ),
        ("spec.configFrom: key 'token' appears more than once",),
        ("spec.configFrom: duplicate map key",),
    ),
    "servicerun-unknown-outcome-case": Bad(
        S,
        spec(S, retry={"unknownOutcome": "retry"}),
        ("spec.retry.unknownOutcome: Input should be 'Stop' or 'Retry'",),
        ("spec.retry.unknownOutcome: enum",),
    ),
    "servicerun-backoff-order": Bad(
        S,
        spec(S, retry={"backoff": {"initialInterval": "2m", "maxInterval": "1m"}}),
        ("spec.retry.backoff: initialInterval must not be longer than maxInterval",),
        ("spec.retry.backoff: initialInterval must not be longer than maxInterval",),
    ),
    "servicerun-result-too-big": Bad(
        S,
        spec(S, result={"maxStatusBytes": 100000}),
        ("spec.result.maxStatusBytes: Input should be less than or equal to 32768",),
        ("spec.result.maxStatusBytes: maximum",),
    ),
    "servicerun-unknown-keys": Bad(
        S,
        spec(S, unknownKeys="Ignore"),
        ("spec.unknownKeys: Input should be 'Warn' or 'Refuse'",),
        ("spec.unknownKeys: enum",),
    ),
    "servicerun-ttl-negative": Bad(
        S,
        spec(S, ttlSecondsAfterFinished=-1),
        ("spec.ttlSecondsAfterFinished: Input should be greater than or equal to 0",),
        ("spec.ttlSecondsAfterFinished: minimum",),
    ),
    "servicerun-several-problems": Bad(
        S,
        spec(S, serviceId="eca:x", timeout="2h", retry={"maxAttempts": 21}),
        (
            f"spec.serviceId: {SERVICE_ID}",
            "spec.timeout: must be at most 1h",
            "spec.retry.maxAttempts: Input should be less than or equal to 20",
        ),
        (
            "spec.serviceId: pattern",
            f"spec.serviceId: {SERVICE_ID}",
            "spec.timeout: must be at most 1h",
            "spec.retry.maxAttempts: maximum",
        ),
    ),
    # EventPoll
    "eventpoll-no-mode": Bad(
        E, spec(E, mode=_DELETE), ("spec.mode: required field is missing",), ("spec.mode: required",)
    ),
    "eventpoll-mode-value": Bad(
        E,
        spec(E, mode="Timestamp"),
        ("spec.mode: Input should be 'timestamp' or 'id'",),
        ("spec.mode: enum",),
    ),
    "eventpoll-timestamp-start-in-id-mode": Bad(
        E,
        spec(E, mode="id", startFrom={"timestamp": 5}),
        (f"spec: {TS_NEEDS_MODE}",),
        (f"spec: {TS_NEEDS_MODE}",),
    ),
    "eventpoll-id-start-in-timestamp-mode": Bad(
        E, spec(E, startFrom={"id": "5"}), (f"spec: {ID_NEEDS_MODE}",), (f"spec: {ID_NEEDS_MODE}",)
    ),
    "eventpoll-empty-start": Bad(
        E, spec(E, startFrom={}), (f"spec.startFrom: {ONE_START}",), (f"spec.startFrom: {ONE_START}",)
    ),
    "eventpoll-two-starts": Bad(
        E,
        spec(E, startFrom={"position": "now", "timestamp": 1}),
        (f"spec.startFrom: {ONE_START}",),
        (f"spec.startFrom: {ONE_START}",),
    ),
    "eventpoll-negative-timestamp": Bad(
        E,
        spec(E, startFrom={"timestamp": -1}),
        ("spec.startFrom.timestamp: Input should be greater than or equal to 0",),
        ("spec.startFrom.timestamp: minimum",),
    ),
    "eventpoll-no-sinks": Bad(
        E,
        spec(E, sinks=[]),
        ("spec.sinks: List should have at least 1 item after validation, not 0",),
        ("spec.sinks: minItems",),
    ),
    "eventpoll-sink-both-kinds": Bad(
        E,
        spec(E, sinks=[{"name": "a", "configMap": {"name": "e"}, "http": {"url": "http://x"}}]),
        ("spec.sinks[0]: set exactly one of http or configMap",),
        ("spec.sinks[0]: set exactly one of http or configMap",),
    ),
    "eventpoll-sink-duplicate-name": Bad(
        E,
        spec(E, sinks=[{"name": "a", "configMap": {"name": "e"}}, {"name": "a", "configMap": {"name": "f"}}]),
        ("spec.sinks: sink name 'a' appears more than once",),
        ("spec.sinks: duplicate map key",),
    ),
    "eventpoll-http-sink-two-urls": Bad(
        E,
        spec(E, sinks=[{"name": "a", "http": {"url": "http://x", "urlFrom": SECRET_URL}}]),
        (f"spec.sinks[0].http: {ONE_URL}",),
        (f"spec.sinks[0].http: {ONE_URL}",),
    ),
    "eventpoll-interval-too-short": Bad(
        E,
        spec(E, interval="500ms"),
        ("spec.interval: must be at least 1s",),
        ("spec.interval: must be at least 1s",),
    ),
    "eventpoll-ring-size": Bad(
        E,
        spec(E, sinks=[{"name": "a", "configMap": {"name": "e", "maxEvents": 0}}]),
        ("spec.sinks[0].configMap.maxEvents: Input should be greater than or equal to 1",),
        ("spec.sinks[0].configMap.maxEvents: minimum",),
    ),
    "eventpoll-poll-name-space": Bad(
        E,
        spec(E, name="user registered"),
        ("spec.name: must be a poll name without spaces",),
        ("spec.name: pattern",),
    ),
}


@pytest.mark.parametrize("case", list(INVALID.values()), ids=list(INVALID))
def test_invalid_spec_is_refused_by_model_and_crd(case: Bad) -> None:
    with pytest.raises(validation.InvalidSpecError) as info:
        validation.parse_spec(kinds.by_kind(case.kind).spec, case.raw)
    assert info.value.errors == case.errors
    assert info.value.message == "; ".join(case.errors)
    assert (
        tuple(crdcheck.errors(schema(case.kind), crdcheck.default(schema(case.kind), case.raw))) == case.crd
    )


# --- Transition rules (updates) ------------------------------------------------------------------------


def test_servicerun_spec_is_immutable() -> None:
    crd_schema = schema(S)
    old = crdcheck.default(crd_schema, spec(S, config={"user_id": "42"}))
    changed = crdcheck.default(crd_schema, spec(S, config={"user_id": "43"}))
    assert crdcheck.errors(crd_schema, old, old=old) == []
    assert crdcheck.errors(crd_schema, changed, old=old) == [
        "spec: spec is immutable; create a new ServiceRun or set the drupal-orchestration.io/rerun annotation"
    ]


def test_eventpoll_mode_is_immutable_but_the_rest_is_not() -> None:
    crd_schema = schema(E)
    old = crdcheck.default(crd_schema, spec(E))
    assert crdcheck.errors(crd_schema, {**old, "interval": "1m", "suspend": True}, old=old) == []
    assert crdcheck.errors(crd_schema, {**old, "mode": "id"}, old=old) == [
        "spec.mode: mode is immutable: the cursor's meaning depends on it; create a new EventPoll instead"
    ]


# --- Models in use -------------------------------------------------------------------------------------


def test_resource_parses_what_kopf_hands_over() -> None:
    body = {
        "apiVersion": names.API_VERSION,
        "kind": "ServiceRun",
        "metadata": {
            "name": "welcome-42",
            "namespace": "default",
            "generation": 1,
            "uid": "u-1",
            "annotations": {names.RERUN_ANNOTATION: "2"},
            "managedFields": [{"manager": "kubectl"}],
        },
        "spec": crdcheck.default(schema(S), spec(S, config={"user_id": "42"})),
        "status": {
            "phase": "Running",
            "startedAttempt": 1,
            "attempts": 0,
            "startTime": "2025-05-01T12:00:00Z",
            "futureField": "ignored",
        },
    }
    run = servicerun.ServiceRun.model_validate(body)
    assert run.metadata.annotations[names.RERUN_ANNOTATION] == "2"
    assert run.spec.config == {"user_id": "42"}
    assert run.spec.retry.unknown_outcome is servicerun.UnknownOutcome.STOP
    assert run.status.phase is servicerun.Phase.RUNNING
    assert run.status.in_flight
    assert run.status.start_time == datetime.datetime(2025, 5, 1, 12, tzinfo=datetime.UTC)


def test_status_dumps_camel_case_without_unset_fields() -> None:
    status = servicerun.ServiceRunStatus(
        phase=servicerun.Phase.SUCCEEDED,
        attempts=1,
        started_attempt=1,
        result="undefined",
        result_digest="sha256:00",
        completion_time=datetime.datetime(2025, 5, 1, 12, 0, 1, 999, tzinfo=datetime.UTC),
    )
    assert status.to_dict() == {
        "conditions": [],
        "phase": "Succeeded",
        "completionTime": "2025-05-01T12:00:01Z",
        "startedAttempt": 1,
        "attempts": 1,
        "result": "undefined",
        "resultTruncated": False,
        "resultDigest": "sha256:00",
    }
    assert not status.in_flight


@pytest.mark.parametrize(
    ("phase", "finished"),
    [("Pending", False), ("Running", False), ("Succeeded", True), ("Failed", True), ("Unknown", True)],
)
def test_phase_finished(phase: str, finished: bool) -> None:
    assert servicerun.Phase(phase).finished is finished


def test_auth_helpers() -> None:
    parsed = connection.OrchestrationConnectionSpec.model_validate(
        spec(C, auth={"session": {"secretRef": {"name": "cookie"}}})
    )
    assert (parsed.auth.method, parsed.auth.secret_name) == ("session", "cookie")
    assert parsed.auth.session is not None
    assert parsed.auth.session.secret_ref.cookie_key == "cookie"
    assert parsed.auth.session.secret_ref.csrf_token_key == "csrfToken"


@pytest.mark.parametrize(("webhook_id", "expected"), [(None, "from-name"), ("My_Hook", "My_Hook")])
def test_webhook_id_defaults_to_the_name(webhook_id: str | None, expected: str) -> None:
    parsed = webhook.OrchestrationWebhookSpec.model_validate(spec(W, webhookId=webhook_id))
    assert parsed.effective_webhook_id("from-name") == expected


def test_eventpoll_start_defaults_to_now() -> None:
    parsed = eventpoll.EventPollSpec.model_validate(spec(E))
    assert parsed.start_from == eventpoll.StartFrom(position=eventpoll.StartPosition.NOW)


def test_models_accept_python_names_and_are_frozen() -> None:
    parsed = servicerun.ServiceRunSpec(
        connection_ref={"name": "demo"},  # type: ignore[arg-type]
        service_id="eca::x",
        ttl_seconds_after_finished=60,
    )
    assert parsed.to_dict()["ttlSecondsAfterFinished"] == 60
    with pytest.raises(pydantic.ValidationError):
        parsed.service_id = "eca::y"  # type: ignore[misc]
