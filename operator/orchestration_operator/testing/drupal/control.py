"""The control API: drive an emulator running in another process over JSON HTTP.

Served under ``/_emulator`` at the root of the emulator's port (outside any base path), without auth,
and only to loopback clients unless the emulator was started with ``allow_remote_control``. Its
requests are not written to the request log. Bodies and answers are JSON; a bad request answers 400
``{"error": ...}``, an unknown path 404. Path parameters are percent-decoded (``tool%3A%3Ax``).

=======  ======================================  ==============================================
method   path                                    body -> answer
=======  ======================================  ==============================================
GET      /_emulator/health                       -> {"ok": true, "url", "control_url"}
GET      /_emulator/requests[?route=R]           -> {"requests": [record, ...]}
DELETE   /_emulator/requests                     -> {"cleared": n} (log and counters)
GET      /_emulator/counts                       -> {"requests": {route: n}, "executions": {id: n}}
GET      /_emulator/settings                     -> {name: value, ...}
PATCH    /_emulator/settings                     {name: value} -> all settings
GET      /_emulator/faults                       -> {"faults": [fault, ...]}
POST     /_emulator/faults                       fault -> fault (with its id)
DELETE   /_emulator/faults                       -> {"cleared": n}
DELETE   /_emulator/faults/{id}                  -> {"removed": bool}
GET      /_emulator/polls                        -> {"polls": {name: {"mode", "items"}}}
POST     /_emulator/polls/{name}/items           {"mode", "items": [...]} -> {"count": n}
DELETE   /_emulator/polls[/{name}]               -> {}
GET      /_emulator/webhooks                     -> {"webhooks": {key: record}}
PUT      /_emulator/webhooks/{key}               {"url", ...record fields} -> record (admin edit)
DELETE   /_emulator/webhooks/{key}               -> {"removed": bool}
POST     /_emulator/webhooks/{key}/dispatch      {"data": any} -> dispatch result
GET      /_emulator/dispatches                   -> {"dispatches": [result, ...]}
POST     /_emulator/sessions/expire              {"username"?} -> {"expired": n}
POST     /_emulator/flood/reset                  -> {}
GET      /_emulator/catalog                      -> catalog (file format, behaviours included)
PUT      /_emulator/catalog                      catalog -> catalog (replaces services and polls)
POST     /_emulator/catalog/services             service -> service (adds or replaces one)
DELETE   /_emulator/catalog/services/{id}        -> {"removed": bool}
GET      /_emulator/users                        -> {"users": [user without password, ...]}
PUT      /_emulator/users/{name}                 {"password", "permissions"?, "blocked"?, "roles"?} -> user
DELETE   /_emulator/users/{name}                 -> {"removed": bool}
POST     /_emulator/reset                        -> {} (initial catalog, users, settings; all else cleared)
=======  ======================================  ==============================================

A fault is ``{"kind", "route"?, "service_id"?, "match"?, "times"?, "stage"?, "latency_ms"?,
"retry_after"?, "hang_seconds"?}`` (faults.py); a request record has the fields of
``requestlog.RequestRecord``; a webhook those of ``webhooks.WebhookRecord``.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from orchestration_operator.testing.drupal import catalog, errors, faults, users

if TYPE_CHECKING:
    from orchestration_operator.testing.drupal import server

PREFIX = "/_emulator"

Handler = Callable[["server.DrupalEmulator", web.Request, list[str], Any], Awaitable[Any]]


class _BadRequest(Exception):
    pass


async def _health(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    return {"ok": True, "url": emu.url, "control_url": emu.control_url}


async def _requests(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    route = request.query.get("route")
    return {"requests": [record.to_dict() for record in emu.calls(route)]}


async def _reset_requests(
    emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any
) -> Any:
    return {"cleared": emu.reset_log()}


async def _counts(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    return emu.counts()


async def _settings(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    return emu.settings.to_dict()


async def _patch_settings(
    emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any
) -> Any:
    return emu.update_settings(**_object(body))


async def _faults(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    return {"faults": [fault.to_dict() for fault in emu.faults]}


async def _add_fault(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    return emu.site.faults.add(faults.Fault.from_data(_object(body))).to_dict()


async def _clear_faults(
    emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any
) -> Any:
    return {"cleared": emu.clear_faults()}


async def _remove_fault(
    emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any
) -> Any:
    if not params[0].isdigit():
        raise _BadRequest("fault ids are integers")
    return {"removed": emu.remove_fault(int(params[0]))}


async def _polls(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    return {"polls": emu.poll_sources}


async def _add_poll_items(
    emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any
) -> Any:
    data = _object(body)
    items = data.get("items", [])
    if not isinstance(items, list):
        raise _BadRequest("'items' must be a list")
    return {"count": emu.add_poll_items(params[0], str(data.get("mode")), items)}


async def _clear_polls(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    emu.clear_poll_items(params[0] if params else None)
    return {}


async def _webhooks(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    return {"webhooks": {key: record.to_dict() for key, record in emu.webhooks.items()}}


async def _put_webhook(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    data = _object(body)
    if "url" not in data:
        raise _BadRequest("a webhook needs a 'url'")
    fields = {
        k: v for k, v in data.items() if k in ("id", "remote", "method", "timeout", "verify", "auth_method")
    }
    if set(data) - set(fields) - {"url"}:
        raise _BadRequest(f"unknown webhook fields: {sorted(set(data) - set(fields) - {'url'})}")
    return emu.set_webhook(params[0], data["url"], **fields).to_dict()


async def _delete_webhook(
    emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any
) -> Any:
    return {"removed": emu.remove_webhook(params[0])}


async def _dispatch(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    data = _object(body)
    return (await emu.dispatch_webhook(params[0], data.get("data"))).to_dict()


async def _dispatches(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    return {"dispatches": [result.to_dict() for result in emu.dispatches]}


async def _expire(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    username = _object(body).get("username") if body is not None else None
    if username is not None and not isinstance(username, str):
        raise _BadRequest("'username' must be a string")
    return {"expired": emu.expire_sessions(username=username)}


async def _reset_flood(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    emu.reset_flood()
    return {}


async def _catalog(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    return emu.catalog.to_data()


async def _put_catalog(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    emu.set_catalog(catalog.Catalog.from_data(_object(body)))
    return emu.catalog.to_data()


async def _add_service(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    service = catalog.Service.from_data(_object(body))
    emu.add_service(service)
    return service.to_data()


async def _remove_service(
    emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any
) -> Any:
    return {"removed": emu.remove_service(params[0])}


async def _users(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    return {"users": [user.to_data() for user in emu.users.values()]}


async def _put_user(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    return emu.set_user(users.User.from_data({**_object(body), "name": params[0]})).to_data()


async def _remove_user(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    return {"removed": emu.remove_user(params[0])}


async def _reset(emu: server.DrupalEmulator, request: web.Request, params: list[str], body: Any) -> Any:
    emu.reset()
    return {}


_SEGMENT = "([^/]+)"
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (method, re.compile(f"^{pattern}$"), handler)
    for method, pattern, handler in [
        ("GET", "/health", _health),
        ("GET", "", _health),
        ("GET", "/requests", _requests),
        ("DELETE", "/requests", _reset_requests),
        ("GET", "/counts", _counts),
        ("GET", "/settings", _settings),
        ("PATCH", "/settings", _patch_settings),
        ("GET", "/faults", _faults),
        ("POST", "/faults", _add_fault),
        ("DELETE", "/faults", _clear_faults),
        ("DELETE", f"/faults/{_SEGMENT}", _remove_fault),
        ("GET", "/polls", _polls),
        ("POST", f"/polls/{_SEGMENT}/items", _add_poll_items),
        ("DELETE", "/polls", _clear_polls),
        ("DELETE", f"/polls/{_SEGMENT}", _clear_polls),
        ("GET", "/webhooks", _webhooks),
        ("PUT", f"/webhooks/{_SEGMENT}", _put_webhook),
        ("DELETE", f"/webhooks/{_SEGMENT}", _delete_webhook),
        ("POST", f"/webhooks/{_SEGMENT}/dispatch", _dispatch),
        ("GET", "/dispatches", _dispatches),
        ("POST", "/sessions/expire", _expire),
        ("POST", "/flood/reset", _reset_flood),
        ("GET", "/catalog", _catalog),
        ("PUT", "/catalog", _put_catalog),
        ("POST", "/catalog/services", _add_service),
        ("DELETE", f"/catalog/services/{_SEGMENT}", _remove_service),
        ("GET", "/users", _users),
        ("PUT", f"/users/{_SEGMENT}", _put_user),
        ("DELETE", f"/users/{_SEGMENT}", _remove_user),
        ("POST", "/reset", _reset),
    ]
]


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _BadRequest("the body must be a JSON object")
    return body


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def handle(emu: server.DrupalEmulator, request: web.Request) -> web.Response:
    """Answer one control API request."""
    raw_path = request.rel_url.raw_path[len(PREFIX) :].rstrip("/")
    path_matches = [(m, pattern.match(raw_path), h) for m, pattern, h in ROUTES]
    path_matches = [(m, match, h) for m, match, h in path_matches if match is not None]
    if not path_matches:
        return _error(404, f"no control route {request.path}")
    chosen = [(match, h) for m, match, h in path_matches if m == request.method]
    if not chosen:
        allowed = ", ".join(sorted({m for m, _, _ in path_matches}))
        return web.json_response({"error": "method not allowed"}, status=405, headers={"Allow": allowed})
    match, handler = chosen[0]
    assert match is not None
    params = [urllib.parse.unquote(group) for group in match.groups()]
    raw = await request.read()
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        return _error(400, "the body is not JSON")
    try:
        result = await handler(emu, request, params, body)
    except (_BadRequest, errors.EmulatorError) as exc:
        return _error(400, str(exc))
    return web.json_response(result)
