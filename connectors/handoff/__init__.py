"""Human hand-off relayed through Slack: tickets, Claim/Resolve, and messages both ways (see connectors/README.md)."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable, Mapping

from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from connectors.db import SESSIONS_KEY
from connectors.dispatch import Dispatcher
from connectors.handoff.desk import HandoffDesk
from connectors.handoff.mirror import OrderStoreMirror
from connectors.handoff.settings import HandoffSettings
from connectors.handoff.state import STATUSES, HandoffState
from connectors.push import PUSH_KEY

HANDOFF_KEY = web.AppKey("handoff_desk", HandoffDesk)
API_PATH = "/api/handoffs"


def install(
    app: web.Application,
    dispatcher: Dispatcher,
    client: AsyncWebClient,
    channel_for: Callable[[str | None], str | None],
    staff: Mapping[str, str],
    settings: HandoffSettings | None = None,
) -> HandoffDesk:
    """Put a hand-off desk on ``app``: the dispatcher hook, the sweeper and ``GET /api/handoffs``.

    Called by the Slack channel's ``setup`` (hand-offs are relayed through Slack, so without Slack there
    is no desk and tickets stay in the order store only).

    Args:
        app: the gateway app (``SESSIONS_KEY`` and ``PUSH_KEY`` must be set).
        dispatcher: gets the desk as its ``handoff`` hook.
        client: the Slack Web API client.
        channel_for: store id (or None) -> Slack channel for tickets.
        staff: the Slack staff allowlist (user id -> role).
        settings: default ``HandoffSettings.from_env()``.

    Returns:
        The desk (also at ``app[HANDOFF_KEY]``).
    """
    settings = settings or HandoffSettings.from_env()
    from connectors.app import SETTINGS_KEY  # noqa: PLC0415 (connectors.app imports the channels)

    shop_db_url = app[SETTINGS_KEY].shop_db_url if SETTINGS_KEY in app else None
    mirror = OrderStoreMirror(shop_db_url)
    desk = HandoffDesk(
        HandoffState(app[SESSIONS_KEY]),
        client,
        channel_for,
        app[PUSH_KEY],
        settings,
        dispatcher.counts,
        staff=staff,
        mirror=mirror,
    )
    app[HANDOFF_KEY] = desk
    dispatcher.handoff = desk
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
    from connectors.app import SETTINGS_KEY  # noqa: PLC0415

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


__all__ = ["API_PATH", "HANDOFF_KEY", "HandoffDesk", "HandoffSettings", "install", "list_handoffs"]
