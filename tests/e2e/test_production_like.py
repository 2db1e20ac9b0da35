"""Production-like end to end: the operator as the Helm chart installs it, checked as its operators would.

One run per RBAC mode of the chart (``cluster``: a ClusterRole; ``namespaced``: ``watchNamespaces: [prod]``,
a Role in ``prod``), set up and driven once by ``production_run.py``: the rendered RBAC is applied to the
API sandbox and the operator runs with the rendered Deployment's arguments and a token that has exactly
those permissions. One representative scenario per kind reaches its goal. The tests then check, on what
that run left behind:

1. RBAC: no request of the operator was refused (401/403), and its requests stayed in scope;
2. the resources' goals (status, owned objects, the site's records, deliveries to the receiver);
3. GitOps health: the Argo CD ``health.lua`` scripts (run by lupa) and kstatus on the live objects;
4. observability: ``/metrics`` (documented series and values), JSON logs with object references, Events
   for state changes and not per poll, and no secret value in any log line, Event, status, annotation,
   ConfigMap or metric;
5. that the RBAC check can fail: one rule dropped from the rendered role and the operator is refused.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import re
import urllib.request
from collections.abc import Iterable, Iterator
from typing import Any

import lupa.lua51
import production_run
import pytest
from production_run import NS, OPERATOR_USER, ORDERS, ROOT, RUNS, SECRETS, Run

from conftest import condition, eventually
from orchestration_operator.testing import background, kstatus
from orchestration_operator.testing.kube import endpoints

pytestmark = pytest.mark.e2e

FULLNAME = production_run.SERVICE_ACCOUNT
KINDS = ("OrchestrationConnection", "OrchestrationWebhook", "ServiceRun", "EventPoll")
HEALTH = ROOT / "deploy" / "argocd" / "health"


@pytest.fixture(scope="module", params=list(production_run.MODES))
def run(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    drupal_emulator_loop: background.BackgroundLoop,
) -> Iterator[Run]:
    state = tmp_path_factory.mktemp(f"production-{request.param}")
    for started in production_run.start(request.param, state, drupal_emulator_loop):
        production_run.drive(started)
        yield started


def refused(requests: Iterable[endpoints.RequestRecord]) -> list[endpoints.RequestRecord]:
    """Requests the sandbox refused: 401 (an unknown token: only the operator sends one) or 403."""
    return [r for r in requests if r.status == 401 or (r.status == 403 and r.user == OPERATOR_USER)]


# --- 1. RBAC ------------------------------------------------------------------------------------------------


def test_the_operator_runs_with_the_rendered_arguments(run: Run) -> None:
    scope = ["--all-namespaces"] if run.mode == "cluster" else [f"--namespace={NS}"]
    assert run.args[: len(scope) + 1] == [*scope, "--standalone"]
    assert "--log-format=json" in run.args
    with urllib.request.urlopen(run.health_url, timeout=5) as response:
        assert response.status == 200


def test_the_sandbox_holds_exactly_the_rendered_rbac(run: Run) -> None:
    def key(obj: dict[str, Any]) -> tuple[str, str, str]:
        return (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])

    rendered = {key(obj): obj for obj in production_run.rbac_objects(run.rendered)}
    stored = {
        key(obj): obj
        for obj in run.kubectl.json("get", "clusterroles,clusterrolebindings,roles,rolebindings", "-A")[
            "items"
        ]
    }
    assert sorted(stored) == sorted(rendered)
    for name, obj in rendered.items():
        assert stored[name].get("rules") == obj.get("rules"), name
        assert stored[name].get("subjects") == obj.get("subjects"), name
    expected_roles = ["ClusterRole"] if run.mode == "cluster" else ["ClusterRole", "Role"]
    assert sorted({kind for kind, _, _ in rendered if kind.endswith("Role")}) == expected_roles


def test_no_request_of_the_operator_was_refused(run: Run) -> None:
    mine = [r for r in run.requests if r.user == OPERATOR_USER]
    assert len(mine) > 50  # it did its work with the ServiceAccount's token...
    assert refused(run.requests) == []  # ...and was never refused
    # Every write to our kinds' status came from the operator's token, none from an unrestricted identity.
    status_writers = {
        r.user for r in run.requests if r.method == "PATCH" and r.path.split("?")[0].endswith("/status")
    }
    assert status_writers == {OPERATOR_USER}


def test_the_operator_stays_in_its_scope(run: Run) -> None:
    touched = {
        match.group(1)
        for r in run.requests
        if r.user == OPERATOR_USER and (match := re.search(r"/namespaces/([^/?]+)/", r.path))
    }
    assert touched == {NS}  # in both modes: the scenario's namespace only (no peering, no other namespace)


# --- 2. goals -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name", "ready", "reason"),
    [
        ("OrchestrationConnection", "site", "True", "Connected"),
        ("OrchestrationConnection", "wrong", "False", "Forbidden"),
        ("OrchestrationWebhook", "hook", "True", "Registered"),
        ("OrchestrationWebhook", "waiting", "False", "ConnectionNotFound"),
        ("ServiceRun", "report", "True", "Succeeded"),
        ("ServiceRun", "token", "True", "Succeeded"),
        ("ServiceRun", "welcome", "True", "Succeeded"),
        ("ServiceRun", "boom", "False", "ServiceFailed"),
        ("ServiceRun", "refused", "False", "ServiceNotFound"),
        ("ServiceRun", "invalid", "False", "ValidationFailed"),
        ("EventPoll", "orders", "True", "Polling"),
        ("EventPoll", "alerts", "False", "SinkFailing"),
    ],
)
def test_each_resource_reached_its_goal(run: Run, kind: str, name: str, ready: str, reason: str) -> None:
    obj = run.live[(kind, name)]
    assert (condition(obj)["status"], condition(obj)["reason"]) == (ready, reason)
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]


def test_the_live_objects_are_the_scenario(run: Run) -> None:
    expected = {("OrchestrationConnection", n) for n in ("site", "wrong")}
    expected |= {("OrchestrationWebhook", n) for n in ("hook", "waiting")}
    expected |= {("ServiceRun", n) for n in RUNS if n != "ttl"}  # ttl deleted itself
    expected |= {("EventPoll", n) for n in ("orders", "alerts")}
    assert set(run.live) == expected


def test_a_deleted_webhook_was_unregistered_and_released(run: Run) -> None:
    assert run.get("orchestrationwebhooks", "hook") is None  # the finalizer was released
    assert "hook" not in run.emulator.webhooks
    registered = [c for c in run.emulator.calls("register") if c.body.get("id") == "hook"]
    assert len(registered) == 1
    assert f"?token={SECRETS['webhook URL token']}" in registered[0].body_text  # the URL from the Secret
    assert [c.body for c in run.emulator.calls("unregister")] == [{"id": "hook"}]


def test_service_runs_executed_once_with_results_where_they_belong(run: Run) -> None:
    executes = {sid: len(run.emulator.calls("execute", id=sid)) for sid in {s for s, _ in RUNS.values()}}
    assert executes == {
        "eca::report": 1,
        "eca::token": 1,
        "eca::welcome": 1,  # welcome; invalid was refused before the call
        "eca::boom": 1,
        "eca::nope": 0,
        "eca::object": 1,
    }
    report = run.live[("ServiceRun", "report")]["status"]
    assert report["resultRef"] == {"kind": "ConfigMap", "name": "report-result", "key": "result.json"}
    configmap = run.get("configmaps", "report-result")
    assert configmap is not None
    stored = configmap["data"]["result.json"]
    assert (len(stored), report["resultDigest"]) == (
        6000,
        "sha256:" + hashlib.sha256(stored.encode()).hexdigest(),
    )
    assert configmap["metadata"]["ownerReferences"][0]["name"] == "report"
    for name, value in (
        ("token", {"token": SECRETS["sensitive result"]}),
        ("welcome", {"user_id": "7", "api_token": SECRETS["config value"]}),
    ):
        status = run.live[("ServiceRun", name)]["status"]
        assert "result" not in status
        assert status["resultRef"] == {"kind": "Secret", "name": f"{name}-result", "key": "result.json"}
        secret = run.get("secrets", f"{name}-result")
        assert secret is not None
        assert json.loads(base64.b64decode(secret["data"]["result.json"])) == value
        assert secret["metadata"]["ownerReferences"][0]["name"] == name
    assert run.get("serviceruns", "ttl") is None


def test_events_were_delivered_to_every_sink_once(run: Run) -> None:
    status = run.live[("EventPoll", "orders")]["status"]
    assert (status["eventsDelivered"], status["cursor"]) == (3, {"timestamp": ORDERS[-1]["timestamp"]})
    structured = run.receiver.deliveries("/structured", accepted=True)
    binary = run.receiver.deliveries(f"/binary/{SECRETS['sink URL token']}", accepted=True)
    assert [d.event["data"] for d in structured] == [item["data"] for item in ORDERS]
    assert [d.event["data"] for d in binary] == [item["data"] for item in ORDERS]
    assert {d.headers["authorization"] for d in binary} == {f"Bearer {SECRETS['sink header value']}"}
    ring = run.get("configmaps", "orders-ring")
    assert ring is not None
    assert [json.loads(v)["data"] for _, v in sorted(ring["data"].items())][-2:] == [
        item["data"] for item in ORDERS[-2:]
    ]
    failing = run.receiver.deliveries("/down")
    assert failing
    assert {d.status for d in failing} == {503}
    assert run.live[("EventPoll", "alerts")]["status"].get("cursor") is None  # held: nothing accepted


# --- 3. GitOps health ---------------------------------------------------------------------------------------


def argocd_health(obj: dict[str, Any]) -> tuple[str, str]:
    """Argo CD's verdict: the shipped health.lua run by Lua 5.1 (as gopher-lua), ``obj`` as a global."""
    group = obj["apiVersion"].split("/")[0]
    script = (HEALTH / f"{group}_{obj['kind']}" / "health.lua").read_text()
    lua = lupa.lua51.LuaRuntime(unpack_returned_tuples=False)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(script)
    return str(result["status"]), str(result["message"])


