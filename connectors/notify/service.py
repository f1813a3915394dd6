"""The carrier webhook route and the notifier task of the gateway; set up by connectors.app.default_channels.

Both go through `store.accounts.CustomerAccounts`: the webhook (and ``python -m store shipment-event``)
records an event once per order+event in the store's outbox; the notifier releases due news (opt-in,
linked chats, the per-customer rate limit) and pushes each delivery through ``app[PUSH_KEY]``, recording
success, or failure with a back-off retry. The outbox lives in the shop database, so an event recorded by
the command while the gateway runs is sent by the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

from aiohttp import web
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from connectors.dispatch import Dispatcher
from connectors.keys import NOTIFY_KEY, PUSH_KEY
from connectors.models import OutboundMessage
from connectors.notify.settings import NotifySettings
from connectors.notify.translate import SIGNATURE_HEADER, parse_event, signature_ok
from connectors.push import PushFailed
from connectors.shared_state import shared_state
from connectors.tasks import running
from connectors.web.translate import WebInputError
from store.accounts import CustomerAccounts
from store.db import make_engine
from store.errors import InvalidInput, OrderNotFound
from store.settings import Settings as StoreSettings

log = logging.getLogger("connectors.notify")

EVENTS_PATH = "/api/carrier/events"
#: Seconds one gateway's notifier pass may hold the notifier to itself (a pass takes well under a second).
NOTIFY_LEASE_SECONDS = 60.0


class NotifyService:
    """The carrier webhook and the notifier (not a chat channel, but wired like one: ``setup(app, ...)``).

    Attributes:
        counts: ``events.recorded``, ``events.duplicate``, ``events.rejected``, ``pushed``, ``push_failed``,
            ``push_given_up``, ``loop_errors``.
    """

    name = "notify"

    def __init__(
        self,
        settings: NotifySettings,
        *,
        shop_db_url: str | None = None,
        accounts: Callable[[], CustomerAccounts] | None = None,
    ) -> None:
        """Prepare the service; nothing is opened until the app starts or the first request arrives.

        Args:
            settings: webhook secret, poll interval, rate limit and retry policy.
            shop_db_url: the order store to record events in and read the outbox from.
            accounts: builds the accounts API instead (tests pass one on their own database).
        """
        self.settings = settings
        self._shop_db_url = shop_db_url
        self._make_accounts = accounts
        self._accounts: CustomerAccounts | None = None
        self._engine: Engine | None = None
        self._wake = asyncio.Event()
        self._app: web.Application | None = None
        self.counts: Counter[str] = Counter()

    # ------------------------------------------------------------------------------------------ wiring

    def setup(self, app: web.Application, dispatcher: Dispatcher) -> None:
        """Add ``POST /api/carrier/events`` and, when enabled, the notifier task."""
        app.router.add_post(EVENTS_PATH, self.carrier_event)
        app[NOTIFY_KEY] = self
        self._app = app
        if self.settings.enabled:
            app.cleanup_ctx.append(self._lifecycle)

    @property
    def accounts(self) -> CustomerAccounts:
        """The accounts API, built on first use."""
        if self._accounts is None:
            if self._make_accounts is not None:
                self._accounts = self._make_accounts()
            else:
                url = StoreSettings.from_env({"SHOP_DATABASE_URL": self._shop_db_url or ""}).database_url
                self._engine = make_engine(url)
                self._accounts = CustomerAccounts(sessionmaker(self._engine, expire_on_commit=False))
        return self._accounts

    async def _lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        try:
            async with running(self._loop(app), "notifier"):
                yield
        finally:
            if self._engine is not None:
                self._engine.dispose()

    # ----------------------------------------------------------------------------------------- webhook

    async def carrier_event(self, request: web.Request) -> web.Response:
        """``POST /api/carrier/events``: a signed carrier event.

        Returns:
            202 ``{"recorded": true, "duplicate": false, "event_key"}`` for a new event, 200 with
            ``duplicate: true`` for a repeat (nothing is sent again); 401 for a missing or wrong
            ``X-Carrier-Signature``; 400 for a malformed body; 404 for an unknown order; 422 for an event
            the order cannot have (not shipped, no refund); 413 past the size limit; 503 when
            ``CARRIER_WEBHOOK_SECRET`` is not set.
        """
        secret = self.settings.webhook_secret
        if not secret:
            raise WebInputError(503, "not_configured", "the carrier webhook is off: set CARRIER_WEBHOOK_SECRET")
        body = await _read_limited(request, self.settings.max_body_bytes)
        # The signature is checked before the body is parsed: nothing unsigned is even looked at.
        if not signature_ok(secret, body, request.headers.get(SIGNATURE_HEADER)):
            self.counts["events.rejected"] += 1
            raise WebInputError(401, "bad_signature", f"missing or wrong {SIGNATURE_HEADER}")
        event = parse_event(body)
        try:
            recorded = await asyncio.to_thread(
                self.accounts.record_event, event.order_number, event.kind, event.event_id
            )
        except OrderNotFound:
            raise WebInputError(404, "order_not_found", "no such order", field="order_number") from None
        except InvalidInput as refusal:
            raise WebInputError(422, "not_applicable", str(refusal)) from None
        self.counts["events.recorded" if recorded.created else "events.duplicate"] += 1
        if recorded.created:
            self._wake.set()
        return web.json_response(
            {"recorded": True, "duplicate": not recorded.created, "event_key": recorded.event_key},
            status=202 if recorded.created else 200,
        )

    # ---------------------------------------------------------------------------------------- notifier

    async def _loop(self, app: web.Application) -> None:
        failures = 0
        while True:
            # Wait first: a gateway that is only starting (or a short test) does not touch the shop yet.
            delay = self.settings.poll_seconds * min(2**failures, 60)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            self._wake.clear()
            try:
                # one gateway at a time: every gateway reads the same due deliveries (connectors.shared_state)
                async with shared_state(app).exclusive("notify", NOTIFY_LEASE_SECONDS) as mine:
                    if mine:
                        await self.run_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                # The shop database is unreachable or not migrated yet: try again, more slowly.
                failures += 1
                self.counts["loop_errors"] += 1
                log.exception("notifier pass failed (%d in a row); retrying", failures)

    async def run_once(self) -> int:
        """Release due news and push every due delivery once.

        Returns:
            How many pushes succeeded in this pass.
        """
        s = self.settings
        accounts = self.accounts
        await asyncio.to_thread(accounts.release_due, s.max_per_customer, timedelta(seconds=s.window_seconds))
        due = await asyncio.to_thread(accounts.due_deliveries)
        if self._app is None:
            raise RuntimeError("NotifyService.setup(app, ...) was not called")
        router = self._app[PUSH_KEY]
        sent = 0
        for delivery in due:
            try:
                await router.push(delivery.conversation_id, [OutboundMessage(text=delivery.text)])
            except Exception as failure:  # PushFailed, or a target that broke its contract
                if not isinstance(failure, PushFailed):
                    log.exception("push target for %s raised instead of PushFailed", delivery.conversation_id)
                status = await asyncio.to_thread(
                    accounts.delivery_failed,
                    delivery.id,
                    str(failure),
                    max_attempts=s.max_attempts,
                    backoff=timedelta(seconds=s.retry_seconds),
                    max_backoff=timedelta(seconds=s.max_retry_seconds),
                )
                self.counts["push_failed"] += 1
                if status == "failed":
                    self.counts["push_given_up"] += 1
                    log.warning("gave up pushing news to %s: %s", delivery.conversation_id, failure)
                continue
            await asyncio.to_thread(accounts.delivery_sent, delivery.id)
            self.counts["pushed"] += 1
            sent += 1
        return sent


async def _read_limited(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise WebInputError(413, "body_too_large", f"the body is over {limit} bytes", limit=limit)
    # read() returns what has arrived so far, not the whole body: read to the end (a body split across
    # TCP segments was checked against its first part), stopping past the limit.
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(limit + 1 - size):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise WebInputError(413, "body_too_large", f"the body is over {limit} bytes", limit=limit)
    return b"".join(chunks)
