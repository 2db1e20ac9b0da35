"""``KubeSandbox``: the aiohttp application that answers as kube-apiserver does, and its Python handle.

This module routes requests: URL to (group, version, namespace, plural, name, subresource), HTTP method
and query to a verb, content types to decoders and patch types, then calls the ``store`` and renders the
answer (JSON, or a ``tables`` Table when ``Accept`` asks for one, or a ``watch`` stream). Faults are
consulted first, then the bearer token is authenticated and the request authorized (``auth``).

``KubeSandbox`` also gives tests direct access to the objects (``get_object``, ``patch_object``, ...);
those methods may be called from any thread and run on the sandbox's loop.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import json
import logging
import os
import pathlib
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

import yaml
from aiohttp import web

from orchestration_operator.testing.kube import (
    auth,
    convert,
    discovery,
    errors,
    faults,
    gc,
    manifests,
    openapi,
    protobuf,
    resources,
    selectors,
    store,
    tables,
    watch,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

_JSON = "application/json"
_PROTOBUF = "application/vnd.kubernetes.protobuf"
_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
_PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
_NON_RESOURCE_OPEN = ("/healthz", "/livez", "/readyz")


class RequestRecord(NamedTuple):
    """One request the sandbox answered (kept when ``record_requests`` is set)."""

    method: str
    path: str  # with the query string
    content_type: str
    status: int  # 499: the client went away before the answer was complete


@dataclasses.dataclass(frozen=True)
class ResourcePath:
    group: str
    version: str
    plural: str
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None


def parse_path(path: str) -> ResourcePath | None:
    """The resource a URL path addresses, or None for discovery and other non-resource paths."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        raise errors.NotFound("the server could not find the requested resource", details={})
    return ResourcePath(
        group=group,
        version=version,
        plural=rest[0],
        namespace=namespace,
        name=rest[1] if len(rest) > 1 else None,
        subresource=rest[2] if len(rest) > 2 else None,
    )


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


