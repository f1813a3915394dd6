"""Bolt wiring of the Slack channel (Socket Mode or ``POST /slack/events``); set up by connectors.app.

Slack wants every event acknowledged within 3 seconds and retries otherwise, so listeners only
translate, then hand the work to a tracked background task and return: Bolt acknowledges at once.
Retries (``X-Slack-Retry-Num``, same ``event_id``) are dropped by a middleware that remembers recent
event ids, after the signature check so forged requests cannot fill that memory. A signed request replayed
as it was (same signature) within Slack's five-minute signature window is acknowledged and dropped, and
a button press (its ``trigger_id``) is processed once in either mode. Staff are allowlisted users of the
app's own workspace (``auth.test`` or ``SLACK_TEAM_ID``), never of the team a request names.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from connectors import safejson
from connectors.dispatch import Dispatcher
from connectors.errors import GatewayError, describe_for_user
from connectors.keys import ALERTS_KEY, PUSH_KEY, SESSIONS_KEY
from connectors.models import OutboundMessage
from connectors.push import PushFailed
from connectors.shared_state import LocalState, shared_state
from connectors.slack.alerts import SlackStaffAlerts
from connectors.slack.settings import EVENTS_PATH, SlackSettings
from connectors.slack.state import ReplyTargets
from connectors.slack.translate import (
    BUTTON_ACTION_RE,
    CLAIM_ACTION,
    RESOLVE_ACTION,
    ReplyTarget,
    SlackInbound,
    SlackPost,
    StaffDirectory,
    blocks_after_press,
    inbound_from_action,
    inbound_from_event,
    render_messages,
    render_text,
    unslack_text,
)
from connectors.tasks import BackgroundTasks
from connectors.text import clean_typed_text

log = logging.getLogger(__name__)

#: How many conversations' reply targets are remembered for pushed messages (hand-off replies).
MAX_PUSH_TARGETS = 10_000

#: Largest Events API body accepted (Slack's own payloads are far smaller; block_actions carry the message).
MAX_EVENT_BODY = 256 * 1024
#: Seconds a signed request is remembered against replays: Slack's signature window (five minutes) plus
#: the clock skew its timestamp check allows.
REPLAY_WINDOW = 330.0


class SlackSendFailed(GatewayError):
    """Slack refused or did not answer a ``chat.postMessage`` / ``chat.update`` (counted as ``slack.send_failed``)."""


#: How often one Web API call is tried again after a 429 (each waits Slack's ``Retry-After``).
RATE_LIMIT_RETRIES = 3


def web_client(settings: SlackSettings) -> AsyncWebClient:
    """The Web API client: the bot token, ``SLACK_API_BASE_URL``, and slack_sdk's own retry of 429 answers.

    Slack rate-limits per method and workspace (``chat.postMessage`` about one a second per channel); a 429 says
    how long to wait in ``Retry-After``, and slack_sdk's ``AsyncRateLimitErrorRetryHandler`` waits that long and
    sends the call again, for every call of the channel, its alerts and the hand-off desk (they share the client).
    """
    client = AsyncWebClient(token=settings.bot_token, base_url=settings.api_base_url)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))
    return client


def _log_failed_answer(error: BaseException) -> None:
    # Already counted where it happened (slack.send_failed); this is the one log line with the cause.
    log.error("slack answer failed: %s", error, exc_info=error)


class ThreadRelay(Protocol):
    """Whoever owns some threads of the staff channels and their Claim/Resolve buttons (``SlackChannel.relay``).

    The app sets the hand-off desk here (``connectors.handoff.install``); the channel only routes to it.
    """

    def owns_thread(self, channel: str, thread_ts: str) -> bool:
        """Whether the thread is the relay's (blocking: called in a worker thread; may raise SQLAlchemyError)."""
        ...

    async def staff_message(self, channel: str, thread_ts: str, user: str, text: str) -> bool:
        """A staff member wrote in one of the relay's threads."""
        ...

    async def claim(self, ticket: str, user: str, name: str | None) -> bool:
        """A Claim press."""
        ...

    async def resolve(self, ticket: str, user: str) -> bool:
        """A Resolve press."""
        ...

    def remember_name(self, user: str, name: str | None) -> None:
        """How to call a staff member, from a button press."""
        ...


