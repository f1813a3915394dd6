"""The channels' aiohttp app: ``create_app`` wires channels to rasa; ``gateway`` adds the console and serves it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from sqlalchemy.orm import sessionmaker

from connectors import handoff
from connectors import metrics as gateway_metrics
from connectors.admission import Admission
from connectors.alerts import UnconfiguredAlerts
from connectors.db import create_schema, gateway_engine
from connectors.dispatch import Channel, Dispatcher
from connectors.keys import (
    ALERTS_KEY,
    DISPATCHER_KEY,
    ENGINE_KEY,
    MAX_BODY_KEY,
    PUSH_KEY,
    RASA_KEY,
    SESSIONS_KEY,
    SETTINGS_KEY,
    SHARED_KEY,
)
from connectors.notify import NotifyService, NotifySettings
from connectors.offers import Offers
from connectors.origins import HOST_EXEMPT_PATHS, host_allowed
from connectors.push import PushRouter
from connectors.rasa_client import RasaClient
from connectors.settings import Settings
from connectors.shared_state import shared_state_from_env
from connectors.slack import SlackChannel, SlackSettings
from connectors.tablet import TabletChannel, TabletSettings
from connectors.telegram import TelegramChannel, TelegramSettings
from connectors.web import WebChannel
from connectors.web.settings import WebSettings
from connectors.web.translate import WebInputError, WebLimits

log = logging.getLogger("connectors")

_STATUS_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


def default_channels(settings: Settings) -> list[Channel]:
    """The channels this gateway serves: web and tablet always, Slack and Telegram when their tokens are set.

    Args:
        settings: the gateway settings.

    Returns:
        Channel objects ready for ``setup``; nothing is connected yet.
    """
    channels: list[Channel] = [
        WebChannel(
            WebLimits(max_message_chars=settings.max_message_chars),
            allowed_origins=settings.allowed_origins,
            settings=WebSettings.from_env(),
            shop_db_url=settings.shop_db_url,
            public_urls=settings.public_urls,
        ),
        TabletChannel(
            TabletSettings.from_env(),
            shop_db_url=settings.shop_db_url,
            limits=WebLimits(max_message_chars=settings.max_message_chars),
        ),
    ]
    slack = SlackSettings.from_env()  # None unless SLACK_BOT_TOKEN is set
    if slack is not None:
        channels.append(SlackChannel(slack, max_message_chars=settings.max_message_chars))
    telegram = TelegramSettings.from_env()  # None unless TELEGRAM_BOT_TOKEN is set
    if telegram is not None:
        channels.append(TelegramChannel(telegram, max_message_chars=settings.max_message_chars))
    # Not a chat channel: the carrier webhook and the notifier pushing order news to linked chats.
    channels.append(NotifyService(NotifySettings.from_env(), shop_db_url=settings.shop_db_url))
    return channels


def create_app(
    settings: Settings,
    rasa_client: RasaClient | None = None,
    channels: Iterable[Channel] | None = None,
    *,
    parts: Iterable[Callable[[web.Application, Settings], object]] = (),
) -> web.Application:
    """Build the gateway application without connecting to anything.

    Args:
        settings: the gateway settings.
        rasa_client: the rasa client to use (default: one built from settings). The app
            owns it either way and closes it on cleanup.
        channels: channels to serve (default: :func:`default_channels`).
        parts: more of the gateway mounted on the app once its channels and database are set up, each called
            with the app and the settings (the support console: ``gateway.create_app`` passes ``console.setup``).

    Returns:
        The aiohttp application: the channels' routes plus ``GET /healthz``.
    """
    rasa = rasa_client or RasaClient(
        settings.rasa_url,
        settings.gateway_token,
        settings.rasa_timeout,
        health_timeout=settings.health_timeout,
        claims_secret=settings.claims_secret,
        retry_seconds=settings.rasa_retry_seconds,
    )
    if not settings.claims_secret:
        log.warning(
            "GATEWAY_CLAIMS_SECRET is not set: the action server will believe nothing about these messages "
            "(no staff lookups, no tablet shops, failed proofs counted as unattributed); `make run` sets it"
        )
    dispatcher = Dispatcher(rasa, admission=Admission(settings.admission))
    limits = WebLimits(max_message_chars=settings.max_message_chars)
    app = web.Application(
        client_max_size=limits.max_body_bytes,
        middlewares=[host_guard(settings.public_urls), json_errors, body_deadline(settings.body_timeout)],
    )
    app[SETTINGS_KEY] = settings
    app[RASA_KEY] = rasa
    app[DISPATCHER_KEY] = dispatcher
    app[MAX_BODY_KEY] = limits.max_body_bytes
    app[ALERTS_KEY] = UnconfiguredAlerts()  # the Slack channel replaces it when configured
    app[PUSH_KEY] = PushRouter()  # channels that can reach a conversation later register here
    # rate limits, WebSocket fan-out and dedupe: this process, or Redis shared with the other gateways
    app[SHARED_KEY] = shared_state_from_env({"GATEWAY_REDIS_URL": settings.redis_url})
    app.cleanup_ctx.append(app[SHARED_KEY].run)
    # the buttons each conversation was offered, seen by every gateway (connectors/offers.py)
    dispatcher.offers = Offers(app[SHARED_KEY])
    engine = gateway_engine(settings.database_url)
    app[ENGINE_KEY] = engine
    app[SESSIONS_KEY] = sessionmaker(engine, expire_on_commit=False)
    app.router.add_get("/healthz", healthz)
    # /metrics, request ids, turn timing (connectors/metrics.py)
    gateway_metrics.install(app, dispatcher, app[PUSH_KEY], app[SHARED_KEY], rasa)
    chosen = default_channels(settings) if channels is None else list(channels)
    for channel in chosen:
        channel.setup(app, dispatcher)
    # Hand-offs are relayed through Slack: the desk wires itself to the Slack channel, which knows only a relay.
    for channel in chosen:
        if isinstance(channel, SlackChannel):
            handoff.install(app, dispatcher, channel)
    app.on_startup.append(_create_schema)
    # The support console (console/README.md, mounted by gateway.create_app); after _create_schema: it indexes
    # the tracker at start-up.
    for part in parts:
        part(app, settings)
    app.on_cleanup.append(_close_rasa)
    app.on_cleanup.append(_dispose_engine)
    return app


async def healthz(request: web.Request) -> web.Response:
    """``GET /healthz``: ``{"ok": true, "rasa": bool}``; 200 while the gateway itself serves."""
    rasa_ok = await request.app[RASA_KEY].is_healthy()
    return web.json_response({"ok": True, "rasa": rasa_ok})


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn errors on API routes into JSON ``{"error", "code", ...}`` with the right status.

    ``WebInputError`` carries its own status; aiohttp's HTTP errors (404, 405, 413 for a
    body over ``client_max_size``) keep theirs; anything unexpected is logged with its
    traceback and answered 500.
    """
    try:
        return await handler(request)
    except WebInputError as exc:
        return web.json_response(exc.to_json(), status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400 or not _is_api(request):
            raise
        message = exc.reason.lower()
        if exc.status == 413:
            message = f"the request body is too large (the limit is {request.app[MAX_BODY_KEY]} bytes)"
        code = _STATUS_CODES.get(exc.status, "http_error")
        return web.json_response({"error": message, "code": code}, status=exc.status)
    except Exception:
        if not _is_api(request):
            raise
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return web.json_response(
            {"error": "something went wrong on our side", "code": "internal_error"},
            status=500,
        )


def host_guard(public_urls: tuple[str, ...]) -> Middleware:
    """A middleware refusing requests whose ``Host`` is not one of the gateway's own names (421).

    DNS rebinding: a page on ``http://evil.example:8000`` whose name now resolves to the gateway's address
    sends ``Host: evil.example:8000``; the gateway answers only ``GATEWAY_PUBLIC_URL``'s hosts and loopback on
    its own port (``connectors.origins``). Signed machine webhooks and health checks are exempt.
    """

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in HOST_EXEMPT_PATHS or host_allowed(request, public_urls):
            return await handler(request)
        log.info("refused a request for a host this gateway does not serve (421)")
        return web.json_response(
            {
                "error": "this gateway does not serve that host name; use its own address, or list the address "
                "in the gateway's GATEWAY_PUBLIC_URL",
                "code": "unknown_host",
            },
            status=421,
        )

    return guard


def body_deadline(seconds: float) -> Middleware:
    """A middleware giving every request ``seconds`` to deliver its whole body once the headers are in.

    A client that announces a body and then stalls (``Content-Length: 100``, 10 bytes sent) would otherwise
    hold a handler, and whatever it locked, for as long as the TCP connection lives. The handler runs at
    once (it may refuse the request before reading); if the body is still incomplete after ``seconds``, the
    handler is cancelled and the client gets 408 ``body_timeout`` with the connection closed. Once the body
    is in, the handler has all the time it needs (rasa may take a while to answer).
    """

    @web.middleware
    async def deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.body_exists or request.content.is_eof():
            return await handler(request)
        arrived = asyncio.Event()
        request.content.on_eof(arrived.set)
        answer = asyncio.ensure_future(handler(request))
        waiter = asyncio.ensure_future(arrived.wait())
        try:
            await asyncio.wait({answer, waiter}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the client went away: so does the work done for it
            answer.cancel()
            raise
        finally:
            waiter.cancel()
        if answer.done() or arrived.is_set():
            return await answer
        answer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await answer
        log.info("%s %s: the body did not arrive within %.0f s (408)", request.method, request.path, seconds)
        response = web.json_response(
            {
                "error": f"the request body did not arrive within {seconds:g} seconds; send it again",
                "code": "body_timeout",
            },
            status=408,
        )
        response.force_close()
        return response

    return deadline


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


async def _create_schema(app: web.Application) -> None:
    # Tables are declared by the channel modules imported above; creating them is idempotent.
    create_schema(app[ENGINE_KEY])


async def _dispose_engine(app: web.Application) -> None:
    app[ENGINE_KEY].dispose()


async def _close_rasa(app: web.Application) -> None:
    await app[RASA_KEY].close()


__all__: list[str] = ["create_app", "default_channels", "healthz"]
