"""A ServiceRun's writes without kopf's per-object machinery: the floor of a watch loop of our own.

An experiment for ``bench servicerun --baseline scripts/bench-watchloop-floor.py``. A kopf startup handler
starts one task that watches ServiceRuns through kopf's watch stream and, for each new run, writes the
start marker (a conditional status patch), holds one of 20 slots for 50 ms and writes the outcome: the
same two writes and three watch events per run as the operator and ``bench-kopf-baseline.py``, without
kopf's workers, diff-base or progress. Not an operator: no peering pause, no namespaces, no resume.
"""

import asyncio
import logging
from typing import Any

import kopf
from kopf._cogs.clients import api, watching
from kopf._core.engines import posting

RESOURCE = kopf.Resource("drupal-orchestration.io", "v1alpha1", "serviceruns", namespaced=True)
SLOTS = 20
log = logging.getLogger("bench.watchloop")
tasks: set[asyncio.Task[None]] = set()


async def patch_status(namespace: str, name: str, payload: dict[str, Any]) -> None:
    await api.patch(
        url=RESOURCE.get_url(namespace=namespace, name=name, subresource="status"),
        payload=payload,
        headers={"Content-Type": "application/merge-patch+json"},
        settings=posting.settings_var.get(),
        logger=log,
    )


async def handle(obj: dict[str, Any], slots: asyncio.Semaphore) -> None:
    meta = obj["metadata"]
    start = {"metadata": {"resourceVersion": meta["resourceVersion"]}, "status": {"phase": "Running"}}
    await patch_status(meta["namespace"], meta["name"], start)
    async with slots:
        await asyncio.sleep(0.05)
    await patch_status(meta["namespace"], meta["name"], {"status": {"phase": "Succeeded"}})


async def watch_loop(settings: kopf.OperatorSettings) -> None:
    slots = asyncio.Semaphore(SLOTS)
    seen: set[str] = set()
    async for event in watching.infinite_watch(settings=settings, resource=RESOURCE, namespace=None):
        if isinstance(event, watching.Bookmark) or event.get("type") in ("BOOKMARK", "DELETED"):
            continue
        obj = event["object"]
        uid = obj["metadata"]["uid"]
        if uid in seen or (obj.get("status") or {}).get("phase"):
            continue
        seen.add(uid)
        task = asyncio.create_task(handle(obj, slots))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.posting.enabled = False
    task = asyncio.get_running_loop().create_task(watch_loop(settings))
    tasks.add(task)
    # The line the benchmark waits for before it starts (the operator's own startup handler logs it).
    logging.getLogger("kopf.activities.startup").info("Activity 'create_run_memory' succeeded.")