# (kind, name): Argo CD health, kstatus, and the condition whose message both show.
GITOPS = {
    ("OrchestrationConnection", "site"): ("Healthy", "Current", "Ready"),
    ("OrchestrationConnection", "wrong"): ("Degraded", "Failed", "Stalled"),
    ("OrchestrationWebhook", "hook"): ("Healthy", "Current", "Ready"),
    ("OrchestrationWebhook", "waiting"): ("Progressing", "InProgress", "Reconciling"),
    ("ServiceRun", "report"): ("Healthy", "Current", "Ready"),
    ("ServiceRun", "token"): ("Healthy", "Current", "Ready"),
    ("ServiceRun", "welcome"): ("Healthy", "Current", "Ready"),
    ("ServiceRun", "boom"): ("Degraded", "Failed", "Stalled"),
    ("ServiceRun", "refused"): ("Degraded", "Failed", "Stalled"),
    ("ServiceRun", "invalid"): ("Degraded", "Failed", "Stalled"),
    ("EventPoll", "orders"): ("Healthy", "Current", "Ready"),
    ("EventPoll", "alerts"): ("Progressing", "InProgress", "Reconciling"),
}


@pytest.mark.parametrize(("kind", "name"), list(GITOPS), ids=[f"{k}/{n}" for k, n in GITOPS])
def test_argocd_and_kstatus_on_the_live_objects(run: Run, kind: str, name: str) -> None:
    obj = run.live[(kind, name)]
    health, kstatus_status, deciding = GITOPS[(kind, name)]
    message = condition(obj, deciding)["message"]
    assert argocd_health(obj) == (health, message)
    result = kstatus.compute(obj)
    assert (result.status, result.message) == (
        kstatus_status,
        "Resource is current" if health == "Healthy" else message,
    )
    assert kstatus.convention_problems(obj) == []


