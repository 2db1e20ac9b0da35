"""Building the emulated site's answers: PHP-encoded JSON, Drupal's error pages, the module's errors.

Drupal's own errors (401/403/404/405) follow the ``error_page_format`` setting (HTML page or
``{"message": ...}``); 401 always carries the Basic challenge. The module's errors are
``{"error": ...}`` with 500 (or 400 for a poll without cursor). A request the module cannot read
follows ``malformed_request`` (500 ``{"error"}`` or Drupal's generic 500 HTML page).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from orchestration_operator.testing.drupal import pages, phpjson, site


def json(value: Any, *, status: int = 200) -> web.Response:
    """A ``JsonResponse`` as Symfony encodes it; an unencodable value is Drupal's 500 page."""
    try:
        body = phpjson.encode(value)
    except (TypeError, ValueError):
        return web.Response(status=500, text=pages.unexpected_error(site="Drupal"), content_type="text/html")
    return web.Response(status=status, body=body, headers={"Content-Type": "application/json"})


def module_error(message: str, *, status: int = 500) -> web.Response:
    """The orchestration module's own error shape."""
    return json({"error": message}, status=status)


def unexpected(state: site.Site) -> web.Response:
    """Drupal's generic 500 page: an exception escaped the module."""
    return web.Response(
        status=500, text=pages.unexpected_error(site=state.settings.site_name), content_type="text/html"
    )


def malformed(state: site.Site, message: str) -> web.Response:
    if state.settings.malformed_request == "html":
        return unexpected(state)
    return module_error(message)


def drupal_error(
    state: site.Site, status: int, *, reason: str = "", headers: dict[str, str] | None = None
) -> web.Response:
    """Drupal's answer to a 401/403/404/405, in the site's error format."""
    headers = dict(headers or {})
    name = state.settings.site_name
    if status == 401:
        headers["WWW-Authenticate"] = f'Basic realm="{name or "Access restricted"}"'
    if state.settings.error_page_format == "json":
        message = reason or pages.DRUPAL_ERRORS[status][2]
        response = json({"message": message}, status=status)
    else:
        response = web.Response(
            status=status, text=pages.drupal_error(status, site=name), content_type="text/html"
        )
    response.headers.update(headers)
    return response
