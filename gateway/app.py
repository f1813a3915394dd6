"""The gateway process (``python -m gateway``): the channels (connectors/) and the support console (console/)
in one aiohttp app.

This is the one place that knows both: the console is built on the gateway's database, settings and
hand-off state (it imports connectors), and the channels know nothing of the console, so the packages
depend one way: gateway -> console -> connectors (tests/test_imports.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

import console
from connectors import app as channels_app
from connectors.dispatch import Channel
from connectors.rasa_client import RasaClient
from connectors.settings import Settings
from envsettings import InvalidSettings
from observability.logs import setup_logging

log = logging.getLogger("connectors")


def create_app(
    settings: Settings,
    rasa_client: RasaClient | None = None,
    channels: Iterable[Channel] | None = None,
) -> web.Application:
    """The gateway application: the channels' app (``connectors.app.create_app``, same arguments) with the
    support console mounted on it. Connects to nothing until it is started."""
    return channels_app.create_app(settings, rasa_client, channels, parts=[console.setup])


class AccessLogger(AbstractAccessLogger):
    """Access log without query strings: the web conversation id in ``?conversation_id=`` is a secret."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        """Log method, path, status and duration."""
        self.logger.info(
            "%s %s %s %.0fms",
            request.method,
            request.path,
            response.status,
            time * 1000,
        )


def main() -> int:
    """Serve the gateway with settings from the environment (``python -m gateway``).

    Returns:
        The process exit status (2 on a settings error).
    """
    # JSON lines with request ids (LOG_FORMAT=text for plain lines); observability/logs.py
    setup_logging("gateway", {**os.environ, "LOG_LEVEL": os.environ.get("GATEWAY_LOG_LEVEL", "INFO")})
    try:
        settings = Settings.from_env()
        app = create_app(settings)  # channels read their own settings (GATEWAY_WEB_*, SLACK_*, TABLET_*, TELEGRAM_*)
    except InvalidSettings as exc:  # the gateway's own, the console's and the store's (SHOP_PROOF_*) settings
        log.error("cannot start the gateway: %s", str(exc))  # our own sentence: no personal data to withhold
        return 2
    shown_host = settings.host if ":" not in settings.host else f"[{settings.host}]"

    def announce(_line: str) -> None:
        log.info(
            "gateway serving: chat page at http://%s:%d/ (health: /healthz), talking to rasa at %s",
            shown_host,
            settings.port,
            settings.rasa_url,
        )

    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=announce,
        access_log_class=AccessLogger,
        shutdown_timeout=5.0,
    )
    return 0


__all__: list[str] = ["create_app", "main"]
