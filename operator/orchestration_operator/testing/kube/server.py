"""``KubeSandbox``: the sandbox as a whole, for tests and local trials (production is a real cluster).

It wires the ``store`` (objects), ``endpoints`` (the HTTP API), ``auth`` (tokens), ``faults`` and ``gc``
(background controllers) together, serves them with aiohttp on loopback, and writes kubeconfigs.
It also gives tests direct access to the objects (``get_object``, ``patch_object``, ``wait_for_object``,
``close_watches``, ``compact``, ...); those methods may be called from any thread: they run on the
sandbox's loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import pathlib
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import yaml
from aiohttp import web

from orchestration_operator.testing.kube import (
    auth,
    convert,
    endpoints,
    errors,
    faults,
    gc,
    manifests,
    resources,
    selectors,
    store,
)

T = TypeVar("T")


class KubeSandbox:
    """An in-process Kubernetes API server for tests and local trials (production is a real cluster)."""

    def __init__(
        self,
        *,
        tokens: Mapping[str, auth.Identity] | None = None,
        faults: faults.Faults | None = None,
        admin_token: str | None = None,
        bookmark_interval: float = 15.0,
        history_window: int = 5000,
        gc_interval: float = 0.05,
        record_requests: int = 0,  # keep the last N requests for ``request_log``
        anonymous: auth.Identity | None = auth.ANONYMOUS,
    ) -> None:
        from orchestration_operator.testing.kube import faults as faults_module

        self.registry = resources.Registry()
        self.store = store.Store(self.registry, history_window=history_window)
        self.admin_token = admin_token or secrets.token_urlsafe(24)
        self.auth = auth.Authenticator(tokens, anonymous=anonymous)
        self.auth.add(self.admin_token, auth.identity("sandbox-admin", groups=("system:masters",)))
        self.faults = faults or faults_module.Faults()
        self.faults.bind(self.store)
        self.collector = gc.Collector(self.store, interval=gc_interval)
        self.endpoints = endpoints.Endpoints(
            self.store,
            self.auth,
            self.faults,
            bookmark_interval=bookmark_interval,
            record_requests=record_requests,
        )
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.host = "127.0.0.1"
        self.port = 0
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_route("*", "/{tail:.*}", self.endpoints.handle)

    # ------------------------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._loop = asyncio.get_running_loop()
        self._runner = web.AppRunner(
            self.app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        await site.start()
        self.host = host
        self.port = self._runner.addresses[0][1]
        self.endpoints.server_address = f"{host}:{self.port}"
        self._tasks.append(asyncio.create_task(self.collector.run(), name="kube-sandbox-gc"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for w in tuple(self.endpoints.watches):
            w.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> KubeSandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------------------ kubeconfig

    def kubeconfig(
        self, *, token: str | None = None, namespace: str | None = None, name: str = "sandbox"
    ) -> dict[str, Any]:
        context: dict[str, Any] = {"cluster": name, "user": name}
        if namespace:
            context["namespace"] = namespace
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {"server": self.url}}],
            "users": [{"name": name, "user": {"token": token or self.admin_token}}],
            "contexts": [{"name": name, "context": context}],
            "current-context": name,
            "preferences": {},
        }

    def write_kubeconfig(
        self, path: str | os.PathLike[str], *, token: str | None = None, namespace: str | None = None
    ) -> pathlib.Path:
        """Write a kubeconfig for this sandbox (mode 0600) and return its path."""
        target = pathlib.Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(self.kubeconfig(token=token, namespace=namespace), sort_keys=False)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        return target

    def add_token(
        self,
        token: str,
        *,
        user: str,
        groups: Sequence[str] = (),
        rules: Sequence[Mapping[str, Any]] | None = None,
        namespaced_rules: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        rbac: bool = False,
    ) -> None:
        """Accept ``token`` as ``user``, limited to RBAC-shaped ``rules`` (or the stored RBAC if ``rbac``)."""
        self.auth.add(
            token,
            auth.identity(user, groups=groups, rules=rules, namespaced_rules=namespaced_rules, rbac=rbac),
        )

    # -------------------------------------------------------------------------------- requests

    def request_log(self, *, since: int = 0) -> list[endpoints.RequestRecord]:
        """Recorded requests (``record_requests`` > 0), from the ``since``-th one (see ``request_count``)."""
        return self._call(lambda: self.endpoints.request_log(since=since))

    @property
    def request_count(self) -> int:
        """How many requests were recorded so far (a position for ``request_log(since=...)``)."""
        return self.endpoints.request_count

    # ----------------------------------------------------------------------- direct access

    def _call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the sandbox's loop (directly if already there or not started)."""
        loop = self._loop
        if loop is None or not loop.is_running():
            return fn()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            return fn()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return future.result(timeout=30)

    def resource(self, group: str, version: str, plural: str) -> resources.ResourceType:
        rtype = self.registry.lookup(group, version, plural)
        if rtype is None:
            raise errors.NotFound(f"the server doesn't have a resource type {plural!r} in {group}/{version}")
        return rtype

    def _resource_for(self, obj: Mapping[str, Any]) -> resources.ResourceType:
        api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        for rtype in self.registry.all():
            if rtype.api_version == api_version and rtype.kind == kind:
                return rtype
        raise errors.NotFound(f'no matches for kind "{kind}" in version "{api_version}"')

    def get_object(
        self, group: str, version: str, plural: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        """A copy of the object, or None if absent."""

        def get() -> dict[str, Any] | None:
            rtype = self.resource(group, version, plural)
            entry = self.store.find(rtype, namespace, name)
            return _copy(convert.to_view(rtype, entry.obj)) if entry else None

        return self._call(get)

    def list_objects(
        self, group: str, version: str, plural: str, namespace: str | None = None, *, label_selector: str = ""
    ) -> list[dict[str, Any]]:
        def list_() -> list[dict[str, Any]]:
            rtype = self.resource(group, version, plural)
            result = self.store.list(rtype, namespace, labels=selectors.parse_labels(label_selector))
            return [_copy(convert.to_view(rtype, e.obj)) for e in result.items]

        return self._call(list_)

    def create_object(self, obj: Mapping[str, Any], *, namespace: str | None = None) -> dict[str, Any]:
        """Create ``obj`` (any served kind) as an admin would; returns the stored object."""

        def create() -> dict[str, Any]:
            rtype = self._resource_for(obj)
            body = json.loads(store.encode(obj))
            ns = namespace or body.get("metadata", {}).get("namespace")
            result = self.store.create(rtype, body, namespace=ns if rtype.namespaced else None)
            return _copy(result.entry.obj)

        return self._call(create)

    def apply_objects(self, documents: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Create or update each document (server-side apply by the ``sandbox`` manager)."""

        def apply() -> list[dict[str, Any]]:
            out = []
            for doc in manifests.ordered(documents):
                rtype = self._resource_for(doc)
                meta = doc.get("metadata", {})
                result = self.store.patch(
                    rtype,
                    meta.get("namespace"),
                    meta.get("name", ""),
                    "apply",
                    dict(doc),
                    field_manager="sandbox",
                )
                out.append(_copy(result.entry.obj))
            return out

        return self._call(apply)

    def patch_object(
        self,
        group: str,
        version: str,
        plural: str,
        namespace: str | None,
        name: str,
        patch: Any,
        *,
        patch_type: str = "merge",
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """Patch as a client would (``merge``, ``json``, ``strategic``, ``apply``); returns the result."""

        def patch_() -> dict[str, Any]:
            rtype = self.resource(group, version, plural)
            result = self.store.patch(
                rtype, namespace, name, patch_type, patch, subresource=subresource, field_manager="sandbox"
            )
            return _copy(convert.to_view(rtype, result.entry.obj))

        return self._call(patch_)

    def delete_object(
        self,
        group: str,
        version: str,
        plural: str,
        namespace: str | None,
        name: str,
        *,
        propagation: str | None = None,
    ) -> dict[str, Any]:
        def delete() -> dict[str, Any]:
            rtype = self.resource(group, version, plural)
            result = self.store.delete(rtype, namespace, name, propagation=propagation)
            return _copy(result.entry.obj)

        return self._call(delete)

    def close_watches(self, *, resource: str | None = None, group: str | None = None) -> int:
        """End open watch streams (all, or of one resource plural); clients reconnect from their last RV."""
        return self._call(lambda: self.faults.close_watches(resource=resource, group=group))

    def compact(self) -> int:
        """Make every resourceVersion handed out so far too old (410 on resume) and end all watches."""

        def compact() -> int:
            floor = self.faults.compact()
            self.faults.close_watches()
            return floor

        return self._call(compact)

    def watch_count(self, *, resource: str | None = None) -> int:
        """How many watch streams are open (of one resource plural, or in all)."""
        return self._call(
            lambda: sum(
                len(c.watchers)
                for c in self.store.collections()
                if resource is None or c.storage[1] == resource
            )
        )

    def wait_for_object(
        self,
        group: str,
        version: str,
        plural: str,
        namespace: str | None,
        name: str,
        predicate: Callable[[dict[str, Any] | None], bool],
        *,
        timeout: float = 10.0,
        interval: float = 0.02,
    ) -> dict[str, Any] | None:
        """Poll (from a thread other than the sandbox's) until ``predicate(object or None)`` holds."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "wait_for_object polls by sleeping: call it from a thread without an event loop"
            )
        deadline = time.monotonic() + timeout
        while True:
            obj = self.get_object(group, version, plural, namespace, name)
            if predicate(obj):
                return obj
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{plural}/{name}: condition not met within {timeout} s; last state: {obj!r}"
                )
            time.sleep(interval)


def _copy(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy for callers outside the store (stored objects are never mutated)."""
    copied: dict[str, Any] = json.loads(store.encode(obj))
    return copied
