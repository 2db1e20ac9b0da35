"""Probing a Connection's site: list its services and turn the outcome into status and conditions.

One probe (:func:`probe`) re-resolves the Connection's Secrets (``SiteRegistry.site_for(fresh=True)``:
a rotated or fixed Secret takes effect at the next probe, without a restart), lists the site's
services through the site's catalog cache (``Site.refresh_catalog``: one fetch shared with any
ServiceRun that needs the catalog meanwhile, and none of its own right after a probe), and returns the
new status, the Events for a state change, and when to probe next. The caller
(``handlers/connection.py``) writes the status and sleeps.

Conditions (see ``reconcile.failures`` for which reasons stall):

=================================  =======  ============  =======
outcome                            Ready    Reconciling   Stalled
=================================  =======  ============  =======
the site listed its services       True     -             -
Unreachable, Timeout, TLSError,    False    True          -
InvalidResponse, ServerError
Unauthorized, Forbidden,           False    -             True
SecretNotFound, InvalidSpec
=================================  =======  ============  =======

When to probe next: ``probeInterval`` after a success; after a failure that retries by itself, an
exponential backoff from :data:`failures.FIRST_RETRY` capped at ``probeInterval``; while stalled, the Secrets
are read again every :data:`STALLED_RECHECK` (capped at ``probeInterval``), which is cheap.

Credentials the site refused (401/403) are not sent again until they change (the Secret's content, or
the spec), or :data:`REFUSED_RETRY` passed: Drupal's flood control blocks a user after 5 failed logins
in 6 hours, and a user blocked by our own retries would stay refused after the Secret is fixed. Every
check in between reads the Secret only and leaves the status untouched (``lastCheckedTime`` is the
last time the *site* was asked).
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Final, Protocol

from orchestration_operator import client
from orchestration_operator.api import conditions, connection, durations
from orchestration_operator.reconcile import events, failures, sites

STALLED_RECHECK: Final = 5.0
"""Seconds between two reads of the Secrets while stalled (a fixed Secret is noticed this fast)."""
REFUSED_RETRY: Final = datetime.timedelta(hours=2)
"""Refused credentials are tried again after this long even if unchanged (a permission granted on the
site): at most 3 failed logins in Drupal's 6 hour flood window, below its limit of 5."""


class SiteSource(Protocol):
    """Where a probe gets the site's client (``reconcile.sites.SiteRegistry``)."""

    async def site_for(self, conn: connection.OrchestrationConnection, *, fresh: bool = False) -> sites.Site:
        """The Site for ``conn``; raises ``sites.SiteConfigError``."""
        ...


@dataclasses.dataclass(frozen=True)
class Refused:
    """Credentials the site refused: their fingerprint, the generation, and when."""

    fingerprint: str
    generation: int | None
    at: datetime.datetime


@dataclasses.dataclass
class ProbeMemory:
    """What a Connection's loop remembers between probes. In memory only: after a restart the first
    probe asks the site once, which is safe."""

    failures: int = 0
    refused: Refused | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Probe:
    """The outcome of one probe."""

    status: connection.OrchestrationConnectionStatus
    """The status to write (the current one, unchanged, when the site was not asked)."""
    asked_site: bool
    delay: float
    """Seconds until the next probe."""
    events: tuple[events.Event, ...] = ()


def summary(services: list[client.Service]) -> list[connection.ServiceSummary]:
    """The catalog as the status lists it: ids and labels in the site's order, bounded."""
    return [
        connection.ServiceSummary(id=service.id, label=service.label)
        for service in services[: connection.MAX_LISTED_SERVICES]
    ]


