"""The gateway's Prometheus metrics (``GET /metrics``) and request ids; installed by connectors.app.create_app.

Metrics (all prefixed ``shop_gateway_``):

* ``turns_total{channel,kind,outcome}`` and ``turn_seconds{channel,kind}``: every message a channel handed to the
  dispatcher; ``kind`` is ``text``, ``button`` or ``to_person`` (a person holds the conversation), ``outcome`` is
  ``ok`` or the error code a customer was shown (``rasa_unavailable``, ``rasa_error``, ...);
* ``http_responses_total{route,status}``: every HTTP answer by route pattern (never the raw path: ids stay out);
* ``events_total{event}``: the dispatcher's and push router's counters (``web.rate_limited``, ``rasa.resent``,
  ``web.transcript_error``, ``web.transcript_kept``/``recovered``/``lost`` (connectors.web.backlog),
  ``handoff.opened``, ``handoff.claimed``, ``telegram.duplicates``, ``web.pushed``...);
* ``handoffs_total{event}``: hand-offs ``opened``, ``claimed``, ``resolved`` (the same counters, by name);
* ``rasa_up``: 1 when rasa answered its health check (checked at most every 5 s, on scrape);
* ``shared_state_up`` and ``shared_state_errors_total{kind}``: Redis shared by the gateways (1 without Redis);
* ``rasa_in_flight`` and ``rasa_waiting``: turns with rasa now and messages waiting for one
  (``connectors.admission``; ``events_total`` counts ``{channel}.busy`` and ``{channel}.abandoned``).

Every request gets an id (``X-Request-ID`` from the load balancer, or a new one): logs carry it
(observability.logs), the answer's header echoes it, and the rasa client passes it on.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from connectors.errors import GatewayError, describe_for_user
from connectors.keys import METRICS_KEY
from connectors.models import InboundMessage, OutboundMessage
from observability.logs import HEADER, new_request_id, request_id

#: Turn latency buckets (seconds): a turn is ~50 ms alone and seconds under overload.
TURN_BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
HANDOFF_EVENTS = ("opened", "posted", "claimed", "resolved", "to_customer", "to_staff", "push_failed")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class GatewayMetrics:
    """The gateway's registry and the instruments it updates."""

    def __init__(self) -> None:
        """Create the instruments in a registry of their own (tests build several apps in one process)."""
        self.registry = CollectorRegistry()
        self.turns = Counter(
            "shop_gateway_turns", "Messages handed to rasa (or a person).", ["channel", "kind", "outcome"],
            registry=self.registry,
        )
        self.turn_seconds = Histogram(
            "shop_gateway_turn_seconds", "Time from a message to its replies.", ["channel", "kind"],
            buckets=TURN_BUCKETS, registry=self.registry,
        )
        self.responses = Counter(
            "shop_gateway_http_responses", "HTTP answers by route pattern and status.", ["route", "status"],
            registry=self.registry,
        )
        self._rasa_up: tuple[float, bool] = (0.0, False)

    def timed_dispatch(
        self, dispatch: Callable[..., Awaitable[list[OutboundMessage]]], counts: Any
    ) -> Callable[..., Awaitable[list[OutboundMessage]]]:
        """Wrap ``Dispatcher.dispatch`` so each message is counted and timed by channel, kind and outcome."""

        async def dispatch_timed(
            inbound: InboundMessage, still_wanted: Callable[[], bool] | None = None
        ) -> list[OutboundMessage]:
            held_before = counts[f"{inbound.channel}.to_person"]
            kind = "button" if inbound.payload else "text"
            started = time.perf_counter()
            outcome = "ok"
            try:
                return await dispatch(inbound, still_wanted)
            except GatewayError as exc:
                outcome = describe_for_user(exc).code
                raise
            except Exception:
                outcome = "internal_error"
                raise
            finally:
                if counts[f"{inbound.channel}.to_person"] != held_before:
                    kind = "to_person"
                self.turns.labels(inbound.channel, kind, outcome).inc()
                self.turn_seconds.labels(inbound.channel, kind).observe(time.perf_counter() - started)

        return dispatch_timed

    async def rasa_up(self, app: web.Application, probe: Callable[[], Awaitable[bool]]) -> bool:
        """Rasa's health, checked at most every 5 seconds."""
        checked, up = self._rasa_up
        if time.monotonic() - checked > 5.0:
            up = await probe()
            self._rasa_up = (time.monotonic(), up)
        return up


