"""The status fields every kind shares: ``observedGeneration`` and ``conditions``.

Each kind's status model (``connection``, ``webhook``, ``servicerun``, ``eventpoll``) extends
:class:`ResourceStatus`; the conditions themselves and the helpers that set them are in
:mod:`orchestration_operator.api.conditions`.
"""

from __future__ import annotations

import pydantic

from orchestration_operator.api import base, fields
from orchestration_operator.api import conditions as conditions_  # the field below is named `conditions`


class ResourceStatus(base.StatusModel):
    """Fields common to every status: what generation was handled and the conditions."""

    observed_generation: int | None = pydantic.Field(
        default=None,
        ge=0,
        description="The metadata.generation the operator last acted on. Status is current when it "
        "equals metadata.generation.",
    )
    conditions: list[conditions_.Condition] = pydantic.Field(
        default_factory=list,
        max_length=16,
        description="Ready (the summary), Reconciling (work under way) and Stalled (a change of spec or of "
        "a referenced object is needed), per the Kubernetes API conventions.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    kopf: fields.JsonObject | None = pydantic.Field(
        default=None,
        description="Internal bookkeeping of the kopf framework (handler progress and the last handled "
        "spec). Not part of the API; do not edit.",
    )