async def probe(
    conn: connection.OrchestrationConnection,
    *,
    sites_: SiteSource,
    memory: ProbeMemory,
    now: datetime.datetime,
) -> Probe:
    """Probe ``conn``'s site once; updates ``memory`` (failure count, refused credentials)."""
    interval = durations.seconds(conn.spec.probe_interval)
    generation = conn.metadata.generation
    recheck = min(interval, STALLED_RECHECK)
    try:
        site = await sites_.site_for(conn, fresh=True)
    except sites.SiteConfigError as error:
        memory.failures += 1
        return _failed(conn, failures.from_site_config_error(error), now=now, delay=recheck, asked_site=False)

    refused = memory.refused
    if (
        refused is not None
        and refused.fingerprint == site.config.fingerprint
        and refused.generation == generation
        and now - refused.at < REFUSED_RETRY
        and _still_refused(conn.status, generation)
    ):
        return Probe(status=conn.status, asked_site=False, delay=recheck)

    try:
        # Through the site's single flight: runs that need the catalog meanwhile share this fetch.
        services = list((await site.refresh_catalog()).services.values())
    except client.OrchestrationError as error:
        failure = failures.from_client_error(error, fallback=conditions.INVALID_RESPONSE)
        memory.failures += 1
        if failure.auth:
            memory.refused = Refused(site.config.fingerprint, generation, now)
            failure = dataclasses.replace(
                failure,
                message=f"{failure.message}. The site is asked again when the Secret or the spec changes "
                f"(or in {durations.format(REFUSED_RETRY)}): Drupal blocks a user after 5 failed logins.",
            )
            return _failed(conn, failure, now=now, delay=recheck, asked_site=True)
        delay = recheck if failure.stalled else failures.backoff(memory.failures, cap=interval)
        return _failed(conn, failure, now=now, delay=delay, asked_site=True)

    memory.failures = 0
    memory.refused = None
    count = len(services)
    updated = conditions.mark_ready(
        conn.status.conditions,
        reason=conditions.CONNECTED,
        message=f"The site lists {count} service{'' if count == 1 else 's'}.",
        now=now,
        generation=generation,
    )
    status = conn.status.model_copy(
        update={
            "conditions": updated,
            "observed_generation": generation,
            "service_count": count,
            "services": summary(services),
            "last_checked_time": now,
        }
    )
    return Probe(status=status, asked_site=True, delay=interval, events=_events(conn.status, status))


def _still_refused(status: connection.OrchestrationConnectionStatus, generation: int | None) -> bool:
    ready = conditions.find(status.conditions, conditions.READY)
    return (
        ready is not None
        and ready.reason in failures.AUTH_REASONS
        and ready.observed_generation == generation
    )


def _failed(
    conn: connection.OrchestrationConnection,
    failure: failures.Failure,
    *,
    now: datetime.datetime,
    delay: float,
    asked_site: bool,
) -> Probe:
    # lastCheckedTime moves only when the site was asked: a stalled Connection whose Secret is read
    # again and again then has nothing new to write.
    generation = conn.metadata.generation
    updated = events.failed(conn.status.conditions, failure, now=now, generation=generation)
    update: dict[str, object] = {"conditions": updated, "observed_generation": generation}
    if asked_site:
        update["last_checked_time"] = now
    status = conn.status.model_copy(update=update)
    return Probe(status=status, asked_site=asked_site, delay=delay, events=_events(conn.status, status))


def invalid_spec(
    status: connection.OrchestrationConnectionStatus,
    message: str,
    *,
    now: datetime.datetime,
    generation: int | None,
) -> Probe:
    """The spec does not parse: Stalled, and no probe until the spec changes (the loop is woken then)."""
    failure = failures.invalid_spec(message)
    updated = events.failed(status.conditions, failure, now=now, generation=generation)
    new = status.model_copy(update={"conditions": updated, "observed_generation": generation})
    return Probe(status=new, asked_site=False, delay=float("inf"), events=_events(status, new))


def _events(
    before: connection.OrchestrationConnectionStatus, after: connection.OrchestrationConnectionStatus
) -> tuple[events.Event, ...]:
    ready = events.ready_changed(before.conditions, after.conditions)
    if ready is None:
        return ()
    kind: events.EventType = "Normal" if ready.status == conditions.TRUE else "Warning"
    return (events.Event(kind, ready.reason, ready.message),)