def test_every_live_object_is_judged_and_every_verdict_occurs(run: Run) -> None:
    assert set(GITOPS) == set(run.live)
    assert {verdict[0] for verdict in GITOPS.values()} == {"Healthy", "Progressing", "Degraded"}
    assert {verdict[1] for verdict in GITOPS.values()} == {"Current", "InProgress", "Failed"}


# --- 4. observability: metrics ------------------------------------------------------------------------------


def test_api_requests_by_connection_route_and_outcome(run: Run) -> None:
    m = run.metrics
    name = "orchestration_api_requests_total"

    def count(connection: str, route: str, outcome: str) -> float:
        return m.total(name, namespace=NS, connection=connection, route=route, outcome=outcome)

    assert count("site", "list_services", "200") >= 1
    assert count("wrong", "list_services", "403") == 1  # refused credentials are not sent again
    assert count("site", "execute", "200") == 4  # report, token, welcome, ttl
    assert count("site", "execute", "500") == 1  # boom
    assert count("site", "register_webhook", "200") == 1
    assert count("site", "unregister_webhook", "200") == 1
    assert count("site", "poll", "200") >= sum(polls for polls, _ in run.polled.values())
    assert m.label_values(name, "connection") == {"site", "wrong"}
    assert m.label_values(name, "namespace") == {NS}


