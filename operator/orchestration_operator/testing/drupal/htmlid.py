"""Drupal's ``Html::getId()``: the key under which the orchestration module stores a webhook.

The emulator's own copy, written from Drupal core's source
(``core/lib/Drupal/Component/Utility/Html.php``, unchanged from Drupal 8 to 11) and deliberately not
shared with the client: the client's ``webhook_key`` is tested against this emulator, so an error in
one cannot hide in the other.

PHP, step by step::

    $id = str_replace([' ', '_', '[', ']'], ['-', '-', '-', ''], mb_strtolower($id));
    $id = preg_replace('/[^A-Za-z0-9\\-_]/', '', $id);
    $id = preg_replace('/\\-+/', '-', $id);

The second pattern has no ``/u`` flag, so it works on UTF-8 bytes and drops every byte of a non-ASCII
character: unlike ``Html::cleanCssIdentifier()`` (which keeps U+00A1..U+FFFF), ``getId`` keeps nothing
outside ``[A-Za-z0-9_-]``. Characters whose lower case is ASCII survive (Kelvin sign ``K`` -> ``k``,
``İ`` -> ``i`` + a combining dot that is then dropped), because ``mb_strtolower`` runs first; Python's
``str.lower`` applies the same full Unicode case mapping. Leading and trailing dashes are kept.
"""

from __future__ import annotations

import re

_REPLACE = str.maketrans({" ": "-", "_": "-", "[": "-", "]": ""})
_INVALID = re.compile(r"[^A-Za-z0-9\-_]")
_DASHES = re.compile(r"-+")


def get_id(value: str) -> str:
    """Return ``Html::getId(value)`` exactly as Drupal computes it."""
    text = value.lower().translate(_REPLACE)
    text = _INVALID.sub("", text)
    return _DASHES.sub("-", text)


def php_string(value: object) -> str | None:
    """Cast a decoded JSON scalar to a string as PHP would for a string parameter, else ``None``.

    ``5`` -> ``"5"``, ``true`` -> ``"1"``, ``false`` -> ``""``, ``1.5`` -> ``"1.5"``. ``None``, lists and
    objects give ``None``: the emulator treats them as malformed requests.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    return None
