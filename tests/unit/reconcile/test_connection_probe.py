"""One probe of a Connection: the exact conditions per outcome, the delays, the events, and refused
credentials that are not sent again until they change."""

from __future__ import annotations

import datetime

import pytest
from reconcile_fakes import NOW, SERVICES, FakeSites, make_connection, triples

from orchestration_operator import client
from orchestration_operator.api import conditions, connection
from orchestration_operator.reconcile import connection as probe_
from orchestration_operator.reconcile import failures, sites

READY = ("Ready", "True", "Connected")


def not_ready(reason: str) -> set[tuple[str, str, str]]:
    return {("Ready", "False", reason), ("Reconciling", "True", reason)}


def stalled(reason: str) -> set[tuple[str, str, str]]:
    return {("Ready", "False", reason), ("Stalled", "True", reason)}


FAILURES = [
    (client.Unauthorized("401", status=401), stalled("Unauthorized"), 5.0),
    (client.Forbidden("403 ... use orchestration connect", status=403), stalled("Forbidden"), 5.0),
    (client.LoginFailed("login refused", status=403), stalled("Forbidden"), 5.0),
    (client.ConnectError("connection refused"), not_ready("Unreachable"), 2.0),
    (client.ConnectionLost("reset"), not_ready("Unreachable"), 2.0),
    (client.Timeout("slow", may_have_reached_server=True), not_ready("Timeout"), 2.0),
    (client.TLSError("bad cert", certificate_problem=True), not_ready("TLSError"), 2.0),
    (client.InvalidResponse("html", status=200), not_ready("InvalidResponse"), 2.0),
    (client.NotFound("404", status=404), not_ready("InvalidResponse"), 2.0),
    (client.RateLimited("429", status=429), not_ready("InvalidResponse"), 2.0),
    (client.ServerError("502", status=502), not_ready("ServerError"), 2.0),
    (client.ServiceFailed("500", error="boom"), not_ready("ServerError"), 2.0),
]


@pytest.mark.parametrize(("error", "expected", "delay"), FAILURES)
async def test_a_failed_probe_sets_precise_conditions(
    error: client.OrchestrationError, expected: set[tuple[str, str, str]], delay: float
) -> None:
    fakes = FakeSites()
    fakes.site().client.services = error
    conn = make_connection(ready=None)
    outcome = await probe_.probe(conn, sites_=fakes, memory=probe_.ProbeMemory(), now=NOW)
    assert triples(outcome.status.conditions) == expected
    assert outcome.delay == delay
    assert outcome.asked_site is True
    assert outcome.status.last_checked_time == NOW
    assert outcome.status.observed_generation == 1
    ready = conditions.find(outcome.status.conditions, "Ready")
    assert ready is not None
    assert ready.message.startswith(error.message)
    assert [(e.type, e.reason) for e in outcome.events] == [("Warning", ready.reason)]


async def test_the_forbidden_message_keeps_the_permission_hint() -> None:
    fakes = FakeSites()
    fakes.site().client.services = client.Forbidden(
        "GET /orchestration/services answered 403 Forbidden — " + client.errors.FORBIDDEN_HINT, status=403
    )
    outcome = await probe_.probe(
        make_connection(ready=None), sites_=fakes, memory=probe_.ProbeMemory(), now=NOW
    )
    ready = conditions.find(outcome.status.conditions, "Ready")
    assert ready is not None
    assert '"use orchestration connect" permission' in ready.message
    assert "Drupal blocks a user after 5 failed logins" in ready.message


async def test_success_lists_the_catalog_and_remembers_it() -> None:
    fakes = FakeSites()
    conn = make_connection(ready=None)
    outcome = await probe_.probe(conn, sites_=fakes, memory=probe_.ProbeMemory(), now=NOW)
    assert triples(outcome.status.conditions) == {READY}
    assert outcome.status.service_count == 2
    assert [s.to_dict() for s in outcome.status.services] == [
        {"id": "eca::send_welcome_email", "label": "Send welcome email"},
        {"id": "tool::entity:load", "label": "Load entity"},
    ]
    assert outcome.delay == 60.0
    assert fakes.site().remembered == SERVICES
    assert fakes.asked == [("site", True)]  # the Secrets are read again at every probe
    assert [(e.type, e.reason, e.message) for e in outcome.events] == [
        ("Normal", "Connected", "The site lists 2 services.")
    ]


async def test_the_catalog_summary_is_bounded() -> None:
    fakes = FakeSites()
    fakes.site().client.services = [client.Service(id=f"eca::s{i}", label=f"S{i}") for i in range(250)]
    outcome = await probe_.probe(make_connection(), sites_=fakes, memory=probe_.ProbeMemory(), now=NOW)
    assert outcome.status.service_count == 250
    assert len(outcome.status.services) == connection.MAX_LISTED_SERVICES