def test_request_latency_histogram_matches_the_requests(run: Run) -> None:
    m = run.metrics
    routes = m.label_values("orchestration_api_requests_total", "route")
    assert routes == {"list_services", "execute", "register_webhook", "unregister_webhook", "poll"}
    for route in routes:
        requests = m.total("orchestration_api_requests_total", route=route)
        count = m.value("orchestration_api_request_duration_seconds_count", route=route)
        assert count == requests, route
        buckets = sorted(
            (float(s.labels["le"]), s.value)
            for s in m.find("orchestration_api_request_duration_seconds_bucket", route=route)
        )
        assert [value for _, value in buckets] == sorted(value for _, value in buckets), route  # cumulative
        assert buckets[-1] == (float("inf"), count)
        assert 0 < m.value("orchestration_api_request_duration_seconds_sum", route=route) < count * 5


def test_service_run_outcomes_and_durations(run: Run) -> None:
    m = run.metrics
    outcomes = {
        (s.labels["namespace"], s.labels["phase"], s.labels["reason"]): s.value
        for s in m.find("orchestration_service_runs_total")
    }
    assert outcomes == {
        (NS, "Succeeded", "Succeeded"): 4,
        (NS, "Failed", "ServiceFailed"): 1,
        (NS, "Failed", "ServiceNotFound"): 1,  # refused before any call
        (NS, "Failed", "ValidationFailed"): 1,
    }
    durations = {
        s.labels["phase"]: s.value for s in m.find("orchestration_service_run_duration_seconds_count")
    }
    assert durations == {"Succeeded": 4, "Failed": 1}  # only executions have a duration


def test_events_polled_delivered_and_lag(run: Run) -> None:
    m = run.metrics
    assert m.value("orchestration_events_polled_total", namespace=NS, eventpoll="orders") == 3
    assert m.value("orchestration_events_delivered_total", namespace=NS, eventpoll="orders") == 3
    assert m.total("orchestration_events_delivered_total", eventpoll="alerts") == 0
    # The held event is seen again at each retry (the counter counts sightings of undelivered events).
    assert m.value("orchestration_events_polled_total", namespace=NS, eventpoll="alerts") >= 1
    lag = m.value("orchestration_poll_lag_seconds", namespace=NS, eventpoll="orders")
    expected = run.scraped_at - ORDERS[-1]["timestamp"]
    assert expected - 5 <= lag <= expected + 1


def test_webhook_registrations(run: Run) -> None:
    found = {
        (s.labels["namespace"], s.labels["action"], s.labels["outcome"]): s.value
        for s in run.metrics.find("orchestration_webhook_registrations_total")
    }
    assert found == {(NS, "register", "success"): 1, (NS, "unregister", "success"): 1}


