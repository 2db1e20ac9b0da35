"""Condition types, reasons, the ``Condition`` model, and pure helpers that set them.

Conventions (Kubernetes API conventions, read by ``kubectl wait``, kstatus/Flux and Argo CD):

* ``Ready`` is the summary every kind has.
* ``Reconciling=True`` while work is under way (kstatus: in progress).
* ``Stalled=True`` when only a change of spec, or of a referenced Secret, can help (kstatus: failed).
* These two "abnormal-true" conditions are removed, not set to ``False``, when they stop applying.

Every reason is a constant below with a one-line doc; :data:`REASONS` maps each reason to its doc (for
documentation and tests). Reconcile code builds conditions with :func:`mark_ready`, :func:`mark_reconciling`
and :func:`mark_stalled` (which keep the three types consistent) or with :func:`set_condition` directly;
none of them reads a clock: the caller passes ``now``.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Annotated, Final, Literal

import pydantic

from orchestration_operator.api import base, fields

# --- Types -------------------------------------------------------------------------------------------

READY: Final = "Ready"
"""The summary: True when the resource does what its spec asks (connected, registered, succeeded, polling)."""
RECONCILING: Final = "Reconciling"
"""True while the operator works towards the spec (probing, registering, executing, waiting for a retry)."""
STALLED: Final = "Stalled"
"""True when the operator cannot progress without a change of the spec or of a referenced object."""

TYPES: Final = (READY, RECONCILING, STALLED)

# --- Reasons -----------------------------------------------------------------------------------------

REASONS: dict[str, str] = {}
"""Every reason defined here, mapped to its one-line documentation."""


def _reason(name: str, doc: str) -> str:
    REASONS[name] = doc
    return name


# Shared by every kind.
PROGRESSING: Final = _reason("Progressing", "The operator is working on the current generation.")
INVALID_SPEC: Final = _reason(
    "InvalidSpec", "The spec is invalid; the message names the field and what to fix."
)
SECRET_NOT_FOUND: Final = _reason(
    "SecretNotFound", "A referenced Secret, or a key in it, does not exist in the resource's namespace."
)
CONFIG_MAP_NOT_FOUND: Final = _reason(
    "ConfigMapNotFound", "A referenced ConfigMap, or a key in it, does not exist in the resource's namespace."
)
CONNECTION_NOT_FOUND: Final = _reason(
    "ConnectionNotFound",
    "The OrchestrationConnection named in connectionRef does not exist (waiting for it).",
)
CONNECTION_NOT_READY: Final = _reason(
    "ConnectionNotReady", "The referenced OrchestrationConnection is not Ready (waiting for it to recover)."
)

# How a call to the site can fail (Connection probes, and any other kind's calls).
CONNECTED: Final = _reason(
    "Connected", "The site answered the service catalog request: URL, TLS and credentials work."
)
UNAUTHORIZED: Final = _reason(
    "Unauthorized", "The site answered 401: no credentials reached it (check the Secret and auth method)."
)
FORBIDDEN: Final = _reason(
    "Forbidden",
    "The site answered 403: wrong credentials, a blocked or flood-controlled user, or a user without "
    "the 'use orchestration connect' permission.",
)
UNREACHABLE: Final = _reason(
    "Unreachable", "The site could not be reached: DNS failure, connection refused or reset."
)
TIMEOUT: Final = _reason("Timeout", "The site did not answer within the configured timeout.")
TLS_ERROR: Final = _reason(
    "TLSError", "The TLS handshake failed: untrusted or expired certificate, wrong host name, bad CA."
)
INVALID_RESPONSE: Final = _reason(
    "InvalidResponse",
    "The site answered something that is not the Orchestration API's JSON (an HTML page, a proxy error, "
    "a truncated body); check the URL and that the module is enabled.",
)
SERVER_ERROR: Final = _reason(
    "ServerError", "The site answered a 5xx error outside the module's own error shape."
)

# OrchestrationWebhook.
REGISTERED: Final = _reason("Registered", "The webhook URL is registered on the site under registeredKey.")
KEY_CONFLICT: Final = _reason(
    "KeyConflict",
    "Another OrchestrationWebhook of the same connection already owns the Drupal key this webhookId "
    "normalizes to; nothing was overwritten.",
)
REGISTRATION_FAILED: Final = _reason(
    "RegistrationFailed", "The site refused or failed the register call; the operator retries."
)
UNREGISTERED: Final = _reason("Unregistered", "The webhook was removed from the site (event reason).")
UNREGISTER_ABANDONED: Final = _reason(
    "UnregisterAbandoned",
    "Unregistering kept failing past unregisterAttempts / unregisterTimeout; the finalizer was released "
    "and the key may remain on the site (Warning event reason).",
)

# ServiceRun.
PENDING: Final = _reason("Pending", "The run has not been started yet.")
EXECUTING: Final = _reason("Executing", "The execute call is in flight.")
RETRYING: Final = _reason(
    "Retrying", "The last attempt provably did not reach the site (or retry was opted into); retrying."
)
SUCCEEDED: Final = _reason("Succeeded", "The service ran and returned a result.")
SERVICE_NOT_FOUND: Final = _reason(
    "ServiceNotFound", "The serviceId is not in the site's catalog; execute was not called."
)
VALIDATION_FAILED: Final = _reason(
    "ValidationFailed",
    "The config does not match the service's catalog entry (missing required key, wrong type, value not "
    "among the options, or an unknown key with unknownKeys: Refuse); execute was not called.",
)
SERVICE_FAILED: Final = _reason(
    "ServiceFailed", "The service threw: the site answered 500 with the service's error message."
)
REQUEST_REJECTED: Final = _reason(
    "RequestRejected", "The site rejected the execute request with a 4xx status other than 401 and 403."
)
RATE_LIMITED: Final = _reason(
    "RateLimited",
    "The site (or a proxy) answered 429: the request was refused before running; retried later.",
)
UNKNOWN_CONFIG_KEYS: Final = _reason(
    "UnknownConfigKeys",
    "The config has keys the service's catalog entry does not declare; with unknownKeys: Warn the run "
    "executes anyway (Warning event reason).",
)
OUTCOME_UNKNOWN: Final = _reason(
    "OutcomeUnknown",
    "The execute call may or may not have run (timeout, gateway error, or the operator stopped mid-call); "
    "it is not repeated unless retry.unknownOutcome is Retry.",
)

# EventPoll.
POLLING: Final = _reason("Polling", "The last poll succeeded and every sink accepted its events.")
SUSPENDED: Final = _reason("Suspended", "spec.suspend is true: no polls until it is false again.")
POLL_FAILED: Final = _reason(
    "PollFailed", "The poll request failed; the cursor is unchanged and the operator retries with backoff."
)
SINK_FAILING: Final = _reason(
    "SinkFailing",
    "A sink keeps refusing events; the cursor is held (nothing is skipped) and delivery is retried with "
    "backoff.",
)

# --- The model ---------------------------------------------------------------------------------------

ConditionStatus = Literal["True", "False", "Unknown"]
TRUE: Final = "True"
FALSE: Final = "False"
UNKNOWN: Final = "Unknown"

#: Kubernetes' bound on a condition message; longer messages are cut by the helpers below.
MAX_MESSAGE_LENGTH: Final = 32768

_TYPE = fields.Text(
    max_length=316,
    pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
    message="must be a condition type such as Ready",
)
_REASON = fields.Text(
    max_length=1024,
    pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
    message="must be a CamelCase reason",
)


class Condition(base.StatusModel):
    """One aspect of the resource's state, per the Kubernetes API conventions (metav1.Condition)."""

    type: Annotated[str, _TYPE] = pydantic.Field(
        description="Type of condition: Ready (the summary), Reconciling or Stalled."
    )
    status: ConditionStatus = pydantic.Field(description="Status of the condition: True, False or Unknown.")
    reason: Annotated[str, _REASON] = pydantic.Field(
        description="A CamelCase word saying why the condition has this status (see the reason list)."
    )
    message: str = pydantic.Field(
        default="",
        max_length=MAX_MESSAGE_LENGTH,
        description="A human readable explanation, with what to fix when something is wrong.",
    )
    last_transition_time: fields.Time = pydantic.Field(
        description="When the condition last changed from one status to another."
    )
    observed_generation: int | None = pydantic.Field(
        default=None, ge=0, description="The metadata.generation this condition was computed from."
    )


