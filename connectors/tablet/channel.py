"""aiohttp wiring of the in-store tablet channel: the kiosk page and its API; set up by connectors.app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from connectors.alerts import QUEUED_PREFIX, AlertNotDelivered
from connectors.dispatch import Dispatcher
from connectors.errors import Busy, GatewayError, describe_for_user
from connectors.keys import ALERTS_KEY, PUSH_KEY, SESSIONS_KEY
from connectors.models import InboundMessage, OutboundMessage
from connectors.pages import hashed_csp
from connectors.push import PushFailed
from connectors.source import tablet_source
from connectors.tablet.devices import DeviceInfo, RevokedDevice, TabletError, TabletRegistry, UnknownDevice
from connectors.tablet.settings import TabletSettings
from connectors.tablet.translate import (
    QUICK_PAYLOADS,
    bearer_token,
    conversation_id,
    inbound_from_json,
    parse_session_id,
    render_messages,
    staff_alert,
    staff_call_held,
    staff_call_of,
    staff_call_reply,
)
from connectors.tasks import running
from connectors.web.translate import WebInputError, WebLimits, decode_json
from store.db import make_engine
from store.models import HandoffTicket
from store.service import OrderStore
from store.settings import Settings as StoreSettings

log = logging.getLogger(__name__)

PAGE_FILE = Path(__file__).with_name("kiosk.html")

#: What the page shows for each refusal (it puts the sentence on screen as it is).
_REFUSALS = {
    UnknownDevice: (
        "This tablet is not registered, or its device token is wrong. Ask a manager to register it "
        "(python -m connectors.tablet register --store <store id> --name <name>) and enter the new token."
    ),
    RevokedDevice: "This tablet's registration was revoked. Ask a manager for a new device token.",
}


class StoreNames:
    """Shop names from the order store, read lazily and cached (re-read when an id is missing)."""

    def __init__(self, shop_db_url: str | None = None, *, load: Callable[[], Mapping[str, str]] | None = None) -> None:
        """Read names from ``shop_db_url`` (or from ``load``, for tests); nothing is opened yet."""
        self._url = shop_db_url
        self._load = load
        self._names: dict[str, str] = {}
        self._engine: Engine | None = None

    def _read(self) -> Mapping[str, str]:
        if self._load is not None:
            return self._load()
        if self._engine is None:
            url = StoreSettings.from_env({"SHOP_DATABASE_URL": self._url or ""}).database_url
            self._engine = make_engine(url)
        store = OrderStore(sessionmaker(self._engine))
        return {s.store_id: s.name for s in store.stores()}

    def name(self, store_id: str) -> str:
        """The shop's name, or its id when the order store does not (or no longer) know it."""
        if store_id not in self._names:
            try:
                self._names = dict(self._read())
            except SQLAlchemyError:  # a name is cosmetic: the page shows the id and keeps working
                log.exception("cannot read shop names from the order store")
        return self._names.get(store_id, store_id)

    def close(self) -> None:
        """Dispose of the order-store engine, if one was opened."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


class ShopRecords:
    """What the tablet channel reads and ends in the order store.

    Hand-off tickets, for the one-open-call-per-tablet rule: which of a tablet's calls are still open, and
    closing a second call's ticket (its shopper is told the open one's status instead). And grants: when a
    shopper's session ends, so does what its conversation proved (``OrderStore.revoke_grants``).
    """

    def __init__(self, shop_db_url: str | None = None) -> None:
        """Use the order store at ``shop_db_url``; nothing is opened yet."""
        self._url = shop_db_url
        self._engine: Engine | None = None

    def _shop(self) -> Engine:
        if self._engine is None:
            url = StoreSettings.from_env({"SHOP_DATABASE_URL": self._url or ""}).database_url
            self._engine = make_engine(url)
        return self._engine

    def still_open(self, tickets: Sequence[str]) -> list[str]:
        """Those of ``tickets`` nobody has closed yet (open, or claimed), in the order given."""
        if not tickets:
            return []
        stmt = select(HandoffTicket.ticket_number).where(
            HandoffTicket.ticket_number.in_(list(tickets)), HandoffTicket.status.in_(["open", "assigned"])
        )
        with Session(self._shop()) as session:
            found = set(session.scalars(stmt))
        return [t for t in tickets if t in found]

    def close_ticket(self, ticket: str) -> None:
        """Close ``ticket`` (a second call made while the tablet's first is open)."""
        OrderStore(sessionmaker(self._shop())).close_handoff(ticket)

    def end_grants(self, conversation_ids: Sequence[str]) -> int:
        """End every grant of these conversations (their tablet sessions ended).

        Returns:
            How many grants ended.
        """
        store = OrderStore(sessionmaker(self._shop()))
        return sum(store.revoke_grants(conversation_id) for conversation_id in conversation_ids)

    def dispose(self) -> None:
        """Dispose of the order-store engine, if one was opened."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


class TabletChannel:
    """The in-store tablet channel (channel name ``tablet``).

    Routes: ``GET /tablet`` (kiosk page), ``POST /api/tablet/session`` (start a shopper's
    conversation, ending the previous one), ``POST /api/tablet/messages``, ``POST /api/tablet/updates``.
    Every API call carries the device token as ``Authorization: Bearer <token>``; the token fixes the shop.
    A session without the shopper's activity for the wipe time (idle + countdown) is ended by the server,
    and the grants of its conversation with it.
    """

    name = "tablet"

    def __init__(
        self,
        settings: TabletSettings | None = None,
        *,
        shop_db_url: str | None = None,
        limits: WebLimits | None = None,
        store_names: StoreNames | None = None,
        now: Callable[[], datetime] | None = None,
        shop: ShopRecords | None = None,
    ) -> None:
        """Configure the channel.

        Args:
            settings: idle and countdown times (default 60 s and 10 s).
            shop_db_url: the order store, for shop names.
            limits: message limits (as the web channel's).
            store_names: where shop names come from (default: the order store at ``shop_db_url``).
            now: naive-UTC clock for session expiry (tests).
            shop: the order store's hand-off tickets and grants (default: the order store at ``shop_db_url``).
        """
        self.settings = settings or TabletSettings()
        self.limits = limits or WebLimits()
        self.store_names = store_names or StoreNames(shop_db_url)
        self.shop = shop or ShopRecords(shop_db_url)
        self._now = now
        self._dispatcher: Dispatcher | None = None
        self._registry: TabletRegistry | None = None
        self._page = b""
        self._page_csp = ""

    def setup(self, app: web.Application, dispatcher: Dispatcher) -> None:
        """Add the tablet routes to ``app``.

        Args:
            app: the gateway application (its gateway database sessions hold devices and sessions).
            dispatcher: where inbound messages go.
        """
        self._dispatcher = dispatcher
        wipe = timedelta(seconds=self.settings.wipe_seconds)
        if self._now is None:
            self._registry = TabletRegistry(app[SESSIONS_KEY], wipe_after=wipe, on_end=self._end_grants)
        else:
            self._registry = TabletRegistry(app[SESSIONS_KEY], wipe_after=wipe, now=self._now, on_end=self._end_grants)
        self._load_page()
        app.router.add_get("/tablet", self.kiosk_page)
        app.router.add_post("/api/tablet/session", self.start_session)
        app.router.add_post("/api/tablet/messages", self.post_message)
        app.router.add_post("/api/tablet/updates", self.updates)
        app.on_cleanup.append(self._close)
        app.cleanup_ctx.append(self._run_sweeper)
        app[PUSH_KEY].register(self.name, self)
        dispatcher.always_offer(self.name, QUICK_PAYLOADS)  # the kiosk page's fixed buttons

    @property
    def registry(self) -> TabletRegistry:
        """Devices and sessions (available after :meth:`setup`)."""
        if self._registry is None:
            raise RuntimeError("TabletChannel.setup() has not been called")
        return self._registry

    @property
    def dispatcher(self) -> Dispatcher:
        """The dispatcher given to :meth:`setup`."""
        if self._dispatcher is None:
            raise RuntimeError("TabletChannel.setup() has not been called")
        return self._dispatcher

    def _end_grants(self, session_ids: list[str]) -> None:
        """``TabletRegistry.on_end``: what the ended sessions' conversations proved ends with them.

        Their ids are never given out again, so nobody could reach those grants anyway; ending them in the
        order store makes that true there too. When the order store is down the grants stay until its own
        ``SHOP_GRANT_IDLE_MINUTES`` ends them (counted as ``tablet.grants_not_ended``).
        """
        counts = self.dispatcher.counts
        counts["tablet.sessions_ended"] += len(session_ids)
        try:
            counts["tablet.grants_ended"] += self.shop.end_grants([conversation_id(s) for s in session_ids])
        except SQLAlchemyError:
            counts["tablet.grants_not_ended"] += 1
            log.exception("could not end the grants of %d ended tablet session(s)", len(session_ids))

    async def sweep(self) -> list[str]:
        """End the sessions idle for the wipe time (and their grants); returns their ids.

        A tablet that went dark (switched off, asleep, its tab closed) never calls again: without this its
        last shopper's session would only end when the tablet next starts one.
        """
        return await asyncio.to_thread(self.registry.end_idle_sessions)

    async def _run_sweeper(self, app: web.Application) -> AsyncIterator[None]:
        """``cleanup_ctx``: sweep every ``TABLET_COUNTDOWN_SECONDS`` while the gateway runs, so a session is
        over in the gateway database and the order store at most one countdown after its wipe time (and at
        once for any call that names it)."""
        async with running(self._sweep_forever(), "tablet-sweeper"):
            yield

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.countdown_seconds)
            try:
                await self.sweep()
            except SQLAlchemyError:
                self.dispatcher.counts["tablet.sweep_failed"] += 1
                log.exception("tablet session sweep failed; trying again in %d s", self.settings.countdown_seconds)

    def _load_page(self) -> None:
        html = PAGE_FILE.read_text(encoding="utf-8")
        html = html.replace("__MAX_CHARS__", str(self.limits.max_message_chars))
        self._page = html.encode("utf-8")
        self._page_csp = hashed_csp(
            html, img_src="'self' https: http: data:", connect_src="'self'", frame_ancestors="'none'"
        )

    async def kiosk_page(self, request: web.Request) -> web.Response:
        """Serve the kiosk page (inline CSS/JS under a hash-based CSP; no token in it)."""
        return web.Response(
            body=self._page,
            content_type="text/html",
            charset="utf-8",
            headers={
                "Content-Security-Policy": self._page_csp,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-store",
            },
        )

    async def _device(self, request: web.Request) -> DeviceInfo:
        """The device behind the request's bearer token; 401/403 JSON errors otherwise."""
        token = bearer_token(request.headers.get("Authorization"))
        try:
            # Database calls run in a worker thread so a slow database never stalls other tablets.
            return await asyncio.to_thread(self.registry.authenticate, token)
        except TabletError as exc:
            self.dispatcher.counts[f"tablet.{exc.code}"] += 1
            log.info("tablet request refused: %s", exc)
            raise WebInputError(exc.status, exc.code, _REFUSALS.get(type(exc), str(exc))) from None

    async def start_session(self, request: web.Request) -> web.Response:
        """``POST /api/tablet/session``: a new shopper conversation; the device's previous one ends.

        Returns:
            200 ``{"session_id", "store": {"id", "name"}, "device", "idle_seconds", "countdown_seconds"}``;
            401 ``unknown_device`` / 403 ``device_revoked``.
        """
        device = await self._device(request)
        session_id = await asyncio.to_thread(self.registry.start_session, device)
        store_name = await asyncio.to_thread(self.store_names.name, device.store_id)
        self.dispatcher.counts["tablet.sessions"] += 1
        return web.json_response(
            {
                "session_id": session_id,
                "store": {"id": device.store_id, "name": store_name},
                "device": device.name,
                "idle_seconds": self.settings.idle_seconds,
                "countdown_seconds": self.settings.countdown_seconds,
            },
            headers={"Cache-Control": "no-store"},
        )

    async def post_message(self, request: web.Request) -> web.Response:
        """``POST /api/tablet/messages``: ``{"session_id", "text" | "payload" (+ "title") | "stock_question"}`` in,
        the replies out.

        Returns:
            200 ``{"session_id", "messages": [...]}``; 401/403 for the device, 409 ``session_ended``
            for a wiped, idle-past-the-wipe-time or foreign session (nothing reaches rasa), 400/413/415 for bad
            input, 502/503 when rasa cannot answer.
        """
        device = await self._device(request)
        if request.content_type != "application/json":
            raise WebInputError(
                415,
                "unsupported_media_type",
                f"send the body as application/json, not {request.content_type or 'nothing'}",
            )
        body = decode_json(await request.read())
        if not isinstance(body, dict):
            raise WebInputError(400, "invalid_json", "the body must be a JSON object")
        session_id = parse_session_id(body.get("session_id"))
        inbound = inbound_from_json(body, self.limits, session_id=session_id, store_id=device.store_id)
        try:
            await asyncio.to_thread(self.registry.touch_session, device, session_id)
        except TabletError as exc:
            self.dispatcher.counts[f"tablet.{exc.code}"] += 1
            raise WebInputError(exc.status, exc.code, str(exc)) from None
        # The device is the source: failed order checks on a kiosk are counted per tablet.
        inbound = replace(inbound, source=tablet_source(device.device_id))
        try:
            replies = await self.dispatcher.dispatch(inbound, _connected(request))
        except GatewayError as exc:
            err = describe_for_user(exc)
            if isinstance(exc, Busy):
                return web.json_response(
                    {"error": err.message, "code": err.code, "retry_after": exc.retry_after},
                    status=err.status,
                    headers={"Retry-After": str(exc.retry_after)},
                )
            return web.json_response({"error": err.message, "code": err.code}, status=err.status)
        replies = await self._answer_staff_calls(request.app, device, inbound, replies)
        # The page starts its idle countdown when the answer arrives, so the server's starts again here too:
        # a slow turn must not end the session before the page would wipe it.
        try:
            await asyncio.to_thread(self.registry.touch_session, device, session_id)
        except TabletError:
            pass  # replaced by the next shopper meanwhile: the page drops this answer
        except SQLAlchemyError:  # the answer still goes back; the session counts from the question
            self.dispatcher.counts["tablet.activity_not_recorded"] += 1
            log.exception("could not record the end of a tablet turn")
        return web.json_response({"session_id": session_id, "messages": render_messages(replies)})

    async def updates(self, request: web.Request) -> web.Response:
        """``POST /api/tablet/updates``: ``{"session_id", "active"?}`` in, messages pushed to it since the last
        call out.

        The kiosk page polls this every few seconds while a shopper's session is on screen, so a staff
        member's reply in a hand-off appears without the shopper typing. Neither polling nor a pushed message
        counts as the shopper being active; ``"active": true`` (the shopper touched the screen since the last
        poll, or pressed "I'm still here") does.

        Returns:
            200 ``{"session_id", "messages": [...]}``; 401/403 for the device; 400 for a non-boolean
            ``active``; 409 ``session_ended`` (wiped, replaced, or idle for the wipe time: the page must wipe).
        """
        device = await self._device(request)
        body = decode_json(await request.read())
        if not isinstance(body, dict):
            raise WebInputError(400, "invalid_json", "the body must be a JSON object")
        session_id = parse_session_id(body.get("session_id"))
        active = body.get("active", False)
        if not isinstance(active, bool):
            raise WebInputError(400, "invalid_field", "active must be true or false", field="active")
        try:
            messages = await asyncio.to_thread(self.registry.take_pushed, device, session_id, active=active)
        except TabletError as exc:
            self.dispatcher.counts[f"tablet.{exc.code}"] += 1
            raise WebInputError(exc.status, exc.code, str(exc)) from None
        return web.json_response(
            {"session_id": session_id, "messages": messages}, headers={"Cache-Control": "no-store"}
        )

    async def push(self, sender_id: str, messages: Sequence[OutboundMessage]) -> None:
        """``PushTarget``: keep ``messages`` for the session's page to fetch (``POST /api/tablet/updates``).

        Raises:
            PushFailed: the session was wiped, replaced by the next shopper or idle for the wipe time; or
                the gateway database is down.
        """
        try:
            kept = await asyncio.to_thread(self.registry.queue_pushed, sender_id, render_messages(messages))
        except SQLAlchemyError as exc:
            raise PushFailed("the gateway database is unavailable") from exc
        if not kept:
            raise PushFailed("that tablet session has ended (the screen was wiped), so the shopper has gone")

    async def _answer_staff_calls(
        self, app: web.Application, device: DeviceInfo, inbound: InboundMessage, replies: list[OutboundMessage]
    ) -> list[OutboundMessage]:
        """Post each ``staff_call`` to the shop's staff and put what happened in its place."""
        out: list[OutboundMessage] = []
        for message in replies:
            call = staff_call_of(message)
            if call is None:
                out.append(message)
                continue
            held = await asyncio.to_thread(self._hold_staff_call, device, call.ticket)
            if held is not None:
                out.append(held)
                continue
            if call.store_id != device.store_id:
                log.warning(
                    "staff_call for %s from a %s tablet: using the tablet's shop", call.store_id, device.store_id
                )
            alert = staff_alert(
                call,
                store_id=device.store_id,
                store_name=await asyncio.to_thread(self.store_names.name, device.store_id),
                device_name=device.name,
                conversation_id=inbound.conversation_id,
            )
            self.dispatcher.counts["tablet.staff_call"] += 1
            try:
                reference = await app[ALERTS_KEY].alert(alert)
            except AlertNotDelivered as exc:
                self.dispatcher.counts["tablet.staff_call_not_delivered"] += 1
                log.warning("staff call %s at %s not delivered: %s", call.ticket, device.store_id, exc)
                out.append(staff_call_reply(call, delivered=False))
                continue
            log.info("staff call %s at %s delivered (%s)", call.ticket, device.store_id, reference)
            queued = reference.startswith(QUEUED_PREFIX)
            if queued:
                self.dispatcher.counts["tablet.staff_call_queued"] += 1
            out.append(staff_call_reply(call, delivered=True, queued=queued))
        return out

    def _hold_staff_call(self, device: DeviceInfo, ticket: str) -> OutboundMessage | None:
        """Whether this call is not made: the tablet has another call open (its shopper gets that call's
        status, and this call's new ticket is closed), or made ``staff_calls_per_hour`` calls in the last
        hour. Otherwise the call is recorded and None returned (make it).

        Every new shopper session is a new conversation, so without this each one could file a ticket at the
        top of the shop's queue (red team R2-5). A repeated press in the same session keeps its ticket.
        """
        hour = timedelta(hours=1)
        calls = self.registry.staff_calls(device, hour)
        counts = self.dispatcher.counts
        others = list(dict.fromkeys(t for t in calls if t != ticket))
        try:
            open_others = self.shop.still_open(others)
        except SQLAlchemyError:  # cannot tell: the hourly bound below still holds
            log.exception("cannot read this tablet's earlier staff calls from the order store")
            open_others = []
        new = ticket not in calls
        if open_others or len(calls) >= self.settings.staff_calls_per_hour:
            if new:
                try:
                    self.shop.close_ticket(ticket)  # it never reached staff: keep it out of their queue
                except SQLAlchemyError:
                    log.exception("could not close held staff call %s", ticket)
            counts["tablet.staff_call_held"] += 1
            log.info("staff call %s at %s held (open: %s, calls this hour: %d)", ticket, device.store_id,
                     open_others, len(calls))  # fmt: skip
            return staff_call_held(ticket, open_ticket=open_others[-1] if open_others else None)
        self.registry.record_staff_call(device, ticket, keep=hour)
        return None

    async def _close(self, app: web.Application) -> None:
        self.store_names.close()
        self.shop.dispose()


def _connected(request: web.Request) -> Callable[[], bool]:
    """Whether the kiosk's HTTP request is still open (a message whose page went away is not sent on)."""
    return lambda: request.transport is not None and not request.transport.is_closing()