@pytest.mark.parametrize(
    ("kind", "name", "type_", "status"),
    [
        ("OrchestrationConnection", "site", "Ready", "True"),
        ("OrchestrationConnection", "wrong", "Ready", "False"),
        ("OrchestrationConnection", "wrong", "Stalled", "True"),
        ("OrchestrationWebhook", "waiting", "Reconciling", "True"),
        ("EventPoll", "orders", "Ready", "True"),
        ("EventPoll", "alerts", "Reconciling", "True"),
    ],
)
def test_condition_gauge(run: Run, kind: str, name: str, type_: str, status: str) -> None:
    series = {
        s.labels["status"]: s.value
        for s in run.metrics.find(
            "orchestration_resource_condition", kind=kind, namespace=NS, name=name, type=type_
        )
    }
    assert series == {candidate: float(candidate == status) for candidate in ("True", "False", "Unknown")}


def test_condition_series_of_a_deleted_resource_are_dropped(run: Run) -> None:
    assert run.metrics.find("orchestration_resource_condition", name="hook") == []
    names = {s.labels["name"] for s in run.metrics.find("orchestration_resource_condition")}
    assert names == {"site", "wrong", "waiting", "orders", "alerts"}  # ServiceRuns have none (see docs)


# --- 4. observability: logs, Events, secrets ----------------------------------------------------------------


