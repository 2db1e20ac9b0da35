"""A bare kopf operator shaped like a ServiceRun's work, to calibrate ``bench servicerun --baseline``.

What it does per ServiceRun: one conditional status patch before the "call" (through kopf's own API
client, as the real start marker), 50 ms of sleep inside one of 20 slots (no HTTP call), then the
outcome in kopf's patch, with progress and diff-base in ``status.kopf``: the same two writes and the same
three watch events per run as the operator, without its logic, its HTTP client or its bigger status.
The figures it gets on a machine are the floor kopf itself sets there.

    orchestration-operator bench servicerun --baseline scripts/bench-kopf-baseline.py
"""

import asyncio
import logging
from typing import Any

import kopf
from kopf._cogs.clients import api
from kopf._core.engines import posting

SLOTS: asyncio.Semaphore | None = None


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    global SLOTS
    SLOTS = asyncio.Semaphore(20)
    settings.persistence.progress_storage = kopf.StatusProgressStorage(name="kopf")
    settings.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(name="kopf")
    settings.persistence.finalizer = "drupal-orchestration.io/finalizer"
    settings.persistence.consistency_timeout = 20
    settings.posting.enabled = False
    # The line the benchmark waits for before it starts (the operator's own startup handler logs it).
    logging.getLogger("kopf.activities.startup").info("Activity 'create_run_memory' succeeded.")


@kopf.on.create("drupal-orchestration.io", "v1alpha1", "serviceruns")
async def run(
    patch: kopf.Patch,
    resource: kopf.Resource,
    namespace: str,
    name: str,
    body: kopf.Body,
    logger: Any,
    **_: Any,
) -> None:
    assert SLOTS is not None
    await api.patch(
        url=resource.get_url(namespace=namespace, name=name, subresource="status"),  # type: ignore[arg-type]
        payload={
            "metadata": {"resourceVersion": body.metadata["resourceVersion"]},
            "status": {"phase": "Running"},
        },
        headers={"Content-Type": "application/merge-patch+json"},
        settings=posting.settings_var.get(),
        logger=logger,
    )
    async with SLOTS:
        await asyncio.sleep(0.05)
    patch.status["phase"] = "Succeeded"