def _verb(method: str, rpath: ResourcePath, query: Mapping[str, str]) -> str:
    if method in ("GET", "HEAD"):
        if _truthy(query.get("watch")):
            return "watch"
        return "get" if rpath.name else "list"
    return {
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if rpath.name else "deletecollection",
    }.get(method, method.lower())


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
        self.bookmark_interval = bookmark_interval
        self._requests: collections.deque[RequestRecord] = collections.deque(maxlen=record_requests or 1)
        self._request_total = 0
        self._record = record_requests > 0
        self._openapi: tuple[int, dict[str, dict[str, Any]], dict[str, str]] | None = None
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._watches: set[watch.Watch] = set()
        self.host = "127.0.0.1"
        self.port = 0
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

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
        self._tasks.append(asyncio.create_task(self.collector.run(), name="kube-sandbox-gc"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for w in tuple(self._watches):
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

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        response: web.StreamResponse | None = None
        try:
            response = await self._dispatch(request)
        except errors.ApiError as exc:
            response = self._status(exc)
        except Exception as exc:
            logger.exception("sandbox error on %s %s", request.method, request.path_qs)
            response = self._status(errors.InternalError(f"sandbox error: {type(exc).__name__}: {exc}"))
        finally:
            if self._record:
                # 499, as nginx logs it: the client went away and the (watch) handler was cancelled.
                status = response.status if response is not None else 499
                ctype = request.headers.get("Content-Type", "")
                self._requests.append(RequestRecord(request.method, request.path_qs, ctype, status))
                self._request_total += 1
        return response

    def request_log(self, *, since: int = 0) -> list[RequestRecord]:
        """Recorded requests (``record_requests`` > 0), from the ``since``-th one (see ``request_count``)."""

        def copy() -> list[RequestRecord]:
            kept = list(self._requests)
            first = self._request_total - len(kept)  # older ones fell out of the bounded log
            return kept[max(since - first, 0) :]

        return self._call(copy)

    @property
    def request_count(self) -> int:
        """How many requests were recorded so far (a position for ``request_log(since=...)``)."""
        return self._request_total

    @staticmethod
    def _status(exc: errors.ApiError) -> web.Response:
        return web.Response(
            status=exc.code, body=store.encode(exc.status()), content_type=_JSON, headers=exc.headers
        )

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path in _NON_RESOURCE_OPEN:
            return web.Response(text="ok")
        rpath = parse_path(path)
        attrs = None
        if rpath is not None:
            attrs = auth.Attributes(
                verb=_verb(request.method, rpath, request.query),
                group=rpath.group,
                resource=rpath.plural,
                subresource=rpath.subresource or "",
                namespace=rpath.namespace or ("" if rpath.plural != "namespaces" else (rpath.name or "")),
                name=rpath.name or "",
            )
        delay = self.faults.latency_for(request.method, path, attrs)
        if delay > 0:
            await asyncio.sleep(delay)
        failure = self.faults.failure_for(request.method, path, attrs)
        if failure is not None:
            raise failure
        ident = self.auth.authenticate(request.headers.get("Authorization"))
        if rpath is None or attrs is None:
            return self._non_resource(request)
        if not auth.allowed(ident, attrs, stored_rbac=self._stored_rbac() if ident.rbac else ()):
            raise auth.forbidden(ident, attrs)
        return await self._resource(request, rpath, attrs.verb)

    def _stored_rbac(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for plural in ("roles", "rolebindings", "clusterroles", "clusterrolebindings"):
            rtype = self.registry.lookup("rbac.authorization.k8s.io", "v1", plural)
            if rtype is not None:
                out.extend(e.obj for e in self.store.collection(rtype).entries())
        return out

    # ----------------------------------------------------------------------------- non-resource

    def _openapi_documents(self) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        if self._openapi is None or self._openapi[0] != self.registry.generation:
            documents = openapi.all_documents(self.registry)
            hashes = {key: openapi.document_hash(doc) for key, doc in documents.items()}
            self._openapi = (self.registry.generation, documents, hashes)
        return self._openapi[1], self._openapi[2]

    def _non_resource(self, request: web.Request) -> web.Response:
        path = request.path.rstrip("/") or "/"
        if request.method != "GET":
            raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
        body: Any = None
        parts = [p for p in path.split("/") if p]
        if path == "/version":
            body = discovery.KUBE_VERSION
        elif path == "/api":
            body = discovery.api_versions(f"{self.host}:{self.port}")
        elif path == "/apis":
            body = discovery.group_list(self.registry)
        elif len(parts) == 2 and parts[0] == "api":
            body = discovery.resource_list(self.registry, "", parts[1])
        elif len(parts) == 2 and parts[0] == "apis":
            body = discovery.group(self.registry, parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            body = discovery.resource_list(self.registry, parts[1], parts[2])
        elif path == "/openapi/v3":
            _, hashes = self._openapi_documents()
            body = openapi.index(self.registry, hashes)
        elif path.startswith("/openapi/v3/"):
            documents, _ = self._openapi_documents()
            body = documents.get(path[len("/openapi/v3/") :])
        if body is None:
            raise errors.NotFound("the server could not find the requested resource", details={})
        return web.Response(body=store.encode(body), content_type=_JSON)

    # -------------------------------------------------------------------------------- resources

    def _rtype(self, rpath: ResourcePath) -> resources.ResourceType:
        rtype = self.registry.lookup(rpath.group, rpath.version, rpath.plural)
        unknown = errors.NotFound("the server could not find the requested resource", details={})
        if rtype is None:
            raise unknown
        if rpath.subresource is not None and not (rpath.subresource == "status" and rtype.status_subresource):
            raise unknown
        if rpath.namespace is not None and not rtype.namespaced:
            raise unknown
        return rtype

    async def _resource(self, request: web.Request, rpath: ResourcePath, verb: str) -> web.StreamResponse:
        rtype = self._rtype(rpath)
        query = request.query
        if rtype.namespaced and rpath.name is not None and rpath.namespace is None:
            raise errors.NotFound("the server could not find the requested resource", details={})
        if verb == "watch":
            return await self._watch(request, rtype, rpath)
        if verb == "list":
            return self._list(request, rtype, rpath)
        if verb == "get":
            assert rpath.name is not None
            entry = self.store.get(rtype, rpath.namespace, rpath.name)
            return self._object_response(request, rtype, entry)
        dry_run = bool(query.getall("dryRun", []))
        field_validation = query.get("fieldValidation", "Warn")
        if field_validation not in ("Strict", "Warn", "Ignore"):
            raise errors.BadRequest(
                f'fieldValidation: Unsupported value: "{field_validation}": '
                'supported values: "Ignore", "Strict", "Warn"'
            )
        if verb == "create":
            if rpath.name is not None:
                raise errors.MethodNotAllowed(
                    "the server does not allow this method on the requested resource"
                )
            body = await self._read_body(request)
            result = self.store.create(
                rtype, body, namespace=rpath.namespace, dry_run=dry_run, field_validation=field_validation
            )
            return self._object_response(request, rtype, result.entry, status=201, warnings=result.warnings)
        if verb == "update":
            assert rpath.name is not None
            body = await self._read_body(request)
            result = self.store.update(
                rtype,
                rpath.namespace,
                rpath.name,
                body,
                subresource=rpath.subresource,
                dry_run=dry_run,
                field_validation=field_validation,
                require_rv=True,
            )
            return self._object_response(request, rtype, result.entry, warnings=result.warnings)
        if verb == "patch":
            assert rpath.name is not None
            patch_type = _PATCH_TYPES.get(request.content_type)
            if patch_type is None or (patch_type == "strategic" and rtype.custom):
                accepted = (
                    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
                )
                if not rtype.custom:
                    accepted += ", application/strategic-merge-patch+json"
                raise errors.UnsupportedMediaType(
                    "the body of the request was in an unknown format - accepted media types include: "
                    + accepted
                )
            raw = await request.read()
            try:
                patch = yaml.safe_load(raw) if patch_type == "apply" else json.loads(raw)
            except (ValueError, yaml.YAMLError) as exc:
                raise errors.BadRequest(f"error decoding patch: {exc}") from exc
            result = self.store.patch(
                rtype,
                rpath.namespace,
                rpath.name,
                patch_type,
                patch,
                subresource=rpath.subresource,
                dry_run=dry_run,
                field_validation=field_validation,
                field_manager=query.get("fieldManager"),
                force=_truthy(query.get("force")),
            )
            return self._object_response(
                request, rtype, result.entry, status=201 if result.created else 200, warnings=result.warnings
            )
        if verb == "delete":
            assert rpath.name is not None
            options = await self._delete_options(request)
            result = self.store.delete(
                rtype,
                rpath.namespace,
                rpath.name,
                propagation=options.get("propagationPolicy"),
                preconditions=options.get("preconditions"),
                dry_run=dry_run or bool(options.get("dryRun")),
            )
            return self._object_response(request, rtype, result.entry, status=200 if result.deleted else 202)
        if verb == "deletecollection":
            options = await self._delete_options(request)
            listed = self.store.list(
                rtype,
                rpath.namespace,
                labels=selectors.parse_labels(query.get("labelSelector")),
                fields=selectors.parse_fields(query.get("fieldSelector"), supported=rtype.field_labels),
            )
            deleted = []
            for entry in listed.items:
                with contextlib.suppress(errors.NotFound):
                    deleted.append(
                        self.store.delete(
                            rtype,
                            entry.meta.get("namespace"),
                            entry.meta["name"],
                            propagation=options.get("propagationPolicy"),
                            dry_run=dry_run or bool(options.get("dryRun")),
                        ).entry
                    )
            return self._list_response(request, rtype, deleted, str(self.store.resource_version), "", None)
        raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")

    async def _read_body(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        ctype = request.content_type
        try:
            if ctype == _PROTOBUF:
                body = protobuf.decode(raw)
            elif ctype in _YAML_TYPES:
                body = yaml.safe_load(raw)
            elif ctype in (_JSON, "", "application/octet-stream", "text/plain"):
                body = json.loads(raw)
            else:
                raise errors.UnsupportedMediaType(
                    "the body of the request was in an unknown format - accepted media types include: "
                    "application/json, application/yaml, application/vnd.kubernetes.protobuf"
                )
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.BadRequest(f"the body of the request could not be decoded: {exc}") from exc
        if not isinstance(body, dict):
            raise errors.BadRequest("the body of the request must be an object")
        return body

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if request.can_read_body:
            raw = await request.read()
            if raw.strip():
                try:
                    decoded = json.loads(raw)
                except ValueError as exc:
                    raise errors.BadRequest(f"the body of the request could not be decoded: {exc}") from exc
                if isinstance(decoded, dict):
                    options.update(decoded)
        for key in ("propagationPolicy", "gracePeriodSeconds"):
            if key in request.query:
                options[key] = request.query[key]
        if "orphanDependents" in options and "propagationPolicy" not in options:
            options["propagationPolicy"] = "Orphan" if options["orphanDependents"] else "Background"
        return options

    # -------------------------------------------------------------------------------- rendering

    def _object_response(
        self,
        request: web.Request,
        rtype: resources.ResourceType,
        entry: store.Entry,
        *,
        status: int = 200,
        warnings: Sequence[str] = (),
    ) -> web.Response:
        accept = request.headers.get("Accept", "")
        table_version = tables.wants_table(accept)
        headers = _warning_headers(warnings)
        if table_version:
            rendered = tables.table(
                rtype,
                [convert.to_view(rtype, entry.obj)],
                resource_version=entry.meta.get("resourceVersion", ""),
                include_object=request.query.get("includeObject", "Metadata"),
            )
            rendered["apiVersion"] = f"meta.k8s.io/{table_version}"
            return web.Response(
                status=status, body=store.encode(rendered), content_type=_JSON, headers=headers
            )
        if "as=PartialObjectMetadata" in accept and "g=meta.k8s.io" in accept:
            body = store.encode(_partial(entry.obj))
        elif convert.is_identity(rtype):
            body = entry.raw
        else:
            body = store.encode(convert.to_view(rtype, entry.obj))
        response = web.Response(status=status, body=body, headers=headers)
        response.content_type = _JSON
        return response

    def _list(self, request: web.Request, rtype: resources.ResourceType, rpath: ResourcePath) -> web.Response:
        query = request.query
        try:
            limit = int(query.get("limit") or 0)
        except ValueError as exc:
            raise errors.BadRequest(f"invalid limit: {query.get('limit')}") from exc
        result = self.store.list(
            rtype,
            rpath.namespace,
            labels=selectors.parse_labels(query.get("labelSelector")),
            fields=selectors.parse_fields(query.get("fieldSelector"), supported=rtype.field_labels),
            limit=max(limit, 0),
            continue_token=query.get("continue", ""),
        )
        return self._list_response(
            request, rtype, result.items, result.resource_version, result.continue_token, result.remaining
        )

    def _list_response(
        self,
        request: web.Request,
        rtype: resources.ResourceType,
        items: Sequence[store.Entry],
        resource_version: str,
        continue_token: str,
        remaining: int | None,
    ) -> web.Response:
        accept = request.headers.get("Accept", "")
        table_version = tables.wants_table(accept)
        if table_version:
            rendered = tables.table(
                rtype,
                [convert.to_view(rtype, e.obj) for e in items],
                resource_version=resource_version,
                continue_token=continue_token,
                remaining=remaining,
                include_object=request.query.get("includeObject", "Metadata"),
            )
            rendered["apiVersion"] = f"meta.k8s.io/{table_version}"
            return web.Response(body=store.encode(rendered), content_type=_JSON)
        meta: dict[str, Any] = {"resourceVersion": resource_version}
        if continue_token:
            meta["continue"] = continue_token
        if remaining is not None:
            meta["remainingItemCount"] = remaining
        if "as=PartialObjectMetadataList" in accept and "g=meta.k8s.io" in accept:
            body = store.encode(
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": meta,
                    "items": [_partial(e.obj) for e in items],
                }
            )
        else:
            if convert.is_identity(rtype):
                raws = [e.raw for e in items]
            else:
                raws = [store.encode(convert.to_view(rtype, e.obj)) for e in items]
            head = store.encode({"apiVersion": rtype.api_version, "kind": rtype.list_kind, "metadata": meta})
            body = head[:-1] + b',"items":[' + b",".join(raws) + b"]}"
        response = web.Response(body=body)
        response.content_type = _JSON
        return response

    async def _watch(
        self, request: web.Request, rtype: resources.ResourceType, rpath: ResourcePath
    ) -> web.StreamResponse:
        query = request.query
        fields = selectors.parse_fields(query.get("fieldSelector"), supported=rtype.field_labels)
        if rpath.name is not None:  # the deprecated /watch-by-name form
            fields = selectors.FieldSelector(
                (*fields.terms, selectors.FieldTerm("metadata.name", rpath.name, False))
            )
        table_version = tables.wants_table(request.headers.get("Accept", ""))
        w = watch.Watch(
            self.store,
            rtype,
            namespace=rpath.namespace,
            labels=selectors.parse_labels(query.get("labelSelector")),
            fields=fields,
            bookmarks=_truthy(query.get("allowWatchBookmarks")),
            bookmark_interval=self.bookmark_interval,
            table=table_version,
            include_object=query.get("includeObject", "Metadata"),
        )
        timeout = None
        if query.get("timeoutSeconds"):
            try:
                timeout = float(query["timeoutSeconds"])
            except ValueError as exc:
                raise errors.BadRequest(f"invalid timeoutSeconds: {query['timeoutSeconds']}") from exc
        w.start(query.get("resourceVersion"), send_initial_events=_truthy(query.get("sendInitialEvents")))
        self._watches.add(w)
        try:
            response = web.StreamResponse(
                status=200, headers={"Content-Type": _JSON, "Cache-Control": "no-cache, private"}
            )
            response.enable_chunked_encoding()
            await response.prepare(request)

            def connected() -> bool:
                transport = request.transport
                return transport is not None and not transport.is_closing()

            with contextlib.suppress(ConnectionResetError, ConnectionError):
                await w.run(response, duration=timeout, is_connected=connected)
                await response.write_eof()
            return response
        finally:
            w.close()
            self._watches.discard(w)

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


def _partial(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def _warning_headers(warnings: Sequence[str]) -> dict[str, str] | Any:
    if not warnings:
        return None
    from multidict import CIMultiDict

    headers: CIMultiDict[str] = CIMultiDict()
    for text in warnings:
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        headers.add("Warning", f'299 - "{escaped}"')
    return headers
