"""Prometheus metrics of the operator (prometheus_client), served on ``METRICS_PORT``.

One registry for the process; handlers and reconcile code call the helpers below, never create
metrics of their own, so names and labels stay documented in one place (docs/operations.md, "Metrics").
No kopf, no httpx: the client reports requests through its ``on_request`` hook.
"""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)

API_REQUESTS = Counter(
    "orchestration_api_requests_total",
    "Requests to Drupal Orchestration API routes, by connection, route and outcome.",
    ["namespace", "connection", "route", "outcome"],
    registry=REGISTRY,
)
API_LATENCY = Histogram(
    "orchestration_api_request_duration_seconds",
    "Latency of Drupal Orchestration API requests, by route.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
SERVICE_RUNS = Counter(
    "orchestration_service_runs_total",
    "Finished ServiceRuns by final phase and reason.",
    ["namespace", "phase", "reason"],
    registry=REGISTRY,
)
SERVICE_RUN_DURATION = Histogram(
    "orchestration_service_run_duration_seconds",
    "Time from start to outcome of ServiceRun executions.",
    ["phase"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
EVENTS_POLLED = Counter(
    "orchestration_events_polled_total",
    "New (not yet delivered) events seen by EventPolls.",
    ["namespace", "eventpoll"],
    registry=REGISTRY,
)
EVENTS_DELIVERED = Counter(
    "orchestration_events_delivered_total",
    "Events delivered to every sink of an EventPoll (the cursor moved past them).",
    ["namespace", "eventpoll"],
    registry=REGISTRY,
)
POLL_LAG = Gauge(
    "orchestration_poll_lag_seconds",
    "Seconds between now and the newest delivered event (timestamp mode only).",
    ["namespace", "eventpoll"],
    registry=REGISTRY,
)
WEBHOOK_REGISTRATIONS = Counter(
    "orchestration_webhook_registrations_total",
    "Webhook register/unregister calls by action and outcome.",
    ["namespace", "action", "outcome"],
    registry=REGISTRY,
)
CONDITION = Gauge(
    "orchestration_resource_condition",
    "1 when the resource's condition of this type has this status, else 0.",
    ["kind", "namespace", "name", "type", "status"],
    registry=REGISTRY,
)


def set_condition(*, kind: str, namespace: str, name: str, type_: str, status: str) -> None:
    """Export a condition as three 0/1 series (True, False, Unknown), like kube-state-metrics."""
    for candidate in ("True", "False", "Unknown"):
        CONDITION.labels(kind, namespace, name, type_, candidate).set(1.0 if candidate == status else 0.0)


def forget_resource(*, kind: str, namespace: str, name: str, types: tuple[str, ...]) -> None:
    """Drop a deleted resource's condition series, so memory stays bounded."""
    for type_ in types:
        for candidate in ("True", "False", "Unknown"):
            with contextlib.suppress(KeyError):
                CONDITION.remove(kind, namespace, name, type_, candidate)


def serve(port: int) -> None:
    """Serve ``/metrics`` on ``port`` in a background thread (0 disables)."""
    if port:
        start_http_server(port, registry=REGISTRY)
