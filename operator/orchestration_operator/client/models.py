"""pydantic models of what the Orchestration API sends and receives.

Response models accept and keep unknown fields (``extra="allow"``) and the shapes PHP produces by
accident: a PHP array whose keys are not 0..n-1 is JSON-encoded as an object, so any list may arrive as
an object keyed by position or id; numeric strings and numbers stand in for each other. Request models
forbid unknown fields so that a typo in our own code fails here rather than being ignored by Drupal.

``client`` builds requests from these models and parses answers into them; ``responses`` decides what
shape is wrong enough to be an ``InvalidResponse``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated, Any, Self

import pydantic

JsonScalar = str | int | float | bool | None


def _values_if_mapping(value: Any) -> Any:
    # {"0": {...}, "2": {...}} is how json_encode() writes a PHP list after array_filter() or uasort().
    return list(value.values()) if isinstance(value, dict) else value


def _empty_if_none(value: Any) -> Any:
    return "" if value is None else value


Text = Annotated[str, pydantic.BeforeValidator(_empty_if_none)]


class _Response(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow", coerce_numbers_to_str=True, frozen=True)


class Option(_Response):
    """One allowed value of a config item (from a Choice constraint): ``key`` is sent, ``name`` is shown."""

    # PHP turns numeric-string array keys into integers, so keys arrive as JSON strings or numbers:
    # kept exactly as sent, since that is the value Drupal compares against.
    key: str | int | float | bool
    name: Text = ""


def _options(value: Any) -> Any:
    if isinstance(value, dict) and not all(isinstance(v, dict) for v in value.values()):
        return [{"key": k, "name": v} for k, v in value.items()]  # {"key": "name"}: a bare choice map
    value = _values_if_mapping(value)
    if isinstance(value, list):
        return [
            {"key": item, "name": str(item)} if isinstance(item, (str, int, float, bool)) else item
            for item in value
        ]
    return value


class ConfigItem(_Response):
    """One input of a service, as listed by ``GET /orchestration/services`` (sorted by ``weight``)."""

    key: str
    label: Text = ""
    description: Text = ""
    required: bool = False
    # A Drupal typed-data name with no fixed list: string, boolean, integer, entity:node, ...
    type: Text = "string"
    editable: bool = True
    default_value: Any = None
    weight: int | float = 0
    options: Annotated[list[Option], pydantic.BeforeValidator(_options)] = []


class Service(_Response):
    """One service of the catalog: ``id`` is ``provider::service`` (see ``ids.parse_service_id``)."""

    id: str
    label: Text = ""
    description: Text = ""
    config: Annotated[list[ConfigItem], pydantic.BeforeValidator(_values_if_mapping)] = []


def _whole_seconds(value: Any) -> Any:
    # Sites may hand back the float some clients send (1764000000.123) or a numeric string: the cursor is
    # whole seconds, and flooring keeps an item inside the second it happened in.
    if isinstance(value, bool):
        raise ValueError("a timestamp cannot be a boolean")
    if isinstance(value, float) and math.isfinite(value):
        return math.floor(value)
    if isinstance(value, str):
        try:
            return math.floor(float(value)) if value.strip() else value
        except ValueError:
            return value
    return value


class PollItem(_Response):
    """One event from ``POST /orchestration/poll``: ``timestamp`` in timestamp mode, ``id`` in id mode."""

    timestamp: Annotated[int | None, pydantic.BeforeValidator(_whole_seconds)] = None
    id: str | None = None
    data: Any = None


ServiceList = pydantic.TypeAdapter(
    Annotated[list[Service], pydantic.BeforeValidator(_values_if_mapping)],
)
PollItemList = pydantic.TypeAdapter(
    Annotated[list[PollItem], pydantic.BeforeValidator(_values_if_mapping)],
)


# --- requests ------------------------------------------------------------------------------------------


class _Request(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def wire(self) -> dict[str, Any]:
        """The JSON object sent: aliases applied, absent optional fields left out entirely.

        ``exclude_none`` acts on this model's own fields only; ``None`` inside a free-form ``config``
        dict is a value the caller chose and is sent as ``null``.
        """
        return self.model_dump(by_alias=True, exclude_none=True)


class ExecuteRequest(_Request):
    id: str
    config: dict[str, Any]


class RegisterWebhookRequest(_Request):
    id: str
    # Drupal reads exactly this key, with a capital H.
    url: str = pydantic.Field(alias="webHookUrl")


class UnregisterWebhookRequest(_Request):
    id: str


class PollRequest(_Request):
    name: str
    timestamp: pydantic.StrictInt | None = None
    id: pydantic.StrictStr | None = None

    @pydantic.model_validator(mode="after")
    def _exactly_one_cursor(self) -> Self:
        # Drupal silently prefers the timestamp when both are sent, and answers 400 when neither is.
        if (self.timestamp is None) == (self.id is None):
            raise ValueError("poll needs exactly one of timestamp or id")
        if self.timestamp is not None and self.timestamp < 0:
            raise ValueError("poll timestamp must not be negative")
        return self


# --- results -------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, repr=False)
class ExecuteResult:
    """What a service returned: any JSON value (object, list, string such as ``"undefined"``, ...)."""

    value: Any
    raw: bytes  # the body exactly as received, for digests and for storing large results verbatim

    @property
    def reported_error(self) -> str | None:
        """The message of a failure the provider reported inside a 200 (``{"success": false, ...}``)."""
        if isinstance(self.value, dict) and self.value.get("success") is False:
            error = self.value.get("error", self.value.get("message"))
            return str(error) if error is not None else "the service reported success: false"
        return None

    def __repr__(self) -> str:
        # Results may hold personal data: a repr (logs, tracebacks) shows their size and kind only.
        return f"ExecuteResult(<{type(self.value).__name__}, {len(self.raw)} bytes>)"