def log_lines(run: Run) -> list[dict[str, Any]]:
    lines = []
    for number, text in enumerate(run.operator.logs().splitlines(), 1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except ValueError:
            raise AssertionError(f"operator log line {number} is not JSON: {text[:300]}") from None
        assert isinstance(line, dict), text
        lines.append(line)
    return lines


def test_every_log_line_is_json_with_the_object_it_concerns(run: Run) -> None:
    lines = log_lines(run)
    assert len(lines) > 20
    assert {line["severity"] for line in lines} <= {"debug", "info", "warn", "error", "fatal"}
    assert all(set(line) >= {"message", "timestamp", "severity"} for line in lines)
    referenced = set()
    object_words = re.compile("|".join([*KINDS, f"{NS}/", f'"{NS}"']))
    for line in lines:
        ref = line.get("object")
        if ref is None:
            # Operator-wide lines (startup, shutdown) only: a line about an object must say which one.
            assert not object_words.search(line["message"]), line
            continue
        assert set(ref) == {"apiVersion", "kind", "name", "namespace", "uid"}, line
        assert (ref["apiVersion"], ref["namespace"]) == (f"{production_run.G}/{production_run.V}", NS)
        referenced.add((ref["kind"], ref["name"]))
    scenario = {*run.live, ("ServiceRun", "ttl")}
    assert referenced <= scenario
    # Nothing is logged per watch event, probe or poll: no line repeats about one object.
    repeated = collections.Counter(
        (line["object"]["kind"], line["object"]["name"], line["message"])
        for line in lines
        if "object" in line
    )
    assert [(what, count) for what, count in repeated.items() if count > 2] == []
    # Each Event is also a log line of the object it is about (kopf logs what it posts).
    assert referenced >= {(kind, name) for kind, name in scenario if EVENTS[name]}


# (involved object, the Events about it in order): state changes only.
EVENTS = {
    "site": [("Normal", "Connected")],
    "wrong": [("Warning", "Forbidden")],
    "hook": [("Normal", "Registered"), ("Normal", "Unregistered")],
    "waiting": [],  # waiting for its Connection is not news (the condition says it)
    "report": [("Normal", "Succeeded")],  # "run finished", once per run
    "token": [("Normal", "Succeeded")],
    "welcome": [("Normal", "Succeeded")],
    "ttl": [("Normal", "Succeeded")],
    "boom": [("Warning", "ServiceFailed")],
    "refused": [("Warning", "ServiceNotFound")],
    "invalid": [("Warning", "ValidationFailed")],
    "orders": [],  # polling, delivering: never an Event per poll
    "alerts": [("Warning", "SinkFailing")],
}


def test_events_tell_state_changes(run: Run) -> None:
    found: dict[str, list[tuple[str, str]]] = {}
    for event in run.events():
        found.setdefault(event["involvedObject"]["name"], []).append((event["type"], event["reason"]))
    assert {name: found.get(name, []) for name in EVENTS} == EVENTS
    assert set(found) <= set(EVENTS)


def test_no_event_per_poll(run: Run) -> None:
    for name, (polls, events) in run.polled.items():
        assert polls >= production_run.POLL_CYCLES[name], name
        assert events == len(EVENTS[name]) <= 1, name  # at most the one state change: never per poll


def secret_places(run: Run) -> dict[str, str]:
    """Everything the operator wrote or said, by where a person (or a log pipeline) would read it."""
    return {
        "operator log": run.operator.logs(),
        "Events": json.dumps(run.kubectl.json("get", "events", "-A")["items"]),
        "custom resources (status, annotations, kopf's storage)": json.dumps(
            run.kubectl.json("get", "oconn,owh,srun,epoll", "-A")["items"] + list(run.live.values())
        ),
        "ConfigMaps": json.dumps(run.kubectl.json("get", "configmaps", "-A")["items"]),
        "metrics": run.metrics_text,
        "Events and conditions as kubectl describes them": run.kubectl(
            "describe", "oconn,owh,srun,epoll", "-n", NS
        ).stdout,
    }


def test_no_secret_value_anywhere(run: Run) -> None:
    places = secret_places(run)
    leaks = [
        f"{what} in {where}"
        for where, text in places.items()
        for what, value in SECRETS.items()
        if value in text
    ]
    assert leaks == []
    # The same scan over the Secrets (decoded) finds every value: they are real, and the scan sees them.
    secrets = run.kubectl.json("get", "secrets", "-n", NS)["items"]
    decoded = " ".join(
        base64.b64decode(v).decode() for obj in secrets for v in (obj.get("data") or {}).values()
    )
    assert [what for what, value in SECRETS.items() if value not in decoded] == []


# --- 5. the RBAC check can fail -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dropped", "path"),
    [("orchestrationconnections/status", f"/namespaces/{NS}/orchestrationconnections/late/status")],
)
def test_zz_without_one_rule_of_the_chart_the_operator_is_refused(run: Run, dropped: str, path: str) -> None:
    kind = "ClusterRole" if run.mode == "cluster" else "Role"
    (role,) = [
        obj
        for obj in production_run.rbac_objects(run.rendered)
        if obj["kind"] == kind and obj["metadata"]["name"] == FULLNAME
    ]
    pruned = {**role, "rules": [rule for rule in role["rules"] if dropped not in rule.get("resources", ())]}
    assert len(pruned["rules"]) == len(role["rules"]) - 1
    mark = run.sandbox.request_count
    run.kubectl.apply(pruned)
    try:
        run.kubectl.apply(
            {
                "apiVersion": f"{production_run.G}/{production_run.V}",
                "kind": "OrchestrationConnection",
                "metadata": {"name": "late", "namespace": NS},
                "spec": {"url": run.emulator.url, "auth": {"basic": {"secretRef": {"name": "creds"}}}},
            }
        )
        denied = eventually(
            lambda: [r for r in refused(run.sandbox.request_log(since=mark)) if path in r.path],
            what=f"a 403 on {path}",
        )
        assert {(r.method, r.status, r.user) for r in denied} == {("PATCH", 403, OPERATOR_USER)}
        assert condition(run.get("orchestrationconnections", "late")) == {}  # never Ready: it cannot say so
        # The operator says so in its log, on a line that carries the object like every other.
        failed = eventually(
            lambda: [line for line in log_lines(run) if f"{NS}/late" in line["message"]],
            what="a log line about the refused status write",
        )
        assert {line["object"]["name"] for line in failed} == {"late"}
    finally:
        run.kubectl.apply(role)
