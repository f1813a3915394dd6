"""Human hand-off relayed through Slack: tickets, Claim/Resolve, and messages both ways (see connectors/README.md)."""

from __future__ import annotations

import asyncio
import hmac

from aiohttp import web

from connectors.dispatch import Dispatcher
from connectors.handoff.desk import HandoffDesk
from connectors.handoff.mirror import OrderStoreMirror
from connectors.handoff.settings import HandoffSettings
from connectors.handoff.state import STATUSES, HandoffState
from connectors.keys import HANDOFF_KEY, PUSH_KEY, SESSIONS_KEY, SETTINGS_KEY
from connectors.slack.channel import SlackChannel

API_PATH = "/api/handoffs"


def install(
    app: web.Application,
    dispatcher: Dispatcher,
    slack: SlackChannel,
    settings: HandoffSettings | None = None,
) -> HandoffDesk:
    """Put a hand-off desk on ``app``: the dispatcher hook, the Slack channel's thread relay, the sweeper and
    ``GET /api/handoffs``.

    Called by ``connectors.app.create_app`` after the channels are set up, when Slack is one of them (hand-offs
    are relayed through Slack, so without Slack there is no desk and tickets stay in the order store only).

    Args:
        app: the gateway app (``SESSIONS_KEY`` and ``PUSH_KEY`` must be set).
        dispatcher: gets the desk as its ``handoff`` hook.
        slack: the set-up Slack channel: its client posts tickets to its alert channels, its staff allowlist
            may claim them, and its thread messages and Claim/Resolve presses come to the desk.
        settings: default ``HandoffSettings.from_env()``.

    Returns:
        The desk (also at ``app[HANDOFF_KEY]``).
    """
    settings = settings or HandoffSettings.from_env()
    if slack.alerts is None:
        raise RuntimeError("install the hand-off desk after SlackChannel.setup()")
    shop_db_url = app[SETTINGS_KEY].shop_db_url if SETTINGS_KEY in app else None
    mirror = OrderStoreMirror(shop_db_url)
    desk = HandoffDesk(
        HandoffState(app[SESSIONS_KEY]),
        slack.client,
        slack.alerts.channel_for,
        app[PUSH_KEY],
        settings,
        dispatcher.counts,
        staff=slack.settings.staff,
        mirror=mirror,
    )
    app[HANDOFF_KEY] = desk
    dispatcher.handoff = desk
    slack.relay = desk
    app.router.add_get(API_PATH, list_handoffs)
    app.cleanup_ctx.append(desk.run_sweeper)

    async def _dispose(_app: web.Application) -> None:
        mirror.dispose()

    app.on_cleanup.append(_dispose)
    return desk


async def list_handoffs(request: web.Request) -> web.Response:
    """``GET /api/handoffs[?status=open|assigned|closed]``: the queue, newest first, each ticket with its history.

    Protected by the gateway token (``Authorization: Bearer $GATEWAY_TOKEN``), the same secret rasa
    checks, so only the console (or an operator) can read it.

    Returns:
        200 ``{"handoffs": [...]}``; 401 without the token; 400 for an unknown status.
    """
    expected = f"Bearer {request.app[SETTINGS_KEY].gateway_token}"
    if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected.encode()):
        return web.json_response({"error": "the gateway token is required", "code": "unauthorized"}, status=401)
    status = request.query.get("status")
    if status is not None and status not in STATUSES:
        return web.json_response(
            {"error": f"status must be one of {', '.join(STATUSES)}", "code": "invalid_field", "field": "status"},
            status=400,
        )
    items = await asyncio.to_thread(request.app[HANDOFF_KEY].state.queue, status)
    return web.json_response({"handoffs": items}, headers={"Cache-Control": "no-store"})


__all__ = ["API_PATH", "HandoffDesk", "HandoffSettings", "install", "list_handoffs"]
