"""Identifiers of the Orchestration API: service ids and webhook storage keys.

Pure functions, no I/O: the client uses them before sending, the operator to predict what Drupal stores
(``webhook_key``) and to check service ids at admission (``parse_service_id``).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from orchestration_operator.client import errors

# Drupal's Html::getId() (core/lib/Drupal/Component/Utility/Html.php, Drupal 8 to 11):
#   $id = str_replace([' ', '_', '[', ']'], ['-', '-', '-', ''], mb_strtolower($id));
#   $id = preg_replace('/[^A-Za-z0-9\-_]/', '', $id);
#   $id = preg_replace('/\-+/', '-', $id);
# The middle pattern has no /u modifier, so PHP matches bytes: every byte of a multi-byte UTF-8
# character is outside the class and is dropped. Non-ASCII characters therefore vanish entirely. (The
# pattern that keeps U+00A1..U+FFFF belongs to Html::cleanCssIdentifier(), which getId() does not use.)
_GETID_REPLACE = str.maketrans({" ": "-", "_": "-", "[": "-", "]": None})
_GETID_DROP = re.compile(r"[^A-Za-z0-9\-_]")
_GETID_DASHES = re.compile(r"-+")


def webhook_key(webhook_id: str) -> str:
    """The key under which Drupal stores a webhook registered as ``webhook_id`` (``Html::getId``).

    ``My_Hook 1`` becomes ``my-hook-1``; ``a_b``, ``a-b`` and ``A__B`` are one and the same webhook.
    """
    # Python's str.lower() and PHP's mb_strtolower() (PHP >= 7.3) both apply Unicode's full lower-case
    # mapping, so the few non-ASCII letters that lower-case to ASCII ones agree: KELVIN SIGN -> "k",
    # "İ" (U+0130) -> "i" + U+0307.
    lowered = webhook_id.lower().translate(_GETID_REPLACE)
    return _GETID_DASHES.sub("-", _GETID_DROP.sub("", lowered))


class ServiceId(NamedTuple):
    """A parsed ``provider::service`` id. ``str()`` gives the wire form back."""

    provider: str
    service: str

    def __str__(self) -> str:
        return f"{self.provider}::{self.service}"


def parse_service_id(text: str) -> ServiceId:
    """Split ``provider::service`` on the first ``::`` (the service part may hold single colons).

    Raises ``errors.InvalidServiceId`` with a message a person can act on. Drupal itself answers an
    unknown or single-colon id with a 500, so catching it here saves a confusing round trip.
    """
    if not text:
        raise errors.InvalidServiceId("service id is empty; use provider::service")
    if text != text.strip():
        raise errors.InvalidServiceId(f"service id {text!r} has leading or trailing whitespace")
    provider, sep, service = text.partition("::")
    if not sep:
        if ":" in text:
            head, _, tail = text.partition(":")
            raise errors.InvalidServiceId(
                f"service id {text!r} has a single colon; use a double colon: {head}::{tail}"
            )
        raise errors.InvalidServiceId(
            f"service id {text!r} has no provider; use provider::service, for example eca::{text}"
        )
    if not provider:
        raise errors.InvalidServiceId(f"service id {text!r} has an empty provider before '::'")
    if not service:
        raise errors.InvalidServiceId(f"service id {text!r} has an empty service name after '::'")
    return ServiceId(provider, service)
