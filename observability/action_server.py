"""Metrics, request ids and JSON logs for the action server: a rasa-sdk plugin (registered by rasa_sdk_plugins).

rasa-sdk calls ``attach_sanic_app_extensions(app)`` in each worker; this adds ``GET /metrics`` and a middleware
around ``POST /webhook`` that records, per action (``next_action``):

* ``shop_actions_runs_total{action,outcome}`` (``ok``, ``rejected`` for a form's rejection, ``error``) and
  ``shop_actions_seconds{action}``;
* ``shop_actions_verifications_total{outcome}``: the verification form's proof checks, from its reply: ``verified``
  (the ``proof`` slot set to ``verified``), ``failed`` (``utter_verification_failed``), ``locked``
  (``utter_verification_locked``, three failed checks);

and puts the gateway's request id (``metadata.request_id`` of the latest message) on the logs of that request.
Sanic runs one worker by default (``ACTION_SERVER_SANIC_WORKERS``); with more, each worker counts its own requests
and ``/metrics`` shows the worker that answered it, so run one worker per replica and scale replicas instead.
"""

from __future__ import annotations

import json
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from observability.logs import new_request_id, request_id, setup_logging

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
VERIFICATION_RESPONSES = {"utter_verification_failed": "failed", "utter_verification_locked": "locked"}
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

registry = CollectorRegistry()
runs = Counter("shop_actions_runs", "Custom action calls by outcome.", ["action", "outcome"], registry=registry)
seconds = Histogram("shop_actions_seconds", "Time to answer one action call.", ["action"], buckets=BUCKETS,
                    registry=registry)
verifications = Counter("shop_actions_verifications", "Proof checks of the verification form by outcome.",
                        ["outcome"], registry=registry)


def _request_fields(body: Any) -> tuple[str, str]:
    """The action name and the gateway's request id of an action call's JSON body."""
    if not isinstance(body, dict):
        return "unknown", ""
    tracker = body.get("tracker") or {}
    metadata = ((tracker.get("latest_message") or {}).get("metadata") or {}) if isinstance(tracker, dict) else {}
    rid = metadata.get("request_id") if isinstance(metadata, dict) else None
    return str(body.get("next_action") or "unknown")[:80], str(rid or "")


def record_reply(action: str, status: int, reply: Any, started: float) -> None:
    """Count one answered action call and, for the verification form, its proof check."""
    outcome = "ok" if status == 200 else "rejected" if status == 400 else "error"
    runs.labels(action, outcome).inc()
    seconds.labels(action).observe(time.perf_counter() - started)
    if status != 200 or not isinstance(reply, dict):
        return
    for response in reply.get("responses") or []:
        name = response.get("response") if isinstance(response, dict) else None
        if name in VERIFICATION_RESPONSES:
            verifications.labels(VERIFICATION_RESPONSES[name]).inc()
    for event in reply.get("events") or []:
        if isinstance(event, dict) and (event.get("event"), event.get("name"), event.get("value")) == (
            "slot",
            "proof",
            "verified",
        ):
            verifications.labels("verified").inc()


def attach(app: Any) -> None:
    """Install the middleware and ``/metrics`` on rasa-sdk's Sanic app (and JSON logs in this worker)."""
    from sanic import response

    setup_logging("actions")

    @app.middleware("request")
    async def _started(request: Any) -> None:
        request.ctx.shop_started = time.perf_counter()
        if request.path == "/webhook":
            try:
                action, rid = _request_fields(request.json)
            except Exception:  # malformed JSON: rasa-sdk answers it; counted as unknown
                action, rid = "unknown", ""
            request.ctx.shop_action = action
            request.ctx.shop_token = request_id.set(new_request_id(rid or request.headers.get("x-request-id")))

    @app.middleware("response")
    async def _finished(request: Any, resp: Any) -> None:
        action = getattr(request.ctx, "shop_action", None)
        if action is None:
            return
        try:
            reply = json.loads(resp.body) if resp.body else None
        except ValueError:
            reply = None
        record_reply(action, resp.status, reply, request.ctx.shop_started)
        token = getattr(request.ctx, "shop_token", None)
        if token is not None:
            request_id.reset(token)

    @app.get("/metrics")
    async def _metrics(_request: Any) -> Any:
        return response.raw(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE})
