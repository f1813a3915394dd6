"""python-telegram-bot wiring of the Telegram channel: long polling or the webhook route; set up by connectors.app."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import weakref
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiohttp import web
from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from connectors import safejson
from connectors.dispatch import Dispatcher
from connectors.errors import GatewayError, describe_for_user
from connectors.keys import PUSH_KEY, SESSIONS_KEY
from connectors.models import InboundMessage, OutboundMessage
from connectors.push import PushFailed
from connectors.shared_state import LocalState, shared_state
from connectors.telegram.ratelimit import MAX_RETRY_AFTER, BoundedRateLimiter
from connectors.telegram.settings import WEBHOOK_PATH, TelegramSettings
from connectors.telegram.state import CallbackStore, RecentUpdates
from connectors.telegram.translate import (
    ALLOWED_UPDATES,
    CHANNEL,
    EDIT_REPLY,
    EXPIRED_BUTTON,
    UNSUPPORTED_REPLY,
    BotCall,
    Incoming,
    button_inbound,
    classify_update,
    is_short_id,
    render,
    split_text,
    too_long_reply,
)

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
#: Updates handled at once (different chats); one chat's updates are still answered in order.
CONCURRENT_UPDATES = 32


class TelegramSendError(GatewayError):
    """Telegram refused or did not take a message we sent (counted as ``telegram.send_failed``)."""


class TelegramChannel:
    """The Telegram channel (name ``telegram``): private chats with the bot, via python-telegram-bot.

    Polling mode starts PTB's updater (which deletes any webhook first); webhook mode registers
    ``TelegramSettings.webhook_url`` with ``setWebhook`` and serves ``POST /telegram/webhook``. Both
    start in the background once the gateway is up, retrying while Telegram is unreachable, so the
    gateway (and its other channels) serve even when Telegram is down or the token is wrong.

    Counters (in ``Dispatcher.counts``): ``telegram.updates``, ``.duplicates``, ``.ignored``,
    ``.edits``, ``.unsupported``, ``.too_long``, ``.buttons``, ``.button_expired``, ``.sent``,
    ``.send_failed``, ``.skipped`` and ``.skipped.<reason>``, ``.photo_fallback``, ``.rate_limited``,
    ``.typing_failed``, ``.callback_answer_failed``, ``.connect_failed``, ``.poll_failed``, ``.handler_failed``,
    ``.webhook_unauthorized``, ``.webhook_forbidden``, ``.webhook_bad_request``; the dispatcher adds
    ``telegram.inbound``, ``.replies``, ``.rasa_unavailable``, ``.rasa_error``.
    """

    name = CHANNEL

    def __init__(
        self,
        settings: TelegramSettings,
        *,
        max_message_chars: int = 2000,
        recent_updates: int = 10_000,
        retry_delay: float = 1.0,
    ) -> None:
        """Configure the channel; nothing is built or connected until ``setup`` and startup.

        Args:
            settings: the Telegram settings.
            max_message_chars: the gateway's longest accepted message.
            recent_updates: how many update ids to remember for deduplication.
            retry_delay: first wait before retrying to connect to Telegram (doubles up to 60 s).
        """
        self.settings = settings
        self.max_message_chars = max_message_chars
        self.retry_delay = retry_delay
        self.recent = RecentUpdates(recent_updates)
        self.ready = asyncio.Event()
        self._dispatcher: Dispatcher | None = None
        self._application: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._callbacks: CallbackStore | None = None
        self._shared: LocalState = LocalState()  # the gateways' shared memory of update ids (setup)
        self._connector: asyncio.Task[None] | None = None
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    # ------------------------------------------------------------------ wiring

    def setup(self, app: web.Application, dispatcher: Dispatcher) -> None:
        """Add the webhook route (webhook mode) and the background start/stop of the bot.

        Args:
            app: the gateway application (its ``SESSIONS_KEY`` holds the gateway database).
            dispatcher: where inbound messages go.
        """
        self._dispatcher = dispatcher
        self._shared = shared_state(app)
        self._callbacks = CallbackStore(app[SESSIONS_KEY])
        hide_token_in_http_logs(self.settings.bot_token)
        self._application = self._build_application()
        if self.settings.mode == "webhook":
            app.router.add_post(WEBHOOK_PATH, self.webhook)
        app.cleanup_ctx.append(self._lifecycle)
        app[PUSH_KEY].register(self.name, self)

    def _build_application(self) -> Application[Any, Any, Any, Any, Any, Any]:
        base = self.settings.api_base_url
        builder = (
            ApplicationBuilder()
            .token(self.settings.bot_token)
            .base_url(f"{base}/bot")
            .base_file_url(f"{base}/file/bot")
            .connect_timeout(10.0)
            .read_timeout(15.0)
            .get_updates_connect_timeout(10.0)
            .get_updates_read_timeout(10.0)  # PTB adds the long-poll timeout to this
            .concurrent_updates(CONCURRENT_UPDATES)
            .job_queue(None)
            # Telegram's flood limits and 429s: PTB paces every call but getUpdates, waits a 429 out and
            # sends again once; a wait over MAX_RETRY_AFTER fails the call (ratelimit.py).
            .rate_limiter(BoundedRateLimiter(lambda: self._count("rate_limited"), max_wait=MAX_RETRY_AFTER))
        )
        if self.settings.mode == "webhook":
            builder = builder.updater(None)
        application = builder.build()
        application.add_handler(TypeHandler(Update, self._on_update))
        application.add_error_handler(self._on_error)
        return application

    @property
    def application(self) -> Application[Any, Any, Any, Any, Any, Any]:
        """The PTB application built by :meth:`setup`."""
        if self._application is None:
            raise RuntimeError("TelegramChannel.setup() has not been called")
        return self._application

    @property
    def dispatcher(self) -> Dispatcher:
        """The dispatcher given to :meth:`setup`."""
        if self._dispatcher is None:
            raise RuntimeError("TelegramChannel.setup() has not been called")
        return self._dispatcher

    def _count(self, name: str) -> None:
        self.dispatcher.counts[f"{CHANNEL}.{name}"] += 1

    async def _lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        self._connector = asyncio.create_task(self._connect(), name="telegram-connect")
        try:
            yield
        finally:
            await self._disconnect()

    async def _connect(self) -> None:
        """Start the bot, retrying with backoff while Telegram is unreachable; give up on a rejected token."""
        application, delay = self.application, self.retry_delay
        while True:
            try:
                await application.initialize()  # getMe: checks the token
                if not application.running:
                    await application.start()
                if self.settings.mode == "webhook":
                    await application.bot.set_webhook(
                        url=str(self.settings.webhook_url),
                        secret_token=self.settings.webhook_secret,
                        allowed_updates=list(ALLOWED_UPDATES),
                    )
                else:
                    assert application.updater is not None
                    await application.updater.start_polling(
                        timeout=self.settings.poll_timeout,
                        allowed_updates=list(ALLOWED_UPDATES),
                        error_callback=self._on_poll_error,
                    )
            except InvalidToken:
                self._count("connect_failed")
                log.error("Telegram rejected TELEGRAM_BOT_TOKEN: the Telegram channel stays off until it is fixed")
                return
            except TelegramError as exc:
                self._count("connect_failed")
                log.warning("cannot reach Telegram (%s); retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
                continue
            self.ready.set()
            log.info(
                "telegram channel up as @%s (%s)",
                application.bot.username,
                "webhook " + str(self.settings.webhook_url) if self.settings.mode == "webhook" else "long polling",
            )
            return

    async def _disconnect(self) -> None:
        application = self.application
        if self._connector is not None and not self._connector.done():
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()  # waits for the updates being answered
        await application.shutdown()
        self.ready.clear()

    def _on_poll_error(self, exc: TelegramError) -> None:
        # PTB keeps polling with backoff after this; it must not raise.
        self._count("poll_failed")
        log.warning("polling Telegram failed (PTB retries): %s", exc)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Send failures were counted where they happened; anything else is counted here. Either way
        # the error is logged once, and PTB goes on with the next update.
        error = context.error
        if isinstance(error, TelegramSendError):
            log.error("telegram update %s: %s", getattr(update, "update_id", "?"), error)
        else:
            self._count("handler_failed")
            log.error("telegram update %s failed", getattr(update, "update_id", "?"), exc_info=error)

    # ------------------------------------------------------------------ webhook

    async def webhook(self, request: web.Request) -> web.Response:
        """``POST /telegram/webhook``: one update from Telegram, checked by its secret-token header.

        Returns:
            200 once the update is queued; 401 without the secret header, 403 with a wrong one
            (neither reaches the bot); 400 for a body that is not a JSON update; 413 past
            ``max_webhook_body_bytes``; 503 while the bot is still connecting (Telegram retries).
        """
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            self._count("webhook_unauthorized")
            return _error(401, "missing_secret", f"the {SECRET_HEADER} header is required")
        expected = str(self.settings.webhook_secret).encode("utf-8")
        if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected):
            self._count("webhook_forbidden")
            return _error(403, "wrong_secret", f"the {SECRET_HEADER} header does not match")
        raw = await _read_limited(request, self.settings.max_webhook_body_bytes)
        if raw is None:
            self._count("webhook_bad_request")
            return _error(413, "body_too_large", f"the limit is {self.settings.max_webhook_body_bytes} bytes")
        try:
            data = safejson.loads(raw)
        except safejson.JsonRejected as exc:
            self._count("webhook_bad_request")
            return _error(400, "invalid_json", f"the body must be UTF-8 JSON ({exc})")
        update = _parse_update(data, self.application)
        if update is None:
            self._count("webhook_bad_request")
            return _error(400, "not_an_update", "the body must be a Telegram Update object with an update_id")
        if not self.application.running:
            return _error(503, "not_ready", "the Telegram channel is still connecting")
        await self.application.update_queue.put(update)
        return web.json_response({"ok": True})

    # ------------------------------------------------------------------ answering

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.handle_update(update)

    async def handle_update(self, update: Update) -> None:
        """Answer one update (polling and webhook both end here), once per update id.

        Args:
            update: the parsed update.

        Raises:
            TelegramSendError: a reply could not be sent (counted; PTB's error handler logs it and
                polling goes on).
        """
        self._count("updates")
        # this gateway's memory, then every gateway's (a webhook retry may reach another replica)
        if not self.recent.first_time(update.update_id) or not await self._shared.first_time(
            "telegram", str(update.update_id)
        ):
            self._count("duplicates")
            return
        incoming = classify_update(update, self.max_message_chars)
        if incoming.kind == "ignored":
            self._count("ignored")
            if incoming.callback_query_id is not None:
                await self._answer_callback(incoming.callback_query_id)
            return
        assert incoming.chat_id is not None  # every other kind has a chat
        async with self._lock_for(incoming.chat_id):  # one chat's updates are answered in order
            await self._respond(incoming, incoming.chat_id)

    def _lock_for(self, chat_id: int) -> asyncio.Lock:
        lock = self._locks.get(chat_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[chat_id] = lock  # dropped by the weak dict once nobody waits on it
        return lock

    async def _respond(self, incoming: Incoming, chat_id: int) -> None:
        if incoming.kind == "edited":
            self._count("edits")
            await self._send_text(chat_id, EDIT_REPLY)
        elif incoming.kind == "unsupported":
            self._count("unsupported")
            await self._send_text(chat_id, UNSUPPORTED_REPLY)
        elif incoming.kind == "too_long":
            self._count("too_long")
            await self._send_text(chat_id, too_long_reply(incoming.length, self.max_message_chars))
        elif incoming.kind == "button":
            await self._button(incoming, chat_id)
        elif incoming.inbound is not None:
            await self._converse(chat_id, incoming.inbound)

    async def _button(self, incoming: Incoming, chat_id: int) -> None:
        self._count("buttons")
        data = str(incoming.callback_data)
        query_id = str(incoming.callback_query_id)
        payload: str | None = data
        if is_short_id(data):
            assert self._callbacks is not None
            try:
                payload = await asyncio.to_thread(self._callbacks.lookup, data)
            except Exception:
                await self._answer_callback(query_id)  # stop the spinner; PTB's error handler counts the rest
                raise
        if payload is None:
            self._count("button_expired")
            await self._answer_callback(query_id, EXPIRED_BUTTON)
            return
        await self._answer_callback(query_id)
        await self._converse(chat_id, button_inbound(chat_id, payload, incoming.button_title))

    async def _converse(self, chat_id: int, inbound: InboundMessage) -> None:
        await self._typing(chat_id)
        try:
            replies = await self.dispatcher.dispatch(inbound)
        except GatewayError as exc:  # counted by the dispatcher; the customer hears what web users hear
            await self._send_text(chat_id, describe_for_user(exc).message)
            return
        rendering = render(chat_id, replies)
        for reason in rendering.skipped:
            self._count("skipped")
            self._count(f"skipped.{reason}")
        if rendering.long_payloads:
            assert self._callbacks is not None
            await asyncio.to_thread(self._callbacks.remember, rendering.long_payloads)
        for call in rendering.calls:
            await self._call(call)

    async def push(self, sender_id: str, messages: Sequence[OutboundMessage]) -> None:
        """``PushTarget``: send ``messages`` to the chat ``sender_id``, after any answer in progress there.

        Raises:
            PushFailed: not a chat id, or Telegram refused a call (also counted as ``telegram.send_failed``).
        """
        try:
            chat_id = int(sender_id)
        except ValueError:
            raise PushFailed(f"not a Telegram chat id: {sender_id!r}") from None
        rendering = render(chat_id, messages)
        async with self._lock_for(chat_id):
            try:
                if rendering.long_payloads:
                    assert self._callbacks is not None
                    await asyncio.to_thread(self._callbacks.remember, rendering.long_payloads)
                for call in rendering.calls:
                    await self._call(call)
            except TelegramSendError as exc:
                raise PushFailed(str(exc)) from exc

    async def _send_text(self, chat_id: int, text: str) -> None:
        for piece in split_text(text):
            await self._call(BotCall("sendMessage", {"chat_id": chat_id, "text": piece}))

    async def _call(self, call: BotCall) -> None:
        """Make one Bot API call; a refused photo falls back to its caption as text.

        A 429 reaches this only when it is final: the application's rate limiter waits one out and sends
        again, and raises ``RateLimitExceeded`` (a ``TelegramError``) for a wait over ``MAX_RETRY_AFTER``
        or a second 429.

        Raises:
            TelegramSendError: Telegram refused or could not be reached (counted as ``send_failed``).
        """
        try:
            await self._invoke(call)
        except BadRequest as exc:
            if call.method == "sendPhoto":
                # Telegram fetches photo URLs itself and refuses ones it cannot load: keep the words.
                self._count("photo_fallback")
                log.warning("Telegram refused photo %s (%s); sending the caption", call.params["photo"], exc)
                fallback = _photo_as_text(call)
                if fallback is not None:
                    await self._call(fallback)
                return
            self._count("send_failed")
            raise TelegramSendError(f"{call.method} to chat {call.params.get('chat_id')}: {exc}") from exc
        except TelegramError as exc:
            self._count("send_failed")
            raise TelegramSendError(f"{call.method} to chat {call.params.get('chat_id')}: {exc}") from exc
        self._count("sent")

    async def _invoke(self, call: BotCall) -> None:
        bot = self.application.bot
        params = dict(call.params)
        markup = params.pop("reply_markup", None)
        reply_markup = InlineKeyboardMarkup.de_json(markup, bot) if markup else None
        if call.method == "sendMessage":
            await bot.send_message(reply_markup=reply_markup, **params)
        elif call.method == "sendPhoto":
            await bot.send_photo(reply_markup=reply_markup, **params)
        else:
            raise ValueError(f"unsupported Bot API call {call.method}")

    async def _typing(self, chat_id: int) -> None:
        # Cosmetic: a failure is counted and the turn goes on (the reply itself is what matters).
        try:
            await self.application.bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as exc:
            self._count("typing_failed")
            log.info("sendChatAction failed for chat %s: %s", chat_id, exc)

    async def _answer_callback(self, query_id: str, text: str | None = None) -> None:
        # An unanswered query only leaves a spinner; the customer's press is still worth answering,
        # so a failure here (e.g. a query older than Telegram keeps) is counted and the turn goes on.
        try:
            await self.application.bot.answer_callback_query(query_id, text=text)
        except TelegramError as exc:
            self._count("callback_answer_failed")
            log.warning("answerCallbackQuery failed: %s", exc)


class _RedactToken(logging.Filter):
    """Replaces the bot token in log records (it is part of every Bot API URL)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<TELEGRAM_BOT_TOKEN>"), ()
        return True


