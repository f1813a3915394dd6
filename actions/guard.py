"""Every custom action's failure ends in a polite reply, never silence or a 500 echoing the tracker.

Registered by ``actions/__init__.py`` as a rasa-sdk plugin: rasa-sdk calls ``attach_sanic_app_extensions`` on
the action server's Sanic app in each worker process, whichever command started it. There the guard

- replaces rasa-sdk's catch-all error handler, which answered 500 with ``{"error": str(exc), "request_body":
  <the whole tracker>}`` (rasa then logged that body, personal data and all, and the customer got no
  reply), by one that answers rasa's action call with 200 and an apology (with a "talk to a person"
  button where a person can help) and logs only the action's name and the traceback's types;
- installs :mod:`logsafe` in the worker (the primary process's logging setup does not reach it).

Flows stay free of try/except for the unexpected; expected refusals (``NotAllowed``...) are still answered
by the flows themselves with a specific sentence.
"""

from __future__ import annotations

import logging
from typing import Any

import pluggy
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

import logsafe

log = logging.getLogger(__name__)
hookimpl = pluggy.HookimplMarker("rasa_sdk")

HANDOFF_PAYLOAD = "/human_handoff"
SORRY = "Sorry, something went wrong on my side while I was doing that, and I couldn't finish it."
SORRY_CUSTOMER = f"{SORRY} Please try again in a moment, or I can pass you to a person from our team."
SORRY_TABLET = f"{SORRY} Please try again in a moment, or ask any member of staff in the shop."
SORRY_STAFF = f"{SORRY} Please try again in a moment; the action server's log has the details."


def apology(tracker: Any) -> dict[str, Any]:
    """The reply for a failed action, fitted to who is asking.

    Args:
        tracker: the tracker JSON rasa sent with the action call (anything: it may be what broke).

    Returns:
        A rasa-sdk response dict (``text`` and, for customers on web/Telegram, a button to reach a person).
    """
    metadata: dict[str, Any] = {}
    if isinstance(tracker, dict):
        latest = tracker.get("latest_message")
        if isinstance(latest, dict) and isinstance(latest.get("metadata"), dict):
            metadata = latest["metadata"]
    channel = metadata.get("channel")
    if channel == "slack" or isinstance(metadata.get("staff"), dict):
        return {"text": SORRY_STAFF}
    if channel == "tablet":
        return {"text": SORRY_TABLET}
    return {"text": SORRY_CUSTOMER, "buttons": [{"title": "Talk to a person", "payload": HANDOFF_PAYLOAD}]}


async def answer_failure(request: Request, exception: Exception) -> HTTPResponse:
    """Sanic error handler of the action server: an apology for rasa's action calls, a bare error otherwise."""
    try:
        call = request.json if request.method == "POST" else None
    except Exception:  # the body itself is what failed to parse
        call = None
    action = call.get("next_action") if isinstance(call, dict) else None
    status = getattr(exception, "status_code", 500)
    if isinstance(action, str) and status >= 500:
        log.error("action %s failed; the customer was sent an apology", action[:100], exc_info=exception)
        return response.json({"events": [], "responses": [apology(call.get("tracker"))]}, status=200)
    if status >= 500:
        log.error("action server request %s %s failed", request.method, request.path, exc_info=exception)
    return response.json(
        {"error": "the action server could not handle this request" if status >= 500 else str(exception)},
        status=status,
    )


def install(app: Sanic) -> None:
    """Install logsafe and the polite error handler on a freshly built action-server app.

    Called through the rasa-sdk plugin hook (``python -m rasa_sdk``); an entry point that builds the app
    with ``rasa_sdk.endpoint.create_app`` itself (no plugin hook) calls it directly, in its app factory.
    """
    logsafe.install()
    # rasa-sdk registered its own handler for Exception; Sanic refuses a second registration, so the
    # entry is replaced in place (before the app serves: lookups are cached from the first request).
    app.error_handler.cached_handlers[(Exception, None)] = answer_failure


class ActionServerGuard:
    """The rasa-sdk plugin (see the module docstring)."""

    @hookimpl
    def attach_sanic_app_extensions(self, app: Sanic) -> None:
        """See :func:`install`."""
        install(app)


GUARD = ActionServerGuard()


def register() -> None:
    """Register the guard with rasa-sdk's plugin manager (idempotent; called when ``actions`` is imported)."""
    from rasa_sdk.plugin import plugin_manager  # noqa: PLC0415 (only where rasa-sdk serves)

    manager = plugin_manager()
    if not manager.is_registered(GUARD):
        manager.register(GUARD)
