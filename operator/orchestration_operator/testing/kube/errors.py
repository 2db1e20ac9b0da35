"""API errors of the sandbox, each rendered as a ``meta/v1 Status`` exactly as kube-apiserver words it.

The store, the patching and selector parsers, admission and auth raise these; ``server`` turns them into
HTTP responses (and ``watch`` into in-stream ``ERROR`` events). Messages follow kube-apiserver's wording
because clients show them verbatim (``kubectl`` prints ``Error from server (NotFound): ...``).
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answered to the client as a ``Status`` object with an HTTP code."""

    code: int = 500
    reason: str = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


class BadRequest(ApiError):
    code, reason = 400, "BadRequest"


class Unauthorized(ApiError):
    code, reason = 401, "Unauthorized"


class Forbidden(ApiError):
    code, reason = 403, "Forbidden"


class NotFound(ApiError):
    code, reason = 404, "NotFound"


class MethodNotAllowed(ApiError):
    code, reason = 405, "MethodNotAllowed"


class NotAcceptable(ApiError):
    code, reason = 406, "NotAcceptable"


class AlreadyExists(ApiError):
    code, reason = 409, "AlreadyExists"


class Conflict(ApiError):
    code, reason = 409, "Conflict"


class Gone(ApiError):
    code, reason = 410, "Expired"


class UnsupportedMediaType(ApiError):
    code, reason = 415, "UnsupportedMediaType"


class Invalid(ApiError):
    code, reason = 422, "Invalid"


class TooManyRequests(ApiError):
    code, reason = 429, "TooManyRequests"


class InternalError(ApiError):
    code, reason = 500, "InternalError"


class ServiceUnavailable(ApiError):
    code, reason = 503, "ServiceUnavailable"


def qualified(resource: str, group: str) -> str:
    """``secrets`` or ``servicemonitors.monitoring.coreos.com``: how kube-apiserver names a resource."""
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> NotFound:
    return NotFound(
        f'{qualified(resource, group)} "{name}" not found',
        details={"name": name, "group": group, "kind": resource}
        if group
        else {"name": name, "kind": resource},
    )


def already_exists(resource: str, group: str, name: str) -> AlreadyExists:
    return AlreadyExists(
        f'{qualified(resource, group)} "{name}" already exists',
        details={"name": name, "group": group, "kind": resource}
        if group
        else {"name": name, "kind": resource},
    )


def conflict(resource: str, group: str, name: str, why: str | None = None) -> Conflict:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return Conflict(
        f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}',
        details={"name": name, "group": group, "kind": resource}
        if group
        else {"name": name, "kind": resource},
    )


def invalid(kind: str, group: str, name: str, causes: list[dict[str, Any]]) -> Invalid:
    """A 422 ``Invalid`` with ``details.causes``; ``causes`` hold ``reason``, ``message``, ``field``."""
    parts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    listed = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details: dict[str, Any] = {"name": name, "kind": kind, "causes": causes}
    if group:
        details["group"] = group
    return Invalid(f'{qualified(kind, group)} "{name}" is invalid: {listed}', details=details)


def field_invalid(kind: str, group: str, name: str, field: str, value: Any, why: str) -> Invalid:
    """One ``FieldValueInvalid`` cause, worded as ``Invalid value: "x": why``."""
    shown = f'"{value}"' if isinstance(value, str) else repr(value)
    cause = {"reason": "FieldValueInvalid", "message": f"Invalid value: {shown}: {why}", "field": field}
    return invalid(kind, group, name, [cause])


def field_required(kind: str, group: str, name: str, field: str, why: str = "") -> Invalid:
    message = "Required value" + (f": {why}" if why else "")
    return invalid(kind, group, name, [{"reason": "FieldValueRequired", "message": message, "field": field}])
