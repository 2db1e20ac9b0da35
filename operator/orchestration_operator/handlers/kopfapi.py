"""Status writes and reads of our own objects outside kopf's ``patch``, through kopf's own API client.

kopf applies a handler's ``patch`` after the handler returns. A write that must be durable *before* an
action (ServiceRun's start marker: "this call is about to be made") cannot wait for that, and daemons
(EventPoll's poll loop, the Connection and Webhook loops) and ServiceRun wake-ups write outside any
handler call. They all go through kopf's internal aiohttp client: the same authenticated session,
connection pool and backoffs as kopf's own requests, on the event loop. The ``kubernetes`` package's
synchronous client (``kube.patch_status``) costs a worker thread and several milliseconds of CPU per
call, which at a thousand runs per second is most of the operator's time.

This is kopf's private API (kopf is pinned below 2). If it moves, :data:`AVAILABLE` is false and
:func:`patch_status` falls back to ``kube.patch_status`` (slower, same semantics); a unit test fails
first, so an upgrade does not slow the operator down silently.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, cast

import kopf

from orchestration_operator.api import names
from orchestration_operator.handlers import kube

try:
    from kopf._cogs.clients import api as _api
    from kopf._cogs.clients import errors as _errors
    from kopf._core.engines import posting as _posting

    AVAILABLE = True
except ImportError:  # pragma: no cover - a kopf upgrade moved its internals
    AVAILABLE = False

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


_log = logging.getLogger("orchestration_operator.kopfapi")


def resource_of(plural: str) -> kopf.Resource:
    """One of our own namespaced kinds, by plural."""
    return kopf.Resource(names.GROUP, names.VERSION, plural, namespaced=True)


async def patch_status(
    *,
    resource: kopf.Resource | str,
    namespace: str,
    name: str,
    status: Mapping[str, Any],
    resource_version: str | None = None,
    logger: logging.Logger | logging.LoggerAdapter[Any] = _log,
    retry: bool = True,
) -> dict[str, Any]:
    """Merge ``status`` into the object's status, only if it is still at ``resource_version`` (if given);
    returns the object as the API server stored it.

    ``resource`` is kopf's, or the plural of one of our kinds. Raises ``kube.Conflict`` (409: the object
    changed meanwhile) or ``kube.Gone`` (404), like ``kube.patch_status``. Must run inside the operator
    (kopf's settings and credentials). With ``retry`` kopf's client retries transient API errors (5xx,
    403, 429, connection) with its backoffs (``networking.error_backoffs``: 18 s in all); without it the
    first failure raises, for callers that retry on their own schedule (the poll and probe loops).
    """
    if isinstance(resource, str):
        resource = resource_of(resource)
    if not AVAILABLE:  # pragma: no cover
        return await kube.patch_status(
            plural=resource.plural,
            namespace=namespace,
            name=name,
            status=status,
            resource_version=resource_version,
        )
    payload: dict[str, Any] = {"status": dict(status)}
    if resource_version is not None:
        payload["metadata"] = {"resourceVersion": resource_version}
    url = resource.get_url(namespace=cast(Any, namespace), name=name, subresource="status")
    try:
        response = await _api.request(
            method="patch",
            url=url,
            payload=payload,
            headers=dict(MERGE_PATCH),
            backoffs=None if retry else (),
            settings=_posting.settings_var.get(),
            logger=logger,
        )
        async with response:
            stored = await response.json()
    except _errors.APIConflictError as error:
        raise kube.Conflict(
            f"{resource.plural}/{name} changed since resourceVersion {resource_version}"
        ) from error
    except _errors.APINotFoundError as error:
        raise kube.Gone(f"{resource.plural}/{name} not found") from error
    return cast(dict[str, Any], stored) if isinstance(stored, dict) else {}


async def get_object(
    *,
    resource: kopf.Resource,
    namespace: str,
    name: str,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> dict[str, Any] | None:
    """The object as the API server has it now, or None when it does not exist."""
    if not AVAILABLE:  # pragma: no cover
        return await kube.get_object(plural=resource.plural, namespace=namespace, name=name)
    url = resource.get_url(namespace=cast(Any, namespace), name=name)
    try:
        body = await _api.get(url=url, settings=_posting.settings_var.get(), logger=logger)
    except _errors.APINotFoundError:
        return None
    return cast(dict[str, Any], body)
