"""Exponential backoff settings, shared by ServiceRun retries and EventPoll sink retries."""

from __future__ import annotations

from typing import Annotated

import pydantic
import pydantic_core

from orchestration_operator.api import base, durations, fields

_BACKOFF_ORDER = "initialInterval must not be longer than maxInterval"


class Backoff(base.SpecModel):
    """Exponential backoff between attempts: doubling from initialInterval up to maxInterval, jittered."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=base.validations(
            base.cel(
                "!has(self.initialInterval) || !has(self.maxInterval) || "
                "duration(self.initialInterval) <= duration(self.maxInterval)",
                _BACKOFF_ORDER,
            )
        )
    )

    initial_interval: Annotated[str, fields.Duration(minimum="100ms", maximum="1h")] = pydantic.Field(
        default="1s", description="Delay before the second attempt."
    )
    max_interval: Annotated[str, fields.Duration(minimum="100ms", maximum="24h")] = pydantic.Field(
        default="1m", description="Longest delay between two attempts."
    )

    @pydantic.model_validator(mode="after")
    def _ordered(self) -> Backoff:
        if durations.parse(self.initial_interval) > durations.parse(self.max_interval):
            raise pydantic_core.PydanticCustomError("backoff_order", _BACKOFF_ORDER)
        return self
