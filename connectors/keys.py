"""Every application key of the gateway app in one place; imported by connectors.app, the channels and the console.

This module imports no gateway module at run time (the value types are named for type checkers only), so any
module may import it without creating a cycle: the hand-off desk reads ``SETTINGS_KEY`` here rather than from
``connectors.app``, which imports the channels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from connectors.alerts import StaffAlerts
    from connectors.dispatch import Dispatcher
    from connectors.handoff.desk import HandoffDesk
    from connectors.metrics import GatewayMetrics
    from connectors.notify.service import NotifyService
    from connectors.push import PushRouter
    from connectors.rasa_client import RasaClient
    from connectors.settings import Settings
    from connectors.shared_state import LocalState

#: The gateway settings (``connectors.settings.Settings``).
SETTINGS_KEY: web.AppKey[Settings] = web.AppKey("settings")
#: The rasa client; the app closes it on cleanup.
RASA_KEY: web.AppKey[RasaClient] = web.AppKey("rasa_client")
#: Where every channel's inbound message goes.
DISPATCHER_KEY: web.AppKey[Dispatcher] = web.AppKey("dispatcher")
#: Largest request body accepted, for the 413 message.
MAX_BODY_KEY: web.AppKey[int] = web.AppKey("max_body_bytes", int)
#: The gateway database engine (``connectors.db``).
ENGINE_KEY: web.AppKey[Engine] = web.AppKey("gateway_engine", Engine)
#: Sessions on the gateway database.
SESSIONS_KEY: web.AppKey[sessionmaker[Session]] = web.AppKey("gateway_sessions", sessionmaker)
#: Staff alerts (Slack when configured, the console's queue, else refusing).
ALERTS_KEY: web.AppKey[StaffAlerts] = web.AppKey("staff_alerts")
#: Channels that can reach a conversation later register here.
PUSH_KEY: web.AppKey[PushRouter] = web.AppKey("push_router")
#: Rate limits, WebSocket fan-out and dedupe: this process, or Redis shared with the other gateways.
SHARED_KEY: web.AppKey[LocalState] = web.AppKey("shared_state")
#: The gateway's Prometheus metrics.
METRICS_KEY: web.AppKey[GatewayMetrics] = web.AppKey("gateway_metrics")
#: The carrier webhook and order-news notifier.
NOTIFY_KEY: web.AppKey[NotifyService] = web.AppKey("notify_service")
#: The Slack hand-off desk; absent without Slack.
HANDOFF_KEY: web.AppKey[HandoffDesk] = web.AppKey("handoff_desk")

__all__ = [
    "ALERTS_KEY",
    "DISPATCHER_KEY",
    "ENGINE_KEY",
    "HANDOFF_KEY",
    "MAX_BODY_KEY",
    "METRICS_KEY",
    "NOTIFY_KEY",
    "PUSH_KEY",
    "RASA_KEY",
    "SESSIONS_KEY",
    "SETTINGS_KEY",
    "SHARED_KEY",
]
