"""Field types shared by the kind models, each checked the same way in Python and in the CRD.

A type here is ``Annotated[<python type>, <marker>]``. The marker validates in Python with a message
a person understands (the operator puts it in an ``InvalidSpec`` condition) and adds the equivalent
constraints to the JSON schema that :mod:`orchestration_operator.api.crdgen` turns into the CRD
(``pattern``, ``maxLength``, CEL rules), so the API server refuses the same input at admission. The
tests hold the two sides equal on tables of tricky values.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from typing import Annotated, Any, Final

import pydantic
import pydantic_core
from pydantic_core import core_schema

from orchestration_operator.api import durations

JsonSchema = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Text:
    """A string constraint: length bounds and an optional anchored ``pattern`` with a readable message.

    Python applies the pattern with ``re.search``, as the API server applies OpenAPI patterns (unanchored
    search; the patterns here are anchored themselves).
    """

    max_length: int
    pattern: str | None = None
    message: str = ""
    min_length: int = 1
    #: CEL rules for the CRD only, restating the pattern with a better admission message; the Python
    #: check is the pattern (tests hold them equal).
    rules: tuple[tuple[str, str], ...] = ()

    def __get_pydantic_core_schema__(
        self, source: Any, handler: pydantic.GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: pydantic.GetJsonSchemaHandler
    ) -> JsonSchema:
        json_schema = handler(schema)
        json_schema["minLength"] = self.min_length
        json_schema["maxLength"] = self.max_length
        if self.pattern is not None:
            json_schema["pattern"] = self.pattern
        if self.rules:
            json_schema["x-kubernetes-validations"] = [
                {"rule": rule, "message": message} for rule, message in self.rules
            ]
        return json_schema

    def check(self, value: str) -> str:
        if len(value) < self.min_length:
            if self.min_length == 1:
                raise pydantic_core.PydanticCustomError("text_empty", "must not be empty")
            raise pydantic_core.PydanticCustomError(
                "text_too_short", "must be at least {min} characters", {"min": self.min_length}
            )
        if len(value) > self.max_length:
            raise pydantic_core.PydanticCustomError(
                "text_too_long", "must be at most {max} characters", {"max": self.max_length}
            )
        if self.pattern is not None and not re.search(self.pattern, value):
            raise pydantic_core.PydanticCustomError("text_pattern", self.message)
        return value


@dataclasses.dataclass(frozen=True)
class Duration:
    """A duration string (``30s``, ``5m``, ``1h30m``) with optional inclusive bounds.

    The CRD gets :data:`durations.PATTERN`, a ``maxLength``, and one CEL rule per bound using CEL's
    ``duration()`` (standard CEL, available in every Kubernetes version with CRD validation rules).
    """

    minimum: str | None = None
    maximum: str | None = None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: pydantic.GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: pydantic.GetJsonSchemaHandler
    ) -> JsonSchema:
        json_schema = handler(schema)
        json_schema["maxLength"] = durations.MAX_LENGTH
        json_schema["pattern"] = durations.PATTERN
        rules = []
        if self.minimum is not None:
            rules.append(
                {"rule": f"duration(self) >= duration('{self.minimum}')", "message": self._too_short()}
            )
        if self.maximum is not None:
            rules.append(
                {"rule": f"duration(self) <= duration('{self.maximum}')", "message": self._too_long()}
            )
        if rules:
            json_schema["x-kubernetes-validations"] = rules
        return json_schema

    def _too_short(self) -> str:
        return f"must be at least {self.minimum}"

    def _too_long(self) -> str:
        return f"must be at most {self.maximum}"

    def check(self, value: str) -> str:
        try:
            parsed = durations.parse(value)
        except durations.DurationError as exc:
            raise pydantic_core.PydanticCustomError("duration", str(exc)) from exc
        if self.minimum is not None and parsed < durations.parse(self.minimum):
            raise pydantic_core.PydanticCustomError("duration_too_short", self._too_short())
        if self.maximum is not None and parsed > durations.parse(self.maximum):
            raise pydantic_core.PydanticCustomError("duration_too_long", self._too_long())
        return value


def _utc(value: datetime.datetime) -> datetime.datetime:
    # The API server always sends UTC with a "Z"; a naive value can only come from Python code.
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.UTC)
    return value.astimezone(datetime.UTC)


def _rfc3339(value: datetime.datetime) -> str:
    # metav1.Time has second resolution and is written with a "Z".
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


#: A point in time, as Kubernetes writes ``metav1.Time``: RFC 3339, UTC, seconds (``2025-05-01T12:00:00Z``).
Time = Annotated[
    datetime.datetime,
    pydantic.AfterValidator(_utc),
    pydantic.PlainSerializer(_rfc3339, return_type=str, when_used="json"),
]

#: A free-form JSON object (the CRD keeps whatever it holds: ``x-kubernetes-preserve-unknown-fields``).
JsonObject = Annotated[
    dict[str, Any],
    pydantic.WithJsonSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True}),
]
#: Any JSON value: object, list, string, number, boolean (a typeless, preserved node in the CRD).
JsonValue = Annotated[Any, pydantic.WithJsonSchema({"x-kubernetes-preserve-unknown-fields": True})]

#: A Kubernetes object name (DNS-1123 subdomain), the names of Secrets, ConfigMaps and our kinds.
OBJECT_NAME: Final = Text(
    max_length=253,
    pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    message="must be a Kubernetes object name: lower-case letters, digits, '-' and '.', "
    "starting and ending with a letter or digit",
)
ObjectName = Annotated[str, OBJECT_NAME]

#: A key of a Secret or ConfigMap.
DATA_KEY: Final = Text(
    max_length=253,
    pattern=r"^[-._a-zA-Z0-9]+$",
    message="must be a Secret or ConfigMap key: letters, digits, '-', '_' and '.'",
)
DataKey = Annotated[str, DATA_KEY]

#: A DNS-1123 label: names of list entries (sinks).
LABEL_NAME: Final = Text(
    max_length=63,
    pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    message="must be lower-case letters, digits and '-', starting and ending with a letter or digit",
)
LabelName = Annotated[str, LABEL_NAME]

#: An http(s) URL of a site's base: a path prefix is fine, a query or fragment is not.
BASE_URL: Final = Text(
    max_length=2048,
    pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
    message="must be an http:// or https:// URL without query or fragment, for example "
    "https://www.example.com or https://example.com/drupal",
)
BaseUrl = Annotated[str, BASE_URL]

#: An http(s) URL of an endpoint (a webhook or sink): query strings allowed, tokens often live there.
ENDPOINT_URL: Final = Text(
    max_length=2048,
    pattern=r"^https?://[^\s/?#]+([/?#]\S*)?$",
    message="must be an http:// or https:// URL",
)
EndpointUrl = Annotated[str, ENDPOINT_URL]
