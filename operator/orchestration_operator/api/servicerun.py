"""ServiceRun (``srun``): one execution of a Drupal service, like a Job, at most once by default.

The spec is immutable (CEL ``self == oldSelf``); a new value of the annotation
:data:`orchestration_operator.api.names.RERUN_ANNOTATION` executes once more.

The at-most-once marker lives in status. Before each execute call the operator writes ``startedAttempt``
(one more than ``attempts``) with ``executionId``; when the call's outcome is known it writes ``attempts``
equal to ``startedAttempt`` together with the outcome. So ``startedAttempt > attempts`` means "a call was
started and its outcome was never recorded": after an operator restart the run ends ``Unknown``
(``OutcomeUnknown``) unless ``retry.unknownOutcome`` is ``Retry``.
"""

from __future__ import annotations

import enum
from typing import Annotated, Final, Literal

import pydantic
import pydantic_core

from orchestration_operator.api import base, fields, names, refs, retrying, status

SERVICE_ID_MESSAGE: Final = (
    "must be <provider>::<service> with a double colon, for example eca::send_welcome_email"
)
_SERVICE_ID = fields.Text(
    max_length=255,
    pattern=r"^[^:]+::.+$",
    message=SERVICE_ID_MESSAGE,
    rules=(("self.contains('::')", SERVICE_ID_MESSAGE),),
)
_CONFIG_KEY = fields.Text(max_length=255, pattern=r"^\S+$", message="must be a config key without spaces")
_EXACTLY_ONE_SOURCE = "set exactly one of secretKeyRef or configMapKeyRef"
IMMUTABLE_MESSAGE: Final = (
    "spec is immutable; create a new ServiceRun or set the drupal-orchestration.io/rerun annotation"
)


class Phase(enum.StrEnum):
    """Where a run is in its life."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    UNKNOWN = "Unknown"

    @property
    def finished(self) -> bool:
        """Whether the run has ended (Succeeded, Failed or Unknown)."""
        return self in (Phase.SUCCEEDED, Phase.FAILED, Phase.UNKNOWN)


class UnknownKeys(enum.StrEnum):
    """What to do with config keys the service's catalog entry does not declare."""

    WARN = "Warn"
    REFUSE = "Refuse"


class UnknownOutcome(enum.StrEnum):
    """What to do when an execute call may or may not have run."""

    STOP = "Stop"
    RETRY = "Retry"


class ValueFormat(enum.StrEnum):
    """How a value read from a Secret or ConfigMap becomes a config value."""

    TEXT = "Text"
    JSON = "JSON"


class ConfigSource(base.SpecModel):
    """One config value read from a Secret or ConfigMap key of the same namespace."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=base.validations(
            base.cel("has(self.secretKeyRef) != has(self.configMapKeyRef)", _EXACTLY_ONE_SOURCE)
        )
    )

    key: Annotated[str, _CONFIG_KEY] = pydantic.Field(
        description="The config key to set (it overrides the same key in config)."
    )
    secret_key_ref: refs.SecretKeySelector | None = pydantic.Field(
        default=None, description="Read the value from this Secret key."
    )
    config_map_key_ref: refs.ConfigMapKeySelector | None = pydantic.Field(
        default=None, description="Read the value from this ConfigMap key."
    )
    format: ValueFormat = pydantic.Field(
        default=ValueFormat.TEXT,
        description="Text uses the value as a string; JSON decodes it (numbers, booleans, lists, objects).",
    )

    @pydantic.model_validator(mode="after")
    def _exactly_one_source(self) -> ConfigSource:
        if (self.secret_key_ref is None) == (self.config_map_key_ref is None):
            raise pydantic_core.PydanticCustomError("exactly_one", _EXACTLY_ONE_SOURCE)
        return self


class RetryPolicy(base.SpecModel):
    """When an execute call is repeated. By default only calls that provably never reached the site
    (connection refused, DNS failure, TLS handshake failure) are; a service error is final."""

    max_attempts: int = pydantic.Field(
        default=3, ge=1, le=20, description="Most execute calls for one execution, counting the first."
    )
    backoff: retrying.Backoff = pydantic.Field(
        default_factory=retrying.Backoff,
        description="Delay between attempts.",
        json_schema_extra=base.EMPTY_DEFAULT,
    )
    unknown_outcome: UnknownOutcome = pydantic.Field(
        default=UnknownOutcome.STOP,
        description="When a call may have run but its outcome is unknown (timeout, 502/504, operator "
        "restarted mid-call): Stop ends the run in phase Unknown (at most once); Retry calls again (at "
        "least once; only for services that are safe to repeat).",
    )


class ResultPolicy(base.SpecModel):
    """Where the service's result is kept."""

    max_status_bytes: int = pydantic.Field(
        default=4096,
        ge=0,
        le=32768,
        description="Largest result (JSON-encoded, in bytes) kept in status.result. A larger result is "
        "stored whole in a ConfigMap owned by the run (status.resultRef); 0 always stores it there.",
    )
    sensitive: bool = pydantic.Field(
        default=False,
        description="Never put the result in status: store it in a Secret owned by the run instead.",
    )