# --- Pure helpers ------------------------------------------------------------------------------------


def find(conditions: Sequence[Condition], type_: str) -> Condition | None:
    """The condition of type ``type_``, if present."""
    return next((condition for condition in conditions if condition.type == type_), None)


def is_true(conditions: Sequence[Condition], type_: str) -> bool:
    """Whether the condition ``type_`` is present with status ``True``."""
    condition = find(conditions, type_)
    return condition is not None and condition.status == TRUE


def remove(conditions: Sequence[Condition], type_: str) -> list[Condition]:
    """A copy of ``conditions`` without the condition ``type_``."""
    return [condition for condition in conditions if condition.type != type_]


def set_condition(
    conditions: Sequence[Condition],
    *,
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    now: datetime.datetime,
    generation: int | None = None,
) -> list[Condition]:
    """A copy of ``conditions`` with ``type_`` set (replaced in place, or appended).

    ``lastTransitionTime`` moves to ``now`` only when the status changes (or the condition is new), as the
    conventions require; reason, message and observedGeneration always take the new values. Messages are
    cut to :data:`MAX_MESSAGE_LENGTH` so the status write stays valid.
    """
    previous = find(conditions, type_)
    transition = now if previous is None or previous.status != status else previous.last_transition_time
    updated = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=_cut(message),
        last_transition_time=transition,
        observed_generation=generation,
    )
    if previous is None:
        return [*conditions, updated]
    return [updated if condition.type == type_ else condition for condition in conditions]


