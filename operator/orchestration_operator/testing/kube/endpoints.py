"""The HTTP side of the sandbox: routing, verbs, content types, rendering and watch streams.

``Endpoints.handle`` answers every request as kube-apiserver would. It maps the URL to (group, version,
namespace, plural, name, subresource) and the method and query to an RBAC verb; consults ``faults``;
authenticates and authorizes (``auth``); decodes the body (JSON, YAML, Kubernetes protobuf) or picks the
patch type from the content type; calls the ``store``; and renders the answer: JSON, a ``tables`` Table
when ``Accept`` asks for one, ``PartialObjectMetadata``, or a ``watch`` stream. Discovery and OpenAPI
documents come from ``discovery`` and ``openapi``. ``server.KubeSandbox`` owns one ``Endpoints``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import yaml
from aiohttp import web

from orchestration_operator.testing.kube import (
    auth,
    convert,
    discovery,
    errors,
    faults,
    openapi,
    protobuf,
    resources,
    selectors,
    store,
    tables,
    watch,
)

logger = logging.getLogger(__name__)

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
    user: str = ""  # who sent it (the token's user, system:anonymous); "" for an unknown token


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


class Endpoints:
    """Answers the sandbox's HTTP requests from its store."""

    def __init__(
        self,
        db: store.Store,
        authenticator: auth.Authenticator,
        fault_rules: faults.Faults,
        *,
        bookmark_interval: float,
        record_requests: int,
    ) -> None:
        self.store = db
        self.registry = db.registry
        self.auth = authenticator
        self.faults = fault_rules
        self.bookmark_interval = bookmark_interval
        self.server_address = ""  # host:port, for /api
        self.watches: set[watch.Watch] = set()
        self._requests: collections.deque[RequestRecord] = collections.deque(maxlen=record_requests or 1)
        self._request_total = 0
        self._record = record_requests > 0
        self._openapi: tuple[int, dict[str, dict[str, Any]], dict[str, str]] | None = None

    # -------------------------------------------------------------------------------- requests

    async def handle(self, request: web.Request) -> web.StreamResponse:
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
                user = self.auth.user_of(request.headers.get("Authorization"))
                self._requests.append(RequestRecord(request.method, request.path_qs, ctype, status, user))
                self._request_total += 1
        return response

    def request_log(self, *, since: int = 0) -> list[RequestRecord]:
        """Recorded requests, from the ``since``-th one (call on the sandbox's loop)."""
        kept = list(self._requests)
        first = self._request_total - len(kept)  # older ones fell out of the bounded log
        return kept[max(since - first, 0) :]

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
            body = discovery.api_versions(self.server_address)
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
        self.watches.add(w)
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
            self.watches.discard(w)


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
