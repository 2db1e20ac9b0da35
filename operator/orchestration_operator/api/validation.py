"""Turning a resource's raw ``spec`` into its model, with errors fit for an ``InvalidSpec`` condition.

Handlers call :func:`parse_spec` on what kopf hands them; a :class:`InvalidSpecError` carries a
message such as ``spec.timeout: invalid duration '5 minutes': use a number with a unit (ms, s, m or h),
for example 30s, 5m or 1h30m; spec.retry.maxAttempts: Input should be less than or equal to 20``.
Field paths are the camelCase paths a person sees in YAML; input values are never echoed by this
module (a URL may hold a token), only by the few messages that name a harmless value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, TypeVar

import pydantic

from orchestration_operator.api import base

ModelT = TypeVar("ModelT", bound=base.Model)

#: The longest message an InvalidSpecError carries (a condition message should stay readable).
MAX_MESSAGE_LENGTH: Final = 2048

# pydantic's wording where it is unclear to a person writing YAML.
_MESSAGES: Final = {
    "extra_forbidden": "unknown field",
    "missing": "required field is missing",
}


class InvalidSpecError(ValueError):
    """The spec does not fit the model. ``message`` lists every problem, one per field."""

    def __init__(self, message: str, *, errors: tuple[str, ...]) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


def parse_spec(model: type[ModelT], spec: Mapping[str, Any], *, root: str = "spec") -> ModelT:
    """Validate ``spec`` into ``model``; raise :class:`InvalidSpecError` naming each bad field."""
    try:
        return model.model_validate(dict(spec))
    except pydantic.ValidationError as exc:
        problems = describe(exc, root=root)
        message = "; ".join(problems)
        if len(message) > MAX_MESSAGE_LENGTH:
            message = message[: MAX_MESSAGE_LENGTH - 3] + "..."
        # Not chained: pydantic's own text repeats every input value, and a URL may carry a token.
        raise InvalidSpecError(message, errors=problems) from None


def describe(exc: pydantic.ValidationError, *, root: str = "spec") -> tuple[str, ...]:
    """One ``<path>: <problem>`` line per error of ``exc``, in pydantic's order, without input values."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        path = _path(root, error["loc"])
        lines.append(f"{path}: {_MESSAGES.get(error['type'], error['msg'])}")
    return tuple(dict.fromkeys(lines))


def _path(root: str, loc: tuple[int | str, ...]) -> str:
    path = root
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path
