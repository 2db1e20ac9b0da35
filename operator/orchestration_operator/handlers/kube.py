"""Kubernetes I/O that is not kopf's own: Secrets read on demand, owned ConfigMaps and Secrets.

Implements ``reconcile.ports`` with the ``kubernetes`` package. Its client is synchronous, so every
call runs in a worker thread (``asyncio.to_thread``): nothing blocks the event loop. Credentials are
loaded once (in-cluster service account, else ``KUBECONFIG``) at first use.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import functools
import json
import threading
from collections.abc import Mapping
from typing import Any, cast

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client import exceptions as k8s_exceptions

from orchestration_operator.api import names

TIMEOUT = (10.0, 30.0)
"""(connect, read) seconds of every call: without one, a call to an API server that stopped answering
would hold its caller (and a worker thread) forever."""

_lock = threading.Lock()
_api: Any = None


def _core() -> Any:
    global _api
    with _lock:
        if _api is None:
            try:
                k8s_config.load_incluster_config()  # type: ignore[no-untyped-call]
            except k8s_config.ConfigException:
                k8s_config.load_kube_config()  # type: ignore[no-untyped-call]
            _api = k8s_client.CoreV1Api()
        return _api


def warm_up() -> None:
    """Load the credentials and the API classes now (blocking: call it in a thread at startup).

    The ``kubernetes`` package imports ``CoreV1Api`` and its ~250 models lazily, which takes seconds of
    CPU under the GIL: on first use in a worker thread it would stall the event loop mid-operation.
    """
    _core()
    k8s_client.CustomObjectsApi()


def reset() -> None:
    """Forget the loaded credentials and the objects written (tests that switch API servers)."""
    global _api
    with _lock:
        _api = None
        _written.clear()


def _owner_reference(owner: Mapping[str, Any]) -> Any:
    return k8s_client.V1OwnerReference(
        api_version=owner["apiVersion"],
        kind=owner["kind"],
        name=owner["metadata"]["name"],
        uid=owner["metadata"]["uid"],
        controller=True,
        block_owner_deletion=False,
    )


class KubeObjects:
    """``reconcile.ports.SecretReader`` and ``reconcile.ports.OwnedObjects`` over the Kubernetes API."""

    async def read_secret(self, *, namespace: str, name: str) -> Mapping[str, bytes] | None:
        def read() -> Mapping[str, bytes] | None:
            try:
                secret = _core().read_namespaced_secret(name, namespace, _request_timeout=TIMEOUT)
            except k8s_exceptions.ApiException as exc:
                if exc.status == 404:
                    return None
                raise
            return {key: base64.b64decode(value) for key, value in (secret.data or {}).items()}

        return await asyncio.to_thread(read)

    async def get_configmap(self, *, namespace: str, name: str) -> Mapping[str, str] | None:
        def read() -> Mapping[str, str] | None:
            try:
                configmap = _core().read_namespaced_config_map(name, namespace, _request_timeout=TIMEOUT)
            except k8s_exceptions.ApiException as exc:
                if exc.status == 404:
                    return None
                raise
            return dict(configmap.data or {})

        return await asyncio.to_thread(read)

    async def put_configmap(
        self, *, namespace: str, name: str, data: Mapping[str, str], owner: Mapping[str, Any]
    ) -> None:
        body = k8s_client.V1ConfigMap(
            metadata=k8s_client.V1ObjectMeta(
                name=name, namespace=namespace, owner_references=[_owner_reference(owner)]
            ),
            data=dict(data),
        )
        await asyncio.to_thread(_create_or_replace, "config_map", namespace, name, body)

    async def put_secret(
        self, *, namespace: str, name: str, data: Mapping[str, bytes], owner: Mapping[str, Any]
    ) -> None:
        body = k8s_client.V1Secret(
            metadata=k8s_client.V1ObjectMeta(
                name=name, namespace=namespace, owner_references=[_owner_reference(owner)]
            ),
            type="Opaque",
            data={key: base64.b64encode(value).decode("ascii") for key, value in data.items()},
        )
        await asyncio.to_thread(_create_or_replace, "secret", namespace, name, body)


class Conflict(Exception):
    """The object changed since ``resource_version`` (HTTP 409): someone else wrote first."""


class Gone(Exception):
    """The object no longer exists (HTTP 404)."""


async def patch_status(
    *,
    plural: str,
    namespace: str,
    name: str,
    status: Mapping[str, Any],
    resource_version: str | None = None,
) -> dict[str, Any]:
    """Merge-patch our own resource's ``status`` outside kopf's patch, and return the new object.

    Only for writes that must be durable before an action (ServiceRun's start marker) or that happen
    outside a handler (EventPoll's cursor, written by its daemon). With ``resource_version`` the write
    is conditional (:class:`Conflict` when the object changed meanwhile), which makes it a claim.
    """
    body: dict[str, Any] = {"status": dict(status)}
    if resource_version is not None:
        body["metadata"] = {"resourceVersion": resource_version}

    def patch() -> dict[str, Any]:
        _core()  # loads the credentials once
        api = k8s_client.CustomObjectsApi()
        try:
            # Raw bytes and json.loads: the client's own deserialisation costs about a third of the call.
            response: Any = api.patch_namespaced_custom_object_status(
                names.GROUP,
                names.VERSION,
                namespace,
                plural,
                name,
                body,
                _preload_content=False,
                _request_timeout=TIMEOUT,
            )
        except k8s_exceptions.ApiException as exc:
            if exc.status == 409:
                raise Conflict(f"{plural}/{name} changed since resourceVersion {resource_version}") from None
            if exc.status == 404:
                raise Gone(f"{plural}/{name} not found") from None
            raise
        return cast(dict[str, Any], json.loads(response.data))

    return await asyncio.to_thread(patch)


async def get_object(*, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
    """One of our resources as the API server has it now, or None when it does not exist."""

    def get() -> dict[str, Any] | None:
        _core()
        api = k8s_client.CustomObjectsApi()
        try:
            result = api.get_namespaced_custom_object(names.GROUP, names.VERSION, namespace, plural, name)
        except k8s_exceptions.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return cast(dict[str, Any], result)

    return await asyncio.to_thread(get)


async def delete_object(*, plural: str, namespace: str, name: str) -> None:
    """Delete one of our resources (ServiceRun's ttlSecondsAfterFinished); a missing object is fine."""

    def delete() -> None:
        _core()
        api = k8s_client.CustomObjectsApi()
        try:
            api.delete_namespaced_custom_object(
                names.GROUP,
                names.VERSION,
                namespace,
                plural,
                name,
                propagation_policy="Background",
                _request_timeout=TIMEOUT,
            )
        except k8s_exceptions.ApiException as exc:
            if exc.status != 404:
                raise

    await asyncio.to_thread(delete)


#: Owned objects this process wrote last (kind, namespace, name), most recent last; bounded.
_written: collections.OrderedDict[tuple[str, str, str], None] = collections.OrderedDict()
_WRITTEN_MAX = 4096


def _create_or_replace(kind: str, namespace: str, name: str, body: Any) -> None:
    """Write the whole object: create it, or replace it when it exists.

    An object this process wrote before (an EventPoll's ring ConfigMap, rewritten on each batch) is
    replaced first, one call; a new one (a run's result) is created first, one call. The other order
    costs a refused call (409 or 404) and then the right one.
    """
    api = _core()
    key = (kind, namespace, name)
    create = functools.partial(
        getattr(api, f"create_namespaced_{kind}"), namespace, body, _request_timeout=TIMEOUT
    )
    replace = functools.partial(
        getattr(api, f"replace_namespaced_{kind}"), name, namespace, body, _request_timeout=TIMEOUT
    )
    first, second, refused = (replace, create, 404) if key in _written else (create, replace, 409)
    try:
        first()
    except k8s_exceptions.ApiException as exc:
        if exc.status != refused:
            raise
        second()
    with _lock:
        _written[key] = None
        _written.move_to_end(key)
        while len(_written) > _WRITTEN_MAX:
            _written.popitem(last=False)
