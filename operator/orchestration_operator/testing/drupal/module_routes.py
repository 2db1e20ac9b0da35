"""The orchestration module's five routes, as its ``Connect`` controller answers them.

Each handler gets the site and the request body as PHP's ``json_decode`` returned it (``None`` for an
empty, invalid or form-encoded body). Authentication and access are checked before (server.py).
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from orchestration_operator.testing.drupal import catalog, faults, htmlid, phpjson, responses, site

NO_CURSOR = "No timestamp or id provided."


def _php_value(state: site.Site, value: Any) -> Any:
    return phpjson.as_php_arrays(value) if state.settings.php_arrays else value


async def services(state: site.Site, body: Any) -> web.Response:
    del body
    return responses.json(state.listing())


async def execute(state: site.Site, body: Any) -> web.Response:
    service_id = body.get("id") if isinstance(body, dict) else None
    if not isinstance(service_id, str):
        return responses.malformed(state, "No service id provided.")
    service = state.service(service_id)
    if service is None:
        return responses.module_error(f'Service "{service_id}" not found.')
    config = _php_value(state, body.get("config"))
    calls = state.log.executed(service_id)
    behaviour = service.behaviour
    await faults.interruptible_sleep(behaviour.latency_ms / 1000, state.closing)
    try:
        result = await behaviour.run(config, calls=calls)
    except Exception as exc:  # a service throwing anything: the controller catches and reports it
        return responses.module_error(str(exc))
    return responses.json(_php_value(state, result))


async def register(state: site.Site, body: Any) -> web.Response:
    webhook_id = htmlid.php_string(body.get("id")) if isinstance(body, dict) else None
    if webhook_id is None:
        return responses.malformed(state, "No webhook id provided.")
    assert isinstance(body, dict)
    state.webhooks.register(htmlid.get_id(webhook_id), webhook_id=webhook_id, url=body.get("webHookUrl"))
    return responses.json(_php_value(state, body))


async def unregister(state: site.Site, body: Any) -> web.Response:
    webhook_id = htmlid.php_string(body.get("id")) if isinstance(body, dict) else None
    if webhook_id is None:
        return responses.malformed(state, "No webhook id provided.")
    state.webhooks.delete(htmlid.get_id(webhook_id))
    return responses.json(_php_value(state, body))


def _timestamp(state: site.Site, value: Any) -> int | float | web.Response:
    if isinstance(value, bool):
        return responses.malformed(state, "Invalid timestamp.")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if state.settings.float_timestamps == "reject_400":
            return responses.module_error("Invalid timestamp.", status=400)
        if state.settings.float_timestamps == "reject_500" or not math.isfinite(value):
            return responses.unexpected(state)
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():  # PHP's numeric-string coercion
        return int(value)
    return responses.malformed(state, "Invalid timestamp.")


async def poll(state: site.Site, body: Any) -> web.Response:
    data = body if isinstance(body, dict) else {}
    timestamp, item_id = data.get("timestamp"), data.get("id")  # PHP isset(): present and not null
    mode: catalog.PollMode
    if timestamp is not None and item_id is not None:
        choice = state.settings.both_cursor_keys
        if choice == "reject_400":
            return responses.module_error("Provide either a timestamp or an id, not both.", status=400)
        mode = "timestamp" if choice == "timestamp" else "id"
    elif timestamp is not None:
        mode = "timestamp"
    elif item_id is not None:
        mode = "id"
    else:
        return responses.module_error(NO_CURSOR, status=400)
    cursor: int | float | str
    if mode == "timestamp":
        parsed = _timestamp(state, timestamp)
        if isinstance(parsed, web.Response):
            return parsed
        cursor = parsed
    else:
        as_string = htmlid.php_string(item_id)
        if as_string is None:
            return responses.malformed(state, "Invalid id.")
        cursor = as_string
    name = htmlid.php_string(data.get("name")) or ""
    items = state.polls.select(name, mode, cursor, state.settings)
    if items is None:
        if state.settings.unknown_poll == "error_500":
            return responses.module_error(f'No poll event "{name}" is configured.')
        items = []
    return responses.json(items)


# route name -> (allowed methods, handler)
HANDLERS = {
    "services": (("GET", "HEAD"), services),
    "execute": (("POST",), execute),
    "register": (("POST",), register),
    "unregister": (("POST",), unregister),
    "poll": (("POST",), poll),
}
