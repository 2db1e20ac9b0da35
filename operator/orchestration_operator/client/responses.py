"""Turn an HTTP answer (status, headers, body bytes) into JSON or into one of ``errors``.

Drupal answers errors in several voices: the module's ``{"error": ...}`` (500 from a service), core's
``{"message": ...}`` (often for 4xx), and full HTML pages (403 "Access denied", the generic 500 page,
a proxy's 502). None of them is ever shown raw: ``excerpt`` keeps a short, printable, tag-free summary,
preferring an HTML page's ``<title>``.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from orchestration_operator.client import errors, retry, routes

EXCERPT_CHARS = 200

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_INVISIBLE = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]+")
_SPACES = re.compile(r"\s+")
_REALM = re.compile(r'realm="([^"]*)"', re.IGNORECASE)
_UTF8_BOM = b"\xef\xbb\xbf"


def looks_like_html(body: bytes) -> bool:
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")) or b"<html" in head


def _clean(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = _SPACES.sub(" ", _UNPRINTABLE.sub(" ", text)).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def excerpt(body: bytes, *, limit: int = EXCERPT_CHARS) -> str:
    """A short, single-line, markup-free summary of ``body``, safe to show in a message or a status."""
    if not body:
        return ""
    if looks_like_html(body) or body.lstrip().startswith(b"<"):
        match = _TITLE.search(body[:65536])
        if match:
            title = _clean(html.unescape(_TAG.sub(" ", match.group(1).decode("utf-8", "replace"))), limit)
            if title:
                return title
        text = _INVISIBLE.sub(" ", body[:65536].decode("utf-8", "replace"))
        return _clean(html.unescape(_TAG.sub(" ", text)), limit)
    message = _json_string(body, "error", "message")
    if message is not None:
        return _clean(message, limit)
    return _clean(body[: limit * 4].decode("utf-8", "replace"), limit)


def _json_string(body: bytes, *keys: str) -> str | None:
    """The first of ``keys`` holding a string in a JSON object body, or None."""
    try:
        value = json.loads(body.removeprefix(_UTF8_BOM))
    except ValueError:
        return None
    if isinstance(value, dict):
        for key in keys:
            if isinstance(value.get(key), str):
                return str(value[key])
    return None


def decode_json(route: routes.Route, status: int, body: bytes) -> Any:
    """The JSON value of a success body; an ``InvalidResponse`` for anything else."""
    try:
        # A stray byte-order mark before "<?php" is a classic of PHP sites: harmless, so tolerated.
        return json.loads(body.removeprefix(_UTF8_BOM))
    except ValueError as error:
        raise invalid(route, status, body) from error


def invalid(
    route: routes.Route, status: int, body: bytes, *, expected: str = "JSON", detail: str = ""
) -> errors.InvalidResponse:
    if not body.strip():
        what = f"an empty body instead of {expected}"
    elif looks_like_html(body):
        what = f"an HTML page instead of {expected}"
    elif expected == "JSON":
        what = "a body that is not JSON"
    else:
        what = f"JSON of another shape instead of {expected}"
    summary = excerpt(body)
    message = f"{route} answered {status} with {what}{detail}"
    if summary:
        message += f": {summary!r}"
    return errors.InvalidResponse(message, status=status, route=route.name, excerpt=summary)


def _phrase(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def error_for(
    route: routes.Route,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    forbidden_hint: str = errors.FORBIDDEN_HINT,
) -> errors.OrchestrationError:
    """The error for a non-2xx answer."""
    summary = excerpt(body)
    said = f" (the site said: {summary!r})" if summary else ""
    head = f"{route} answered {_phrase(status)}"
    kwargs: dict[str, Any] = {"status": status, "route": route.name, "excerpt": summary}
    if status == 400:
        return errors.BadRequest(f"{head}{said}", **kwargs)
    if status == 401:
        match = _REALM.search(headers.get("www-authenticate", ""))
        realm = _clean(match.group(1), 100) if match else None
        site = f' (realm "{realm}")' if realm else ""
        return errors.Unauthorized(
            f"{head}{site}: no credentials reached the site; check the configured credentials, or a "
            "proxy or web server in front of PHP may drop the Authorization header",
            realm=realm,
            **kwargs,
        )
    if status == 403:
        return errors.Forbidden(f"{head} — {forbidden_hint}{said}", **kwargs)
    if status == 404:
        return errors.NotFound(
            f"{head}: the route does not exist; check the base URL (and its sub-path) and that the "
            f"orchestration module is enabled{said}",
            **kwargs,
        )
    retry_after = retry.parse_retry_after(headers.get("retry-after"), now=time.time())
    if status == 429:
        return errors.RateLimited(f"{head}{said}", retry_after=retry_after, **kwargs)
    if status == 500 and not looks_like_html(body):
        error = _json_string(body, "error")  # the module's own {"error": message}
        if error is not None:
            return errors.ServiceFailed(
                f"{route}: the site reported an error (500): {_clean(error, 1000)!r}",
                error=_clean(error, 4000),  # printable and bounded: it ends up in statuses and logs
                status=status,
                route=route.name,
            )
    if 500 <= status < 600:
        return errors.ServerError(f"{head}{said}", retry_after=retry_after, **kwargs)
    if 300 <= status < 400 and headers.get("location"):
        location = _clean(headers["location"].split("?", 1)[0], 200)
        return errors.UnexpectedStatus(
            f"{head}: redirected to {location!r}; use the final URL as the base URL", **kwargs
        )
    return errors.UnexpectedStatus(f"{head}{said}", **kwargs)
