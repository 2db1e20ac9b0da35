"""Variant switches: one setting per behaviour of the real module that ORCHESTRATION_API.md leaves open.

``EmulatorSettings`` is a plain mutable object, changed at run time with ``update(**changes)`` (from
Python, a sync facade, or ``PATCH /_emulator/settings``); request handlers read it on every request.
Defaults are the most likely behaviour of a real site, except ``csrf_required`` (strict by default, so
a client that forgets the header fails here rather than on some site).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_type_hints

from orchestration_operator.testing.drupal import errors


@dataclass
class EmulatorSettings:
    """The emulated site's variant switches (see each field's comment)."""

    site_name: str = "Drupal"
    # Which poll items are "new": "gt" (timestamp/id > cursor, the intended contract), "ge" (>=), "all".
    poll_comparison: Literal["gt", "ge", "all"] = "gt"
    # Order of poll items: by cursor ascending or descending, shuffled (seeded), or as added.
    poll_order: Literal["ascending", "descending", "shuffled", "insertion"] = "ascending"
    poll_shuffle_seed: int = 0
    # A float timestamp cursor: compared as is, or refused with 400 {"error"} or Drupal's 500 HTML.
    float_timestamps: Literal["accept", "reject_400", "reject_500"] = "accept"
    # Both "timestamp" and "id" in a poll: timestamp wins (the module's code), id wins, or 400 {"error"}.
    both_cursor_keys: Literal["timestamp", "id", "reject_400"] = "timestamp"
    # A poll name no model reacts to: 200 [] or 500 {"error"}.
    unknown_poll: Literal["empty", "error_500"] = "empty"
    # Body of Drupal's own 401/403/404/405 answers: an HTML page or {"message": ...}.
    error_page_format: Literal["html", "json"] = "html"
    # Whether orchestration POST routes need X-CSRF-Token when authenticated by a session cookie.
    csrf_required: bool = True
    # A request the module cannot read (no id, not an object): 500 {"error"} or Drupal's 500 HTML page.
    malformed_request: Literal["json", "html"] = "json"
    # Echoes re-encoded from PHP arrays (json_decode(..., TRUE)): {} comes back as [].
    php_arrays: bool = False
    # Flood control of basic auth and of /user/login (Drupal's user.flood defaults).
    flood_user_limit: int = 5
    flood_user_window: int = 21600
    flood_ip_limit: int = 50
    flood_ip_window: int = 3600

    def update(self, **changes: Any) -> dict[str, Any]:
        """Validate and apply ``changes`` all at once (nothing changes if one is invalid)."""
        hints = get_type_hints(type(self))
        validated: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in hints:
                raise errors.SettingsError(f"unknown setting {name!r}; known: {sorted(hints)}")
            validated[name] = _validate(name, hints[name], value)
        for name, value in validated.items():
            setattr(self, name, value)
        return self.to_dict()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def choices(cls) -> dict[str, list[Any] | str]:
        """Each setting's allowed values (or its type name), for help texts and error messages."""
        result: dict[str, list[Any] | str] = {}
        for name, hint in get_type_hints(cls).items():
            result[name] = list(get_args(hint)) if get_args(hint) else hint.__name__
        return result


def _validate(name: str, hint: Any, value: Any) -> Any:
    allowed = get_args(hint)
    if allowed:
        if value not in allowed:
            raise errors.SettingsError(f"setting {name!r} must be one of {list(allowed)}, not {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise errors.SettingsError(f"setting {name!r} must be true or false, not {value!r}")
        return value
    if hint is int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise errors.SettingsError(f"setting {name!r} must be a non-negative integer, not {value!r}")
        return value
    if not isinstance(value, str):
        raise errors.SettingsError(f"setting {name!r} must be a string, not {value!r}")
    return value