def mark_ready(
    conditions: Sequence[Condition],
    *,
    reason: str,
    message: str,
    now: datetime.datetime,
    generation: int | None = None,
) -> list[Condition]:
    """The resource does what its spec asks: ``Ready=True``; ``Reconciling`` and ``Stalled`` removed."""
    updated = set_condition(
        conditions,
        type_=READY,
        status=TRUE,
        reason=reason,
        message=message,
        now=now,
        generation=generation,
    )
    return remove(remove(updated, RECONCILING), STALLED)


def mark_reconciling(
    conditions: Sequence[Condition],
    *,
    reason: str,
    message: str,
    now: datetime.datetime,
    generation: int | None = None,
    ready: ConditionStatus = FALSE,
) -> list[Condition]:
    """Work is under way or waiting to be retried: ``Reconciling=True``, ``Ready=<ready>``, no ``Stalled``.

    Both conditions carry the same reason and message. Pass ``ready="True"`` to keep a resource Ready
    while it refreshes (for example a Connection re-probing a site that answered last time), or
    ``"Unknown"`` when the outcome is not known yet.
    """
    updated = set_condition(
        conditions,
        type_=RECONCILING,
        status=TRUE,
        reason=reason,
        message=message,
        now=now,
        generation=generation,
    )
    updated = set_condition(
        updated, type_=READY, status=ready, reason=reason, message=message, now=now, generation=generation
    )
    return remove(updated, STALLED)


def mark_stalled(
    conditions: Sequence[Condition],
    *,
    reason: str,
    message: str,
    now: datetime.datetime,
    generation: int | None = None,
) -> list[Condition]:
    """Only a change of spec or of a referenced object can help: ``Stalled=True``, ``Ready=False``."""
    updated = set_condition(
        conditions,
        type_=STALLED,
        status=TRUE,
        reason=reason,
        message=message,
        now=now,
        generation=generation,
    )
    updated = set_condition(
        updated, type_=READY, status=FALSE, reason=reason, message=message, now=now, generation=generation
    )
    return remove(updated, RECONCILING)


def _cut(message: str) -> str:
    if len(message) <= MAX_MESSAGE_LENGTH:
        return message
    return message[: MAX_MESSAGE_LENGTH - 3] + "..."
