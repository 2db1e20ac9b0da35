"""Operator-wide kopf configuration: persistence under our own names, posting, shared state.

Kind handlers live in sibling modules (one per kind); ``handlers.all`` imports them all. This module
only configures kopf itself at startup and closes the shared per-connection state at cleanup.

Choices (see PERFORMANCE_NOTES.md and ARCHITECTURE.md):
- Finalizer ``drupal-orchestration.io/finalizer``, never kopf's default.
- Progress and diff-base kept in ``status.kopf`` (declared in every CRD, preserved as unknown
  fields): one PATCH per handling cycle instead of two, and nothing in annotations that a person
  could mistake for spec. Our own guarantees (ServiceRun's start marker, EventPoll's cursor) live in
  our own status fields, not in kopf's storage, so a wiped ``status.kopf`` loses nothing.
- Only explicit Kubernetes Events (state changes), never one per log line.
- No ``queueing.worker_limit``: with a limit each worker holds a slot for ``idle_timeout``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, cast

import kopf

from orchestration_operator.api import names

STATUS_STORAGE_NAME = "kopf"


class LeanStatusDiffBaseStorage(kopf.StatusDiffBaseStorage):
    """kopf's diff-base in ``status.kopf``, built without copying ``status`` first.

    kopf builds an object's "essence" (spec, labels, annotations) on every watch event by deep-copying
    the whole body and then deleting ``status``. Our statuses are the bigger half of the body (conditions,
    results, kopf's own progress), so the copy was the operator's largest single CPU cost per event. The
    essence is the same: ``status`` is dropped before the copy instead of after it.
    """

    def build(
        self, *, body: kopf.Body, extra_fields: Iterable[kopf.FieldSpec] | None = None
    ) -> kopf.BodyEssence:
        if extra_fields:  # a handler that watches a status field: kopf's own way
            return super().build(body=body, extra_fields=extra_fields)
        lean = kopf.Body(cast(kopf.RawBody, {key: value for key, value in body.items() if key != "status"}))
        return super().build(body=lean)


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    """Apply our persistence and posting choices to kopf's settings (also used by tests)."""
    settings.persistence.finalizer = names.FINALIZER
    settings.persistence.progress_storage = kopf.StatusProgressStorage(name=STATUS_STORAGE_NAME)
    settings.persistence.diffbase_storage = LeanStatusDiffBaseStorage(name=STATUS_STORAGE_NAME)
    settings.posting.loggers = False
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.error_backoffs = [1, 2, 5, 10]
    # How long kopf waits for the watch event of its own patch before it trusts an older event. Under a
    # burst (a thousand ServiceRuns) the watch stream lags more than kopf's default of 5 s; kopf would
    # then re-run handlers on stale bodies (harmless for ServiceRuns thanks to their ledger, but a
    # wasted handler call and write per object, and a repeat for other kinds).
    settings.persistence.consistency_timeout = 20
    # On SIGTERM (a rolling update) let handlers in flight finish: a ServiceRun whose execute call is
    # cut short ends Unknown after the restart. kopf's default is 2 s; the chart gives the pod 30 s.
    settings.queueing.exit_timeout = 25


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    configure_kopf(settings)