class SlackChannel:
    """The store-staff Slack channel (channel name ``slack``).

    Socket Mode (default) keeps a WebSocket to Slack open from a ``cleanup_ctx``; events mode adds
    ``POST /slack/events``. Either way the same Bolt ``AsyncApp`` handles direct messages, mentions
    and button presses, and ``SlackStaffAlerts`` is installed at ``app[ALERTS_KEY]``.

    Counters (in the dispatcher's ``counts``): ``slack.inbound`` (via the dispatcher), ``slack.sent``,
    ``slack.send_failed``, ``slack.duplicate``, ``slack.ignored``, ``slack.rejected``, ``slack.alerts``,
    ``slack.alert_failed``.
    """

    name = "slack"

    def __init__(
        self,
        settings: SlackSettings,
        *,
        max_message_chars: int = 2000,
        client: AsyncWebClient | None = None,
    ) -> None:
        """Configure the channel; nothing connects until the app starts.

        Args:
            settings: the Slack settings.
            max_message_chars: longest message accepted (``GATEWAY_MAX_MESSAGE_CHARS``).
            client: the Web API client (default: one for ``settings.api_base_url`` and the bot token).
        """
        self.settings = settings
        self.max_message_chars = max_message_chars
        self.client = client or web_client(settings)
        self.bolt = self._build_bolt()
        self.socket_handler: AsyncSocketModeHandler | None = None
        self._dispatcher: Dispatcher | None = None
        self._verifier = SignatureVerifier(settings.signing_secret) if settings.signing_secret else None
        self._seen_events: OrderedDict[str, None] = OrderedDict()
        # Signatures of signed requests and trigger ids of presses seen lately -> when (replays are dropped).
        self._seen_requests: OrderedDict[str, float] = OrderedDict()
        self._shared: LocalState = LocalState()  # the gateways' shared memory of event ids (setup)
        self._tasks: BackgroundTasks[None] = BackgroundTasks(on_error=_log_failed_answer)
        # One answer at a time per conversation, so replies keep the order of the messages (lock, users).
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        # Where each conversation was last answered, so a pushed message lands in the same DM or thread.
        self._targets: OrderedDict[str, ReplyTarget] = OrderedDict()
        self._stored_targets: ReplyTargets | None = None  # the same, in the gateway database (set up in setup)
        self.alerts: SlackStaffAlerts | None = None  # set in setup
        self.relay: ThreadRelay | None = None  # the hand-off desk, set by the app after setup

    # ----------------------------------------------------------------------------------- wiring

    def setup(self, app: web.Application, dispatcher: Dispatcher) -> None:
        """Install staff alerts, then the events route or the Socket Mode connection.

        Args:
            app: the gateway application.
            dispatcher: where inbound messages go.
        """
        self._dispatcher = dispatcher
        self._shared = shared_state(app)
        self._stored_targets = ReplyTargets(app[SESSIONS_KEY])
        alerts = SlackStaffAlerts(
            self.client, self.settings.store_channels, self.settings.support_channel, dispatcher.counts
        )
        app[ALERTS_KEY] = self.alerts = alerts
        app[PUSH_KEY].register(self.name, self)
        if self.settings.mode == "events":
            app.router.add_post(EVENTS_PATH, self.events_endpoint)
        else:
            app.cleanup_ctx.append(self._socket_mode)
        app.on_shutdown.append(self._shutdown)

    @property
    def dispatcher(self) -> Dispatcher:
        """The dispatcher given to :meth:`setup`."""
        if self._dispatcher is None:
            raise RuntimeError("SlackChannel.setup() has not been called")
        return self._dispatcher

    @property
    def counts(self) -> Counter[str]:
        """The gateway's counters (shared with the dispatcher)."""
        return self.dispatcher.counts

    def _build_bolt(self) -> AsyncApp:
        bolt = AsyncApp(
            name="gateway-slack",
            client=self.client,
            signing_secret=self.settings.signing_secret or "",
            # Listeners return as soon as their work is scheduled, so "before response" is still fast,
            # and the background work stays ours to track, count and drain on shutdown.
            process_before_response=True,
            # Socket Mode requests are not signed (the WebSocket is authenticated by the app token).
            request_verification_enabled=self.settings.mode == "events",
            before_authorize=self._drop_retries,
        )
        bolt.event("app_mention")(self._on_event)
        bolt.event("message")(self._on_event)
        bolt.action(BUTTON_ACTION_RE)(self._on_button)
        bolt.action(CLAIM_ACTION)(self._on_handoff_button)
        bolt.action(RESOLVE_ACTION)(self._on_handoff_button)
        # Anything else Slack sends (other event types, other interactions) is acknowledged and dropped:
        # Bolt would answer 404, which Slack retries and eventually counts against the app.
        bolt.event(re.compile(".*"))(self._on_other)
        bolt.action(re.compile(".*"))(self._on_other_action)
        bolt.error(self._on_error)
        return bolt

    async def _socket_mode(self, app: web.Application) -> AsyncIterator[None]:
        """Connect in the background (the gateway starts even while Slack is unreachable); close on exit."""
        handler = AsyncSocketModeHandler(self.bolt, self.settings.app_token, web_client=self.client)
        self.socket_handler = handler
        connecting = asyncio.create_task(handler.connect_async(), name="slack-socket-mode-connect")  # type: ignore[no-untyped-call]
        try:
            yield
        finally:
            connecting.cancel()
            await handler.close_async()  # type: ignore[no-untyped-call]

    async def _shutdown(self, app: web.Application) -> None:
        await self.drain(timeout=5.0)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until every scheduled answer has been sent (tests; shutdown waits up to ``timeout``)."""
        await self._tasks.drain(timeout)

    # ------------------------------------------------------------------------------- inbound HTTP

    async def events_endpoint(self, request: web.Request) -> web.Response:
        """``POST /slack/events``: Events API and interactivity requests, signature-checked.

        Returns:
            401 for a missing, forged or stale signature (nothing is processed), 400 for a body that
            is not UTF-8 or, signed, is malformed, 413 past ``MAX_EVENT_BODY``; otherwise Bolt's answer
            (200 at once for events and button presses, the challenge for ``url_verification``).
        """
        if request.content_length is not None and request.content_length > MAX_EVENT_BODY:
            return web.json_response({"error": "body too large"}, status=413)
        raw = await request.read()
        if len(raw) > MAX_EVENT_BODY:
            return web.json_response({"error": "body too large"}, status=413)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            # Slack only sends UTF-8 (the signature is computed over text), so this cannot be from Slack.
            return web.json_response({"error": "the body must be UTF-8 encoded"}, status=400)
        if self._verifier is None or not self._verifier.is_valid_request(text, dict(request.headers)):
            self.counts["slack.rejected"] += 1
            return web.json_response({"error": "invalid request signature"}, status=401)
        # A valid signature covers the body and its timestamp, so the same signature is the same request.
        # Slack's own retries (X-Slack-Retry-Num) are counted as duplicates by their event id instead; the
        # header is not signed, but an event id and a press's trigger id are remembered either way.
        retry = request.headers.get("X-Slack-Retry-Num")
        if retry is None and await self._replayed("sig:" + request.headers.get("X-Slack-Signature", "")):
            self.counts["slack.replayed"] += 1
            log.warning("slack: a signed request was replayed within the signature window; dropped")
            return web.Response(status=200)
        # Bolt's own json.loads has no depth or number limits, and a body that is not an object ("null", a
        # list) crashed it (500): check the signed body, or a button press's form field, first.
        if request.content_type == "application/json":
            embedded: str | None = text
        else:
            embedded = next(iter(parse_qs(text).get("payload", [])), None)
        if embedded is not None:
            try:
                event = safejson.loads(embedded)
            except safejson.JsonRejected as exc:
                return web.json_response({"error": f"malformed body: {exc}"}, status=400)
            if not isinstance(event, dict):
                return web.json_response({"error": "malformed body: not a JSON object"}, status=400)
        # Bolt reads the signed body's shape without checking it ("event": null, "authorizations": 5 crashed
        # it): a body Bolt cannot even route is malformed, 400. Listener errors never surface here (listeners
        # run after the ack), so a 5xx from Bolt's own middleware chain means the same.
        malformed = web.json_response({"error": "malformed body: not a Slack event or interaction"}, status=400)
        try:
            bolt_request: AsyncBoltRequest = await to_bolt_request(request)
            bolt_response = await self.bolt.async_dispatch(bolt_request)
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):  # json.JSONDecodeError included
            self.counts["slack.malformed"] += 1
            log.warning("a signed Slack request Bolt could not read was refused", exc_info=True)
            return malformed
        if bolt_response.status >= 500:
            self.counts["slack.malformed"] += 1
            log.warning("Bolt failed on a signed Slack request (%s); answered 400", bolt_response.status)
            return malformed
        return await to_aiohttp_response(bolt_response)

    async def _replayed(self, key: str, now: float | None = None) -> bool:
        """Remember ``key`` for `REPLAY_WINDOW` seconds; True when this or another gateway saw it in that time.

        This gateway's memory first, then every gateway's (Redis, when several share it): a replay sent to
        another replica, or after a restart, is caught there.
        """
        moment = time.monotonic() if now is None else now
        while self._seen_requests:
            oldest, seen_at = next(iter(self._seen_requests.items()))
            if moment - seen_at <= REPLAY_WINDOW and len(self._seen_requests) <= self.settings.dedupe_size:
                break
            self._seen_requests.pop(oldest)
        if key in self._seen_requests:
            return True
        self._seen_requests[key] = moment
        return not await self._shared.first_time("slack-replay", key, ttl=REPLAY_WINDOW)

    async def _drop_retries(
        self, req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse:
        """Acknowledge an event already seen (Slack's retry) or a press already handled, without processing it."""
        body = req.body
        trigger = body.get("trigger_id") if body.get("type") == "block_actions" else None
        if isinstance(trigger, str) and trigger and await self._replayed("press:" + trigger):
            self.counts["slack.replayed"] += 1
            log.warning("slack: button press %s seen before; not processed again", trigger)
            return BoltResponse(status=200, body="")
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if isinstance(event_id, str) and event_id:
            # this gateway's memory, then every gateway's (a retry may reach another replica)
            if event_id in self._seen_events or not await self._shared.first_time("slack", event_id):
                self._seen_events.move_to_end(event_id)
                self.counts["slack.duplicate"] += 1
                retry = (req.headers.get("x-slack-retry-num") or ["?"])[0]
                log.info("slack retry %s of event %s acknowledged, not processed again", retry, event_id)
                return BoltResponse(status=200, body="")
            self._seen_events[event_id] = None
            while len(self._seen_events) > self.settings.dedupe_size:
                self._seen_events.popitem(last=False)
        return await next()

    # ---------------------------------------------------------------------------------- listeners

    def _staff(self, context: AsyncBoltContext) -> StaffDirectory:
        """The allowlist of the app's own workspace: ``SLACK_TEAM_ID``, else the bot token's (``auth.test``).

        Never ``context.team_id``: that is the team the request names, which is another workspace for an
        event delivered to another installation or a user of a shared channel.
        """
        own = self.settings.team_id
        authorized = context.authorize_result.team_id if context.authorize_result is not None else None
        if own is None:
            own = authorized
        elif authorized is not None and authorized != own:
            log.error("slack: SLACK_TEAM_ID %s is not the bot token's workspace %s; nobody is staff", own, authorized)
            own = None
        return StaffDirectory(own, self.settings.staff)

    async def _on_event(self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        """A direct message or a mention: schedule the answer and return (Bolt then acknowledges)."""
        thread_ts = event.get("thread_ts")
        if self.relay is not None and isinstance(thread_ts, str) and thread_ts and not event.get("bot_id"):
            # Maybe a hand-off ticket's thread: decided against the database off the acknowledgement path.
            self._spawn(self._thread_event(event, body, context, thread_ts))
            return
        self._event_to_rasa(event, body, context)

    async def _thread_event(
        self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext, thread_ts: str
    ) -> None:
        """A message in a thread: relay it when the thread is a hand-off ticket's, else answer as usual."""
        assert self.relay is not None
        channel, user, raw = event.get("channel"), event.get("user"), event.get("text")
        if not (isinstance(channel, str) and isinstance(user, str) and isinstance(raw, str)):
            self._event_to_rasa(event, body, context)
            return
        try:
            owned = await asyncio.to_thread(self.relay.owns_thread, channel, thread_ts)
        except SQLAlchemyError:
            # Unknown whether this is a ticket's thread: answering could put the bot into a person's talk.
            self.counts["slack.handoff_state_error"] += 1
            raise
        if not owned:
            self._event_to_rasa(event, body, context)
            return
        if event.get("type") != "message" or event.get("subtype") not in (None, "thread_broadcast"):
            self.counts["slack.ignored"] += 1  # a mention arrives twice (app_mention and message): relay once
            return
        text = clean_typed_text(unslack_text(raw, context.bot_user_id))
        if text:
            await self.relay.staff_message(channel, thread_ts, user, text[: self.max_message_chars])

    def _event_to_rasa(self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        inbound = inbound_from_event(
            event,
            team_id=str(body.get("team_id") or context.team_id or ""),
            staff=self._staff(context),
            bot_user_id=context.bot_user_id,
            max_chars=self.max_message_chars,
        )
        if inbound is None:
            self.counts["slack.ignored"] += 1
            return
        self._spawn(self._answer(inbound))

    async def _on_button(
        self, ack: Callable[[], Awaitable[None]], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        """A button press: acknowledge, then answer its payload in the message's thread."""
        await ack()
        inbound = inbound_from_action(body, staff=self._staff(context), max_chars=self.max_message_chars)
        if inbound is None:
            self.counts["slack.ignored"] += 1
            return
        self._spawn(self._press(body, inbound))

    async def _on_handoff_button(
        self, ack: Callable[[], Awaitable[None]], body: dict[str, Any], action: dict[str, Any]
    ) -> None:
        """Claim or Resolve on a ticket message: acknowledge, then change the ticket in the background."""
        await ack()
        user = body.get("user") or {}
        ticket = action.get("value")
        if self.relay is None or not isinstance(ticket, str) or not isinstance(user.get("id"), str):
            self.counts["slack.ignored"] += 1
            return
        name = user.get("name") or user.get("username")
        if action.get("action_id") == CLAIM_ACTION:
            self._spawn(self._void(self.relay.claim(ticket, user["id"], str(name) if name else None)))
        else:
            self.relay.remember_name(user["id"], str(name) if name else None)
            self._spawn(self._void(self.relay.resolve(ticket, user["id"])))

    @staticmethod
    async def _void(work: Awaitable[Any]) -> None:
        await work

    async def _on_other(self) -> None:
        self.counts["slack.ignored"] += 1

    async def _on_other_action(self, ack: Callable[[], Awaitable[None]]) -> None:
        await ack()
        self.counts["slack.ignored"] += 1

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        """Errors raised inside Bolt's own processing (ours run in tasks and are counted there)."""
        self.counts["slack.bolt_error"] += 1
        log.error("slack request failed in bolt: %r (type %s)", error, body.get("type"), exc_info=error)

    # ------------------------------------------------------------------------------- answering

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.spawn(work)

    async def _answer(self, inbound: SlackInbound) -> None:
        """Ask rasa (one message at a time per conversation) and post the replies; raise if a post fails."""
        if inbound.message is None:
            error = inbound.error or GatewayError("unreadable message")
            await self._post(inbound.target, render_text(describe_for_user(error).message))
            return
        key = inbound.message.sender_id
        # Take this conversation's lock before any await, so messages keep their order of arrival.
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                await self._remember_target(key, inbound.target)
                try:
                    replies = await self.dispatcher.dispatch(inbound.message)
                except GatewayError as exc:  # counted and logged by the dispatcher
                    posts = [render_text(describe_for_user(exc).message)]
                else:
                    posts = render_messages(replies)
                for post in posts:
                    await self._post(inbound.target, post)
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def _press(self, body: dict[str, Any], inbound: SlackInbound) -> None:
        """Take the buttons off the pressed message, then answer; a failed update is raised after the answer."""
        update_error: SlackSendFailed | None = None
        after = blocks_after_press(body)
        message_ts = (body.get("message") or {}).get("ts")
        if after is not None and isinstance(message_ts, str):
            blocks, text = after
            try:
                await self._call(
                    "chat.update",
                    self.client.chat_update(channel=inbound.target.channel, ts=message_ts, blocks=blocks, text=text),
                )
            except SlackSendFailed as exc:
                update_error = exc
        await self._answer(inbound)
        if update_error is not None:
            raise update_error

    async def push(self, sender_id: str, messages: Sequence[OutboundMessage]) -> None:
        """``PushTarget``: post ``messages`` where this conversation was last answered.

        The place is remembered in memory and in the gateway database (``slack_reply_targets``), so a
        restart loses nothing. A direct-message conversation (``{team}-{user}``) that never wrote here is
        reached by posting to the user id (Slack opens the app's DM); a thread conversation needs its
        channel, so one that never wrote here cannot be placed.

        Raises:
            PushFailed: unknown conversation, or Slack refused a post (counted as ``slack.send_failed`` too).
        """
        target = self._targets.get(sender_id)
        if target is None and self._stored_targets is not None:
            try:
                target = await asyncio.to_thread(self._stored_targets.find, sender_id)
            except SQLAlchemyError as exc:
                log.error("slack: reading the reply target of %s failed: %s", sender_id, exc)
        if target is None:
            parts = sender_id.split("-")
            if len(parts) != 2 or not all(parts):
                raise PushFailed(f"slack conversation {sender_id} has never written here, so it cannot be placed")
            target = ReplyTarget(parts[1])
        try:
            for post in render_messages(messages):
                await self._post(target, post)
        except SlackSendFailed as exc:
            raise PushFailed(str(exc)) from exc

    async def _remember_target(self, sender_id: str, target: ReplyTarget) -> None:
        """Keep where ``sender_id`` is answered: in memory, and in the gateway database when it changed."""
        changed = self._targets.get(sender_id) != target
        self._targets[sender_id] = target
        self._targets.move_to_end(sender_id)
        while len(self._targets) > MAX_PUSH_TARGETS:
            self._targets.popitem(last=False)
        if changed and self._stored_targets is not None:
            try:
                await asyncio.to_thread(self._stored_targets.remember, sender_id, target)
            except SQLAlchemyError as exc:
                # The answer matters more than a later push: say so once per failure and carry on.
                self.counts["slack.target_store_failed"] += 1
                log.error("slack: storing the reply target of %s failed: %s", sender_id, exc)

    async def _post(self, target: ReplyTarget, post: SlackPost) -> None:
        kwargs: dict[str, Any] = {"channel": target.channel, **post.to_json()}
        if target.thread_ts is not None:
            kwargs["thread_ts"] = target.thread_ts
        await self._call("chat.postMessage", self.client.chat_postMessage(**kwargs))

    async def _call(self, method: str, call: Awaitable[Any]) -> None:
        try:
            await call
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            self.counts["slack.send_failed"] += 1
            detail = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            raise SlackSendFailed(f"{method} failed: {detail}") from exc
        self.counts["slack.sent"] += 1