def hide_token_in_http_logs(token: str) -> None:
    """Keep the bot token out of the gateway log.

    httpx (PTB's HTTP client) logs every request URL at INFO, and Bot API URLs contain the token:
    anyone reading the log could take over the bot. Its per-request lines are dropped (WARNING and
    above remain); the token is replaced in what httpx and PTB's bot, updater and application log.

    Args:
        token: the bot token.
    """
    http_log = logging.getLogger("httpx")
    if http_log.getEffectiveLevel() < logging.WARNING:
        http_log.setLevel(logging.WARNING)
    # Logger filters do not apply to child loggers: name each logger that prints URLs.
    for name in ("httpx", "telegram.Bot", "telegram.ext.ExtBot", "telegram.ext.Updater", "telegram.ext.Application"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactToken) and f.token == token for f in logger.filters):
            logger.addFilter(_RedactToken(token))


def _photo_as_text(call: BotCall) -> BotCall | None:
    caption = call.params.get("caption")
    if not caption:
        return None
    params: dict[str, Any] = {"chat_id": call.params["chat_id"], "text": caption}
    if "reply_markup" in call.params:
        params["reply_markup"] = call.params["reply_markup"]
    return BotCall("sendMessage", params)


def _parse_update(data: object, application: Application[Any, Any, Any, Any, Any, Any]) -> Update | None:
    if not isinstance(data, dict):
        return None
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        return None
    try:
        return Update.de_json(data, application.bot)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or None past ``limit`` bytes (read in chunks, so a huge body is never held whole)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": message, "code": code}, status=status)