class ServiceRunSpec(base.SpecModel):
    """One execution of a service on the site. Immutable once created."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=base.validations(base.cel("self == oldSelf", IMMUTABLE_MESSAGE))
    )

    connection_ref: refs.ConnectionReference = pydantic.Field(
        description="The OrchestrationConnection of the site that runs the service."
    )
    service_id: Annotated[str, _SERVICE_ID] = pydantic.Field(
        description="The service to execute, <provider>::<service> with a double colon, as listed in the "
        "connection's status.services (for example eca::send_welcome_email)."
    )
    config: fields.JsonObject = pydantic.Field(
        default_factory=dict,
        description="The service's config values, checked against the site's catalog before execution.",
    )
    config_from: list[ConfigSource] = pydantic.Field(
        default_factory=list,
        max_length=32,
        description="Config values read from Secrets and ConfigMaps of the namespace, merged over config.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["key"]},
    )
    timeout: Annotated[str, fields.Duration(minimum="1s", maximum="1h")] = pydantic.Field(
        default="60s",
        description="How long to wait for the execute call. A call that times out has an unknown outcome "
        "(the service may have run); see retry.unknownOutcome.",
    )
    retry: RetryPolicy = pydantic.Field(
        default_factory=RetryPolicy, description="When to call again.", json_schema_extra=base.EMPTY_DEFAULT
    )
    result: ResultPolicy = pydantic.Field(
        default_factory=ResultPolicy,
        description="Where the result is kept.",
        json_schema_extra=base.EMPTY_DEFAULT,
    )
    unknown_keys: UnknownKeys = pydantic.Field(
        default=UnknownKeys.WARN,
        description="Config keys the catalog does not declare: Warn (an event, then execute) or Refuse "
        "(fail without executing).",
    )
    ttl_seconds_after_finished: int | None = pydantic.Field(
        default=None,
        ge=0,
        description="Delete the run (and its result objects) this many seconds after it finished. Unset: "
        "keep it.",
    )

    @pydantic.field_validator("config_from")
    @classmethod
    def _unique_keys(cls, sources: list[ConfigSource]) -> list[ConfigSource]:
        seen: set[str] = set()
        for source in sources:
            if source.key in seen:
                raise pydantic_core.PydanticCustomError(
                    "duplicate_key", "key '{key}' appears more than once", {"key": source.key}
                )
            seen.add(source.key)
        return sources


class ResultRef(base.StatusModel):
    """The owned object holding a result that is not in status."""

    kind: Literal["ConfigMap", "Secret"] = pydantic.Field(description="ConfigMap, or Secret when sensitive.")
    name: str = pydantic.Field(description="Name of the ConfigMap or Secret (same namespace).")
    key: str = pydantic.Field(description="Key holding the JSON-encoded result.")


class RunError(base.StatusModel):
    """Why the run failed or has an unknown outcome."""

    http_status: int | None = pydantic.Field(
        default=None, description="The HTTP status the site answered, if it answered."
    )
    reason: str = pydantic.Field(description="The same reason as the Ready condition's, e.g. ServiceFailed.")
    message: str = pydantic.Field(
        default="",
        description="The service's error message (for a 500) or a description of the failure, shortened.",
    )


class ServiceRunStatus(status.ResourceStatus):
    """The run's progress, outcome and result."""

    phase: Phase | None = pydantic.Field(
        default=None, description="Pending, Running, Succeeded, Failed or Unknown (outcome unknown)."
    )
    start_time: fields.Time | None = pydantic.Field(
        default=None, description="When the first execute call of the current execution started."
    )
    completion_time: fields.Time | None = pydantic.Field(
        default=None, description="When the run reached Succeeded, Failed or Unknown."
    )
    execution_id: str | None = pydantic.Field(
        default=None,
        description="Identifies the current execution (one per rerun annotation value); recorded before "
        "the first call.",
    )
    started_attempt: int = pydantic.Field(
        default=0,
        ge=0,
        description="Number of the last execute call recorded as started, written before the call. Greater "
        "than attempts means a call's outcome was never recorded.",
    )
    attempts: int = pydantic.Field(
        default=0, ge=0, description="Execute calls of the current execution whose outcome is recorded."
    )
    rerun: str | None = pydantic.Field(
        default=None,
        description="The value of the drupal-orchestration.io/rerun annotation the current execution "
        "answers.",
    )
    result: fields.JsonValue = pydantic.Field(
        default=None,
        description="The service's result (object, list, string or number) when it fits maxStatusBytes "
        "and is not sensitive.",
    )
    result_ref: ResultRef | None = pydantic.Field(
        default=None, description="Where the result is when it is not in status.result."
    )
    result_truncated: bool = pydantic.Field(
        default=False,
        description="True when the result is not in status.result because it is larger than "
        "maxStatusBytes (it is whole in resultRef).",
    )
    result_bytes: int | None = pydantic.Field(
        default=None, ge=0, description="Size of the JSON-encoded result in bytes."
    )
    result_digest: str | None = pydantic.Field(
        default=None, description="'sha256:<hex>' of the JSON-encoded result as the site returned it."
    )
    error: RunError | None = pydantic.Field(
        default=None, description="Why the run failed or has an unknown outcome."
    )

    @property
    def in_flight(self) -> bool:
        """Whether a call was recorded as started without a recorded outcome."""
        return self.started_attempt > self.attempts


