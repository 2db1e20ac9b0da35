"""State every kind's handlers share: the site registry and the index of Connections.

- ``memo.sites`` (:class:`reconcile.sites.SiteRegistry`): one client per Drupal site for the life of
  the operator, created at startup and closed at cleanup.
- ``memo.kube`` (:class:`handlers.kube.KubeObjects`): Secrets, owned ConfigMaps and Secrets.
- ``memo.lifecycle`` (:class:`Lifecycle`): whether the operator works, is paused by peering or stops, for
  the work kopf does not run itself (ServiceRun wake-ups).
- ``connections`` (a kopf index, passed to every handler as the ``connections`` keyword): every
  OrchestrationConnection body by ``(namespace, name)``, so webhooks, runs and polls find their
  connection (and whether it is Ready) without an API call.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Mapping
from typing import Any

import kopf

from orchestration_operator import metrics, settings
from orchestration_operator.api import conditions, connection, names
from orchestration_operator.handlers import kube, logref
from orchestration_operator.reconcile import sites

CONNECTIONS = "orchestrationconnections"


@dataclasses.dataclass
class Lifecycle:
    """Whether the operator works, stands by (peering paused it) or stops, as its daemons hear it.

    kopf stops every daemon when the operator exits (SIGTERM) or pauses (a peer of higher priority took
    over), and starts them again after a pause. Work that runs outside kopf's handlers (ServiceRun
    wake-ups) reads this: none starts while paused or stopping. kopf runs the cleanup only after its own
    handlers in flight finished (up to ``queueing.exit_timeout``); measured from the moment the operator
    began to stop, what is left of that budget bounds the rest of the shutdown, which then stays within
    the pod's termination grace period.
    """

    stopping_since: float | None = None
    paused: bool = False

    def daemon_started(self) -> None:
        self.paused = False  # kopf starts daemons only while the operator works

    def daemon_stopped(self, stopped: kopf.DaemonStopped) -> None:
        reason = stopped.reason
        if reason is None:
            return
        if kopf.DaemonStoppingReason.OPERATOR_EXITING in reason:
            self.begin_stopping()
        if kopf.DaemonStoppingReason.OPERATOR_PAUSING in reason:
            self.paused = True

    def begin_stopping(self) -> None:
        """The operator stops (a daemon heard it, or the cleanup began): the first moment counts."""
        if self.stopping_since is None:
            self.stopping_since = time.monotonic()

    @property
    def stopping(self) -> bool:
        return self.stopping_since is not None

    def remaining(self, budget: float) -> float:
        """What is left of ``budget`` seconds counted from the start of the shutdown (all of it if none)."""
        if self.stopping_since is None:
            return budget
        return max(0.0, budget - (time.monotonic() - self.stopping_since))


def lifecycle_of(memo: kopf.Memo) -> Lifecycle:
    """The operator's one :class:`Lifecycle` (created by the first startup handler that asks)."""
    found = memo.get("lifecycle")
    if not isinstance(found, Lifecycle):
        found = memo["lifecycle"] = Lifecycle()
    return found


@kopf.on.startup()
async def create_shared_state(memo: kopf.Memo, **_: Any) -> None:
    config = settings.current()
    lifecycle_of(memo)
    memo.kube = kube.KubeObjects()
    memo.sites = sites.SiteRegistry(
        secrets=memo.kube,
        secret_cache_seconds=config.secret_cache_seconds,
        on_request=_count_request,
        log_extra=_connection_ref,
    )


async def close(memo: kopf.Memo) -> None:
    """Close every site's client (called last by ``handlers.all.shutdown``)."""
    registry: sites.SiteRegistry | None = getattr(memo, "sites", None)
    if registry is not None:
        await registry.aclose()


def _connection_ref(site: sites.SiteKey) -> dict[str, Any]:
    """The client's retry lines carry the Connection they are about, like kopf's own lines."""
    namespace, connection_name = site
    return logref.extra(CONNECTIONS, namespace=namespace, name=connection_name)


def _count_request(site: sites.SiteKey, route: str, outcome: str, seconds: float) -> None:
    namespace, connection_name = site
    metrics.API_LATENCY.labels(route).observe(seconds)
    metrics.API_REQUESTS.labels(namespace, connection_name, route, outcome).inc()


@kopf.index(names.GROUP, names.VERSION, CONNECTIONS)  # type: ignore[arg-type]
def connections(namespace: str, name: str, body: kopf.Body, **_: Any) -> dict[tuple[str, str], Any]:
    return {
        (namespace, name): {
            "metadata": dict(body.metadata),
            "spec": dict(body.spec),
            "status": dict(body.status),
        }
    }


class ConnectionUnavailable(Exception):
    """The referenced Connection is missing, invalid or not Ready; ``reason`` is a condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def find_connection(
    index: kopf.Index[tuple[str, str], Any], *, namespace: str, name: str, require_ready: bool = True
) -> connection.OrchestrationConnection:
    """The Connection ``name`` of ``namespace`` from the index, or :class:`ConnectionUnavailable`."""
    bodies = index.get((namespace, name))
    body: Mapping[str, Any] | None = next(iter(bodies), None) if bodies is not None else None
    if body is None:
        raise ConnectionUnavailable(
            conditions.CONNECTION_NOT_FOUND,
            f'OrchestrationConnection "{name}" not found in namespace "{namespace}"',
        )
    conn = _parsed(namespace, name, body)
    if require_ready:
        ready = conditions.find(conn.status.conditions, conditions.READY)
        if ready is None or ready.status != "True":
            why = f": {ready.reason}: {ready.message}" if ready is not None and ready.reason else ""
            raise ConnectionUnavailable(
                conditions.CONNECTION_NOT_READY, f'OrchestrationConnection "{name}" is not Ready{why}'
            )
    return conn


#: Parsed Connections by (namespace, name, resourceVersion): every run of a burst asks for the same one,
#: and parsing it (pydantic, with duration and URL checks) costs more than the rest of the lookup.
_PARSED: collections.OrderedDict[tuple[str, str, str], connection.OrchestrationConnection] = (
    collections.OrderedDict()
)
_PARSED_MAX = 256


def _parsed(namespace: str, name: str, body: Mapping[str, Any]) -> connection.OrchestrationConnection:
    version = str(body["metadata"].get("resourceVersion") or "")
    key = (namespace, name, version)
    cached = _PARSED.get(key) if version else None
    if cached is not None:
        _PARSED.move_to_end(key)
        return cached
    try:
        conn = connection.OrchestrationConnection.model_validate(
            {
                "metadata": {**body["metadata"], "namespace": namespace},
                "spec": body["spec"],
                "status": body["status"] or {},
            }
        )
    except Exception as exc:  # pydantic.ValidationError; the Connection's own status says what is wrong
        raise ConnectionUnavailable(
            conditions.CONNECTION_NOT_READY, f'OrchestrationConnection "{name}" has an invalid spec'
        ) from exc
    if version:
        _PARSED[key] = conn
        while len(_PARSED) > _PARSED_MAX:
            _PARSED.popitem(last=False)
    return conn