class _Counters(Collector):
    """Exports the dispatcher's and push router's counters as they are at scrape time."""

    def __init__(self, sources: Callable[[], Iterable[tuple[str, int]]], gauges: Callable[[], dict[str, float]]):
        self._sources = sources
        self._gauges = gauges

    def collect(self) -> Iterable[Any]:
        events = CounterMetricFamily("shop_gateway_events", "Gateway counters by event.", labels=["event"])
        handoffs = CounterMetricFamily("shop_gateway_handoffs", "Hand-off tickets by event.", labels=["event"])
        for name, value in sorted(self._sources()):
            events.add_metric([name], value)
            prefix, _, event = name.partition(".")
            if prefix == "handoff" and event in HANDOFF_EVENTS:
                handoffs.add_metric([event], value)
        yield events
        yield handoffs
        for name, reading in self._gauges().items():
            gauge = GaugeMetricFamily(name, name.replace("_", " "))
            gauge.add_metric([], reading)
            yield gauge




def install(app: web.Application, dispatcher: Any, push_router: Any, shared: Any, rasa: Any) -> GatewayMetrics:
    """Add ``/metrics``, the request-id middleware and the counters' collector to ``app``; wrap the dispatcher.

    Args:
        app: the gateway app (before it starts).
        dispatcher: the ``Dispatcher`` (its ``dispatch`` is wrapped, its ``counts`` exported).
        push_router: the ``PushRouter`` (its counts exported).
        shared: the gateways' shared state (its health and error counts exported).
        rasa: the ``RasaClient`` (its health check feeds ``rasa_up``).

    Returns:
        The metrics (also at ``app[METRICS_KEY]``).
    """
    metrics = GatewayMetrics()
    dispatcher.dispatch = metrics.timed_dispatch(dispatcher.dispatch, dispatcher.counts)
    health: dict[str, float] = {"shop_gateway_rasa_up": 0.0, "shop_gateway_shared_state_up": 1.0}

    def sources() -> Iterable[tuple[str, int]]:
        yield from dispatcher.counts.items()
        yield from push_router.counts.items()
        for kind, value in shared.errors.items():
            yield f"shared_state.{kind}_error", value
        yield "rasa.resent", getattr(rasa, "retries", 0)

    def gauges() -> dict[str, float]:
        admission = getattr(dispatcher, "admission", None)
        if admission is None:
            return health
        return {
            **health,
            "shop_gateway_rasa_in_flight": float(admission.in_flight),
            "shop_gateway_rasa_waiting": float(admission.waiting),
        }

    metrics.registry.register(_Counters(sources, gauges))

    async def metrics_endpoint(request: web.Request) -> web.Response:
        health["shop_gateway_rasa_up"] = float(await metrics.rasa_up(request.app, rasa.is_healthy))
        health["shop_gateway_shared_state_up"] = float(await shared.healthy())
        return web.Response(body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get("/metrics", metrics_endpoint)
    app.middlewares.insert(0, _request_ids(metrics))
    app[METRICS_KEY] = metrics
    return metrics


def _request_ids(metrics: GatewayMetrics) -> Middleware:
    @web.middleware
    async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
        token = request_id.set(new_request_id(request.headers.get(HEADER)))
        status = 500
        try:
            response = await handler(request)
            status = response.status
            if not response.prepared:
                response.headers[HEADER] = request_id.get()
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            metrics.responses.labels(route, str(status)).inc()
            request_id.reset(token)

    return request_ids