class ServiceRun(base.Resource):
    """One execution of a service of a Drupal site, like a Job: at most once unless told otherwise."""

    api_version: Literal["drupal-orchestration.io/v1alpha1"] = pydantic.Field(
        default="drupal-orchestration.io/v1alpha1", description="The API version."
    )
    kind: Literal["ServiceRun"] = pydantic.Field(default="ServiceRun", description="The kind.")
    spec: ServiceRunSpec = pydantic.Field(description="The desired state (immutable).")
    status: ServiceRunStatus = pydantic.Field(
        default_factory=ServiceRunStatus, description="The observed state."
    )


KIND = names.Kind(
    kind="ServiceRun",
    plural="serviceruns",
    singular="servicerun",
    short_names=("srun",),
    resource=ServiceRun,
    spec=ServiceRunSpec,
    status=ServiceRunStatus,
    printer_columns=(
        names.PrinterColumn(
            name="Service", type="string", json_path=".spec.serviceId", description="The service executed."
        ),
        names.PrinterColumn(
            name="Phase", type="string", json_path=".status.phase", description="Where the run is."
        ),
        *names.ready_columns(),
        names.PrinterColumn(
            name="Attempts",
            type="integer",
            json_path=".status.attempts",
            description="Execute calls with a recorded outcome.",
            priority=1,
        ),
        names.PrinterColumn(
            name="Completed",
            type="date",
            json_path=".status.completionTime",
            description="When the run finished.",
            priority=1,
        ),
        names.AGE_COLUMN,
    ),
)
