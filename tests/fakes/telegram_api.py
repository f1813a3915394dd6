"""A small fake Telegram Bot API (aiohttp, port 0) for driving the real python-telegram-bot client in tests.

It speaks ``POST /bot{token}/{method}`` with Telegram's ``{"ok": ..., "result" | "error_code", "description"}``
envelope, enforces the limits real Telegram enforces (4096-character texts, 1024-character captions,
64-byte ``callback_data``), serves queued updates to ``getUpdates`` honouring ``offset``/``timeout``,
and records every call. It can run on the test's event loop (``start``/``stop``) or on its own thread
(``start_in_thread``/``stop_thread``) for end-to-end tests where a gateway process long-polls it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

TOKEN = "123456789:AAFakeTokenForTests_abcdefghijklmnop"
BOT_ID = 123456789
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Shop Assistant", "username": "shop_support_bot"}

# Parameters that stay strings even when they look like JSON ("123" typed by a customer is text).
_STRING_PARAMS = frozenset({"text", "caption", "photo", "url", "secret_token", "callback_query_id"})


@dataclass(frozen=True)
class ApiCall:
    """One request that reached the fake: the method, its decoded parameters and when (``time.monotonic()``)."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class FakeTelegramApi:
    """The fake Bot API server. ``calls`` lists every request, in order (including refused ones)."""

    token: str = TOKEN
    calls: list[ApiCall] = field(default_factory=list)
    webhook: dict[str, Any] | None = None
    failures: dict[str, list[tuple[int, str, dict[str, Any] | None]]] = field(default_factory=dict)
    server: TestServer | None = None
    _queue: list[dict[str, Any]] = field(default_factory=list)
    _again: list[dict[str, Any]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _loop: asyncio.AbstractEventLoop | None = None
    _wakeup: asyncio.Event | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------- lifecycle

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        return app

    async def start(self, port: int = 0) -> None:
        """Serve on the running loop, on a free loopback port."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self.server = TestServer(self.app(), host="127.0.0.1", port=port)
        await self.server.start_server()

    async def stop(self) -> None:
        """Stop serving."""
        if self.server is not None:
            await self.server.close()

    def start_in_thread(self) -> None:
        """Serve on a loop of its own in a daemon thread (for tests whose loop is not always running)."""
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start())
            started.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-telegram-api", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the fake Telegram API did not start")

    def stop_thread(self) -> None:
        """Stop the thread started by :meth:`start_in_thread`."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    @property
    def base_url(self) -> str:
        """What ``TELEGRAM_API_BASE_URL`` should be set to."""
        assert self.server is not None and self.server.port is not None
        return f"http://127.0.0.1:{self.server.port}"

    # ------------------------------------------------------------- driving it

    def add_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for ``getUpdates`` (an ``update_id`` is assigned when missing); thread-safe.

        Returns:
            The update as it will be served.
        """
        if "update_id" not in update:
            update = {"update_id": next(self._ids), **update}
        self._in_loop(self._queue.append, update)
        return update

    def deliver_again(self, update: dict[str, Any]) -> None:
        """Serve ``update`` once more on the next ``getUpdates``, whatever the offset (as Telegram may)."""
        self._in_loop(self._again.append, update)

    def fail(
        self, method: str, status: int, description: str, *, times: int = 1, parameters: dict[str, Any] | None = None
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error envelope."""
        with self._lock:
            self.failures.setdefault(method, []).extend([(status, description, parameters)] * times)

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """The parameters of every call of ``method``, in order."""
        with self._lock:
            return [c.params for c in self.calls if c.method == method]

    def times_of(self, method: str) -> list[float]:
        """When each call of ``method`` arrived (``time.monotonic()``), in order."""
        with self._lock:
            return [c.at for c in self.calls if c.method == method]

    def methods(self, *, ignore: tuple[str, ...] = ("getUpdates",)) -> list[str]:
        """The methods called, in order, without ``ignore``."""
        with self._lock:
            return [c.method for c in self.calls if c.method not in ignore]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait (on an event loop) until ``method`` was called ``count`` times; return those calls."""
        deadline = time.monotonic() + timeout
        while len(self.calls_to(method)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} called {len(self.calls_to(method))} times, not {count}: {self.calls}")
            await asyncio.sleep(0.01)
        return self.calls_to(method)

    def wait_for_sync(self, method: str, count: int = 1, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Like :meth:`wait_for`, blocking (for synchronous tests)."""
        deadline = time.monotonic() + timeout
        while len(self.calls_to(method)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} called {len(self.calls_to(method))} times, not {count}")
            time.sleep(0.05)
        return self.calls_to(method)

    def _in_loop(self, func: Callable[[dict[str, Any]], None], update: dict[str, Any]) -> None:
        assert self._loop is not None, "start the fake first"

        def apply() -> None:
            func(update)
            assert self._wakeup is not None
            self._wakeup.set()

        self._loop.call_soon_threadsafe(apply)

    # ------------------------------------------------------------- the API

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        with self._lock:
            self.calls.append(ApiCall(method, params))
        if request.match_info["token"] != self.token:
            return _fail(401, "Unauthorized")
        with self._lock:
            pending = self.failures.get(method)
            failure = pending.pop(0) if pending else None
        if failure is not None:
            return _fail(*failure)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _fail(404, "Not Found: method not found")
        result = await handler(params)
        if isinstance(result, web.Response):
            return result
        return web.json_response({"ok": True, "result": result})

    async def _m_getMe(self, params: dict[str, Any]) -> Any:  # noqa: N802 (Bot API method name)
        return {**BOT_USER, "can_join_groups": False, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:  # noqa: N802
        assert self._wakeup is not None
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        if offset:  # confirmed: Telegram forgets everything before the offset
            self._queue[:] = [u for u in self._queue if u["update_id"] >= offset]
        while True:
            batch = self._again + [u for u in self._queue if u["update_id"] >= offset]
            if batch:
                self._again.clear()
                return batch[:limit]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                return []

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:  # noqa: N802
        self.webhook = None
        return True

    async def _m_setWebhook(self, params: dict[str, Any]) -> Any:  # noqa: N802
        if not str(params.get("url", "")).startswith(("https://", "http://")):
            return _fail(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = params
        return True

    async def _m_getWebhookInfo(self, params: dict[str, Any]) -> Any:  # noqa: N802
        url = (self.webhook or {}).get("url", "")
        return {"url": url, "has_custom_certificate": False, "pending_update_count": len(self._queue)}

    async def _m_sendChatAction(self, params: dict[str, Any]) -> Any:  # noqa: N802
        return True

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:  # noqa: N802
        if not params.get("callback_query_id"):
            return _fail(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        return True

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:  # noqa: N802
        text = params.get("text") or ""
        if not text.strip():
            return _fail(400, "Bad Request: message text is empty")
        if _utf16(text) > 4096:
            return _fail(400, "Bad Request: message is too long")
        bad = _check_markup(params)
        if bad is not None:
            return bad
        return self._message(params, text=text)

    async def _m_sendPhoto(self, params: dict[str, Any]) -> Any:  # noqa: N802
        if not params.get("photo"):
            return _fail(400, "Bad Request: there is no photo in the request")
        if _utf16(params.get("caption") or "") > 1024:
            return _fail(400, "Bad Request: message caption is too long")
        bad = _check_markup(params)
        if bad is not None:
            return bad
        photo = [{"file_id": "AgAD-photo", "file_unique_id": "AQAD-photo", "width": 640, "height": 640}]
        extra: dict[str, Any] = {"photo": photo}
        if params.get("caption"):
            extra["caption"] = params["caption"]
        return self._message(params, **extra)

    def _message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": params["chat_id"], "type": "private", "first_name": "Customer"},
            "from": BOT_USER,
            **content,
        }
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        return message


def _check_markup(params: dict[str, Any]) -> web.Response | None:
    markup = params.get("reply_markup")
    if markup is None:
        return None
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list):
        return _fail(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in rows:
        for key in row:
            data = key.get("callback_data")
            if not key.get("text") or not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                return _fail(400, "Bad Request: BUTTON_DATA_INVALID")
    return None


async def _params(request: web.Request) -> dict[str, Any]:
    raw: dict[str, Any]
    if request.content_type == "application/json":
        body = await request.read()
        raw = json.loads(body) if body else {}
    else:
        raw = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        raw.update(request.query)
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and key not in _STRING_PARAMS:
            try:
                decoded[key] = json.loads(value)
                continue
            except ValueError:
                pass
        decoded[key] = value
    return decoded


def _fail(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# ----------------------------------------------------------------- update builders

CUSTOMER = {"id": 4242, "is_bot": False, "first_name": "Noah", "language_code": "en"}
PRIVATE_CHAT = {"id": 4242, "type": "private", "first_name": "Noah"}


def text_update(
    text: str, *, chat_id: int = 4242, update_id: int | None = None, chat_type: str = "private"
) -> dict[str, Any]:
    """An update with a text message from a customer."""
    chat = {**PRIVATE_CHAT, "id": chat_id, "type": chat_type}
    if chat_type != "private":
        chat["title"] = "Some group"
    update: dict[str, Any] = {
        "message": {
            "message_id": 77,
            "date": 1_700_000_000,
            "chat": chat,
            "from": {**CUSTOMER, "id": chat_id},
            "text": text,
        }
    }
    if update_id is not None:
        update["update_id"] = update_id
    return update


def callback_update(
    data: str,
    *,
    chat_id: int = 4242,
    query_id: str = "987654321",
    keyboard: list[list[dict[str, str]]] | None = None,
    update_id: int | None = None,
) -> dict[str, Any]:
    """An update for a pressed inline button (``keyboard`` is the message's markup, when known)."""
    message: dict[str, Any] = {
        "message_id": 78,
        "date": 1_700_000_000,
        "chat": {**PRIVATE_CHAT, "id": chat_id},
        "from": BOT_USER,
        "text": "Would you like to return it?",
    }
    if keyboard is not None:
        message["reply_markup"] = {"inline_keyboard": keyboard}
    update: dict[str, Any] = {
        "callback_query": {
            "id": query_id,
            "from": {**CUSTOMER, "id": chat_id},
            "chat_instance": "-1234",
            "message": message,
            "data": data,
        }
    }
    if update_id is not None:
        update["update_id"] = update_id
    return update


def edited_update(text: str, *, chat_id: int = 4242) -> dict[str, Any]:
    """An update for a message the customer edited."""
    message = text_update(text, chat_id=chat_id)["message"]
    return {"edited_message": {**message, "edit_date": 1_700_000_100}}


def sticker_update(*, chat_id: int = 4242) -> dict[str, Any]:
    """An update with a sticker and no text."""
    message = text_update("x", chat_id=chat_id)["message"]
    del message["text"]
    message["sticker"] = {
        "file_id": "CAAD-sticker",
        "file_unique_id": "AgAD-sticker",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
    }
    return {"message": message}


def photo_update(caption: str | None, *, chat_id: int = 4242) -> dict[str, Any]:
    """An update with a photo, with or without a caption."""
    message = text_update("x", chat_id=chat_id)["message"]
    del message["text"]
    message["photo"] = [{"file_id": "AgAD-in", "file_unique_id": "AQAD-in", "width": 90, "height": 90}]
    if caption is not None:
        message["caption"] = caption
    return {"message": message}


def channel_post_update() -> dict[str, Any]:
    """An update for a post in a channel the bot administers."""
    return {
        "channel_post": {
            "message_id": 5,
            "date": 1_700_000_000,
            "chat": {"id": -1001234, "type": "channel", "title": "Shop news"},
            "text": "New arrivals!",
        }
    }


def member_update(*, chat_id: int = 4242) -> dict[str, Any]:
    """A ``my_chat_member`` update: the customer blocked the bot."""
    user = {**CUSTOMER, "id": chat_id}
    return {
        "my_chat_member": {
            "chat": {**PRIVATE_CHAT, "id": chat_id},
            "from": user,
            "date": 1_700_000_000,
            "old_chat_member": {"status": "member", "user": BOT_USER},
            "new_chat_member": {"status": "kicked", "user": BOT_USER, "until_date": 0},
        }
    }