async def test_a_steady_state_posts_no_event() -> None:
    fakes = FakeSites()
    first = await probe_.probe(
        make_connection(ready=None), sites_=fakes, memory=probe_.ProbeMemory(), now=NOW
    )
    conn = make_connection(ready=None).model_copy(update={"status": first.status})
    later = NOW + datetime.timedelta(minutes=1)
    second = await probe_.probe(conn, sites_=fakes, memory=probe_.ProbeMemory(), now=later)
    assert second.events == ()
    ready = conditions.find(second.status.conditions, "Ready")
    assert ready is not None
    assert ready.last_transition_time == NOW
    assert second.status.last_checked_time == later


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("SecretNotFound", 'Secret "creds" not found in namespace "team"'),
        ("InvalidSpec", 'Secret "creds" key "password" is not UTF-8 text'),
    ],
)
async def test_a_site_that_cannot_be_configured_stalls_without_asking_it(reason: str, message: str) -> None:
    fakes = FakeSites()
    fakes.error = sites.SiteConfigError(reason, message)
    conn = make_connection(ready=None, status={"lastCheckedTime": "2025-05-01T11:00:00Z"})
    outcome = await probe_.probe(conn, sites_=fakes, memory=probe_.ProbeMemory(), now=NOW)
    assert triples(outcome.status.conditions) == stalled(reason)
    assert outcome.asked_site is False
    assert outcome.delay == probe_.STALLED_RECHECK
    # lastCheckedTime is when the site was last asked: unchanged, so a re-check writes nothing new.
    assert outcome.status.last_checked_time == datetime.datetime(2025, 5, 1, 11, 0, tzinfo=datetime.UTC)


async def test_transient_failures_back_off_up_to_the_probe_interval() -> None:
    fakes = FakeSites()
    fakes.site().client.services = client.ConnectError("refused")
    memory = probe_.ProbeMemory()
    delays = [
        (await probe_.probe(make_connection(), sites_=fakes, memory=memory, now=NOW)).delay for _ in range(7)
    ]
    assert delays == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    fakes.site().client.services = list(SERVICES)
    assert (await probe_.probe(make_connection(), sites_=fakes, memory=memory, now=NOW)).delay == 60.0
    assert memory.failures == 0


async def test_refused_credentials_are_not_sent_again_until_they_change() -> None:
    fakes = FakeSites()
    site = fakes.site()
    site.client.services = client.Forbidden("403", status=403)
    memory = probe_.ProbeMemory()
    first = await probe_.probe(make_connection(ready=None), sites_=fakes, memory=memory, now=NOW)
    conn = make_connection(ready=None).model_copy(update={"status": first.status})

    # Same credentials: the Secret is read again, the site is not asked, the status stays as is.
    later = NOW + datetime.timedelta(minutes=30)
    again = await probe_.probe(conn, sites_=fakes, memory=memory, now=later)
    assert again.asked_site is False
    assert again.status == first.status
    assert again.delay == probe_.STALLED_RECHECK
    assert site.client.calls == [("list",)]
    assert fakes.asked == [("site", True), ("site", True)]

    # The Secret changed (a new fingerprint): asked at once, and Ready.
    site.config.fingerprint = "fp-2"
    site.client.services = list(SERVICES)
    fixed = await probe_.probe(conn, sites_=fakes, memory=memory, now=later)
    assert fixed.asked_site is True
    assert triples(fixed.status.conditions) == {READY}
    assert [(e.type, e.reason) for e in fixed.events] == [("Normal", "Connected")]


@pytest.mark.parametrize(
    ("change", "asked"),
    [
        ("nothing", False),
        ("generation", True),
        ("time", True),  # REFUSED_RETRY passed: a permission granted on the site is noticed
        ("status-wiped", True),  # the refusal is no longer in status: ask once more
    ],
)
async def test_refused_credentials_are_retried_when(change: str, asked: bool) -> None:
    fakes = FakeSites()
    fakes.site().client.services = client.Unauthorized("401", status=401)
    memory = probe_.ProbeMemory()
    first = await probe_.probe(make_connection(ready=None), sites_=fakes, memory=memory, now=NOW)
    generation = 2 if change == "generation" else 1
    conn = make_connection(ready=None, generation=generation)
    if change != "status-wiped":
        conn = conn.model_copy(update={"status": first.status})
    now = NOW + (probe_.REFUSED_RETRY if change == "time" else datetime.timedelta(seconds=5))
    outcome = await probe_.probe(conn, sites_=fakes, memory=memory, now=now)
    assert outcome.asked_site is asked
    assert len(fakes.site().client.calls) == (2 if asked else 1)


async def test_an_invalid_spec_stalls_and_waits_for_a_new_generation() -> None:
    status = connection.OrchestrationConnectionStatus()
    outcome = probe_.invalid_spec(status, "spec.url: required field is missing", now=NOW, generation=3)
    assert triples(outcome.status.conditions) == stalled("InvalidSpec")
    assert outcome.status.observed_generation == 3
    assert outcome.delay == float("inf")
    assert [(e.type, e.reason, e.message) for e in outcome.events] == [
        ("Warning", "InvalidSpec", "spec.url: required field is missing")
    ]


async def test_recovering_from_a_failure_keeps_the_catalog_of_the_last_success() -> None:
    fakes = FakeSites()
    memory = probe_.ProbeMemory()
    ok = await probe_.probe(make_connection(ready=None), sites_=fakes, memory=memory, now=NOW)
    fakes.site().client.services = client.ConnectError("refused")
    conn = make_connection(ready=None).model_copy(update={"status": ok.status})
    down = await probe_.probe(conn, sites_=fakes, memory=memory, now=NOW)
    assert down.status.service_count == 2
    assert triples(down.status.conditions) == not_ready("Unreachable")
    assert [(e.type, e.reason) for e in down.events] == [("Warning", "Unreachable")]


def test_stalled_reasons_are_those_only_a_person_can_fix() -> None:
    assert {"InvalidSpec", "SecretNotFound", "Unauthorized", "Forbidden"} == failures.STALLED_REASONS
