"""A small kopf operator used to prove the sandbox against real kopf (run by tests as a process).

Handlers: create, update, delete (with kopf's finalizer) and a timer, each writing status, on the
sandbox test CRD ``probes.sandbox.example.com``. Not part of the project's operator.
"""

from __future__ import annotations

from typing import Any

import kopf

GROUP, VERSION, PLURAL = "sandbox.example.com", "v1", "probes"


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.finalizer = "sandbox.example.com/probe"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="sandbox.example.com")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="sandbox.example.com")
    settings.watching.connect_timeout = 5
    settings.networking.request_timeout = 10


def _ready(patch: kopf.Patch, phase: str) -> None:
    patch.status["phase"] = phase
    patch.status["conditions"] = [{"type": "Ready", "status": "True", "reason": phase, "message": ""}]


@kopf.on.create(GROUP, VERSION, PLURAL)
def created(body: kopf.Body, spec: kopf.Spec, patch: kopf.Patch, logger: kopf.Logger, **_: Any) -> None:
    _ready(patch, "Created")
    patch.status["observedSize"] = spec.get("size")
    kopf.info(body, reason="Created", message="probe created")  # a core v1 Event, posted by kopf
    logger.info("probe created")


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
def updated(spec: kopf.Spec, patch: kopf.Patch, logger: kopf.Logger, **_: Any) -> None:
    _ready(patch, "Updated")
    patch.status["observedSize"] = spec.get("size")
    logger.info(f"probe updated to size {spec.get('size')}")


@kopf.on.delete(GROUP, VERSION, PLURAL)
def deleted(name: str, logger: kopf.Logger, **_: Any) -> None:
    logger.info(f"probe {name} deleted")


@kopf.timer(GROUP, VERSION, PLURAL, interval=0.3, idle=0)
def tick(status: kopf.Status, patch: kopf.Patch, **_: Any) -> None:
    patch.status["ticks"] = int(status.get("ticks") or 0) + 1
