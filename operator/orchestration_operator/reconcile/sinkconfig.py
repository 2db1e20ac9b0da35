"""An EventPoll's sinks built from its spec: URLs and headers read from Secrets, one shared HTTP client.

``pollpass`` asks :class:`SinkBuilder` for the ``sinks.Sink`` objects of a spec before each poll. The
builder reads the Secrets an HTTP sink refers to (``urlFrom``, ``headersFrom``; same namespace only)
through ``ports.SecretReader`` and sends through the one ``cloudevents.HttpClient`` of the process;
ConfigMap ring sinks write through ``sinks.ConfigMapStore`` with an ownerReference to the EventPoll.

Built sinks are reused for ``cache_seconds`` while the spec's sinks are unchanged, then built again, so
that a rotated Secret takes effect without a restart and a thousand EventPolls do not read their Secrets
on every poll. Secret values never appear in errors, logs or reprs.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from orchestration_operator.api import conditions, names
from orchestration_operator.api import eventpoll as api
from orchestration_operator.client import cloudevents
from orchestration_operator.reconcile import ports, sinks

DEFAULT_CACHE_SECONDS: Final = 10.0


class SinkSetupError(Exception):
    """A sink cannot be built. ``reason`` is a condition reason (``InvalidSpec``, ``SecretNotFound``, or
    ``SinkFailing`` when reading a Secret failed for a passing reason: ``stalled`` is then False); the
    message names the sink and the Secret or field, never a value."""

    def __init__(self, reason: str, message: str, *, stalled: bool = True) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.stalled = stalled


@dataclasses.dataclass(frozen=True, kw_only=True)
class Owner:
    """The EventPoll the sinks belong to."""

    namespace: str
    name: str
    uid: str

    def reference(self) -> dict[str, Any]:
        """The object shape ``ConfigMapStore.put_configmap`` turns into an ownerReference."""
        return {
            "apiVersion": names.API_VERSION,
            "kind": api.KIND.kind,
            "metadata": {"name": self.name, "uid": self.uid},
        }


class SinkBuilder:
    """Builds (and caches for a short while) the sinks of one EventPoll."""

    def __init__(
        self,
        *,
        secrets: ports.SecretReader,
        store: sinks.ConfigMapStore,
        http_client: cloudevents.HttpClient,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        policy_overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self._secrets = secrets
        self._store = store
        self._http = http_client
        self._ttl = cache_seconds
        self._clock = clock
        self._overrides = dict(policy_overrides or {})
        self._cached: tuple[str, float, tuple[sinks.Sink, ...]] | None = None

    def forget(self) -> None:
        """Build afresh next time (a sink failed: its Secret may have changed meanwhile)."""
        self._cached = None

    async def build(self, spec: api.EventPollSpec, *, owner: Owner) -> tuple[sinks.Sink, ...]:
        """The sinks of ``spec``, in order. Raises :class:`SinkSetupError`."""
        key = json.dumps(
            [owner.namespace, owner.name, owner.uid, spec.name, [s.to_dict() for s in spec.sinks]],
            sort_keys=True,
        )
        cached = self._cached
        if cached is not None and cached[0] == key and self._clock() - cached[1] < self._ttl:
            return cached[2]
        built = tuple([await self._build_one(sink, spec=spec, owner=owner) for sink in spec.sinks])
        self._cached = (key, self._clock(), built)
        return built

    async def _build_one(self, sink: api.Sink, *, spec: api.EventPollSpec, owner: Owner) -> sinks.Sink:
        source = sinks.event_source(owner.namespace, owner.name)
        if sink.config_map is not None:
            return sinks.ConfigMapRingSink(
                sink.name,
                self._store,
                namespace=owner.namespace,
                configmap=sink.config_map.name,
                owner=owner.reference(),
                source=source,
                poll_name=spec.name,
                max_events=sink.config_map.max_events,
            )
        http = sink.http
        if http is None:  # the model (and the CRD's CEL rule) refuse this already
            raise SinkSetupError(
                conditions.INVALID_SPEC, f"sink {sink.name}: set exactly one of http or configMap"
            )
        url = await self._url(sink.name, http, namespace=owner.namespace)
        headers = await self._headers(sink.name, http, namespace=owner.namespace)
        try:
            sender = cloudevents.CloudEventSender(
                url,
                client=self._http,
                mode="binary" if http.mode == api.CloudEventsMode.BINARY else "structured",
                headers=headers,
                policy=sinks.delivery_policy(http, **self._overrides),
            )
        except cloudevents.SinkConfigError as exc:
            where = "the URL from its Secret" if http.url_from is not None else "spec"
            raise SinkSetupError(conditions.INVALID_SPEC, f"sink {sink.name} ({where}): {exc}") from None
        return sinks.HttpSink(sink.name, sender, source=source, poll_name=spec.name)

    async def _url(self, sink: str, http: api.HttpSink, *, namespace: str) -> str:
        if http.url is not None:
            return http.url
        assert http.url_from is not None  # the model holds exactly one
        ref = http.url_from.secret_key_ref
        data = await self._read(sink, ref.name, namespace=namespace)
        raw = data.get(ref.key)
        if raw is None:
            raise SinkSetupError(
                conditions.SECRET_NOT_FOUND, f'sink {sink}: Secret "{ref.name}" has no key "{ref.key}"'
            )
        try:
            return raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise SinkSetupError(
                conditions.INVALID_SPEC, f'sink {sink}: Secret "{ref.name}" key "{ref.key}" is not UTF-8 text'
            ) from None

    async def _headers(self, sink: str, http: api.HttpSink, *, namespace: str) -> dict[str, str]:
        if http.headers_from is None:
            return {}
        secret = http.headers_from.secret_ref.name
        data = await self._read(sink, secret, namespace=namespace)
        headers: dict[str, str] = {}
        for key, raw in sorted(data.items()):
            try:
                headers[key] = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise SinkSetupError(
                    conditions.INVALID_SPEC, f'sink {sink}: Secret "{secret}" key "{key}" is not UTF-8 text'
                ) from None
        return headers

    async def _read(self, sink: str, secret: str, *, namespace: str) -> Mapping[str, bytes]:
        try:
            data = await self._secrets.read_secret(namespace=namespace, name=secret)
        except Exception as exc:  # the API server is down or slow: retried with backoff
            raise SinkSetupError(
                conditions.SINK_FAILING,
                f'sink {sink}: reading Secret "{secret}" failed ({type(exc).__name__})',
                stalled=False,
            ) from exc
        if data is None:
            raise SinkSetupError(
                conditions.SECRET_NOT_FOUND,
                f'sink {sink}: Secret "{secret}" not found in namespace "{namespace}"',
            )
        return data


def sink_names(spec: api.EventPollSpec) -> Sequence[str]:
    return [sink.name for sink in spec.sinks]
