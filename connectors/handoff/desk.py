"""The hand-off desk: tickets to Slack, Claim/Resolve, and the relay between a customer and a person.

State machine of a ticket (``connectors.handoff.state``): ``open`` (posted with a Claim button; the bot
still answers) -> ``assigned`` (a staff member claimed it; the bot is silent, messages are relayed both
ways through the Slack thread and ``PushRouter``) -> ``closed`` (resolved; the bot answers again).
An open ticket whose customer has heard nothing for ``claim_timeout_minutes`` (or that is opened out of
hours) gets one honest notice; it stays open. Installed by the Slack channel when Slack is configured.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import aiohttp
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from connectors.errors import GatewayError
from connectors.handoff.settings import HandoffSettings
from connectors.handoff.state import Case, HandoffState
from connectors.handoff.translate import (
    HandoffRequest,
    agent_message,
    claimed_update,
    closed_update,
    customer_line,
    handoff_of,
    is_resolve_command,
    joined_message,
    not_delivered_message,
    not_recorded_message,
    notice_message,
    post_failed_message,
    resolved_message,
    ticket_post,
)
from connectors.models import InboundMessage, OutboundMessage
from connectors.push import PushFailed, PushRouter
from connectors.slack.translate import escape
from connectors.tasks import running

log = logging.getLogger(__name__)


class SlackCallFailed(GatewayError):
    """A Slack Web API call of the desk failed (counted as ``handoff.slack_failed``)."""


class HandoffUnavailable(GatewayError):
    """The hand-off state could not be read, so nobody knows whether a person holds the conversation."""


class TicketMirror(Protocol):
    """Keeps the order store's ``handoff_tickets`` row in step (status, who, when)."""

    def assign(self, ticket: str, staff_id: str, staff_name: str, at: datetime) -> None:
        """Mark ``ticket`` assigned to ``staff_id``."""
        ...

    def close(self, ticket: str, at: datetime) -> None:
        """Mark ``ticket`` closed."""
        ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


class HandoffDesk:
    """Relays hand-off conversations between customers (any channel) and staff (a Slack thread).

    Counters (the dispatcher's): ``handoff.opened``, ``handoff.posted``, ``handoff.post_failed``,
    ``handoff.claimed``, ``handoff.claim_refused``, ``handoff.to_staff``, ``handoff.to_customer``,
    ``handoff.push_failed``, ``handoff.resolved``, ``handoff.notices``, ``handoff.slack_failed``,
    ``handoff.mirror_failed``, ``handoff.ignored``.
    """

    def __init__(
        self,
        state: HandoffState,
        client: AsyncWebClient,
        channel_for: Callable[[str | None], str | None],
        push: PushRouter,
        settings: HandoffSettings,
        counts: Counter[str],
        *,
        staff: Mapping[str, str] | None = None,
        mirror: TicketMirror | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        """Wire the desk.

        Args:
            state: the gateway tables.
            client: Slack Web API client (bot token).
            channel_for: store id (or None) -> Slack channel id for its tickets.
            push: reaches customers on their own channel.
            settings: timeouts and opening hours.
            counts: the gateway's counters.
            staff: Slack user id -> role; only these may claim, resolve and speak to customers.
            mirror: the order store's ticket row (optional).
            now: aware UTC clock (tests).
        """
        self.state = state
        self.client = client
        self.channel_for = channel_for
        self.push_router = push
        self.settings = settings
        self.counts = counts
        self.staff = dict(staff or {})
        self.mirror = mirror
        self.now = now
        self._names: dict[str, str] = {}
        # How Slack names a conversation: a web conversation id is the customer's secret, so the support
        # console installs its pseudonyms here (console.setup); the raw id only where no console runs.
        self.conversation_label: Callable[[str], str] = lambda conversation_id: conversation_id

    def _shown(self, case: Case) -> Case:
        """The case as Slack shows it: its conversation named by :attr:`conversation_label`."""
        return dataclasses.replace(case, conversation_id=self.conversation_label(case.conversation_id))

    # ------------------------------------------------------------------ customer side (Dispatcher hook)

    async def intercept(self, inbound: InboundMessage) -> list[OutboundMessage] | None:
        """While a person holds the conversation: put the message in the ticket's thread instead of rasa.

        Returns:
            None when the bot should answer; otherwise what the customer gets now (nothing, or an
            apology when the message could not be put in front of staff).
        """
        try:
            case = await asyncio.to_thread(self.state.held_by_person, inbound.conversation_id)
        except SQLAlchemyError as exc:
            # Safer to answer nothing than to let the bot talk over a person who may hold the conversation.
            self.counts["handoff.state_error"] += 1
            log.exception("hand-off state unreadable; %s not answered", inbound.conversation_id)
            raise HandoffUnavailable("the gateway database is unavailable") from exc
        if case is None:
            return None
        said = inbound.text or inbound.payload or ""
        try:
            await self._thread_post(case, customer_line(inbound))
        except SlackCallFailed as exc:
            log.warning("customer message of %s not relayed: %s", case.ticket, exc)
            await asyncio.to_thread(self.state.add_event, case.ticket, "relay_failed", self.now(), said, "customer")
            return [not_delivered_message()]
        self.counts["handoff.to_staff"] += 1
        await asyncio.to_thread(self.state.add_event, case.ticket, "customer", self.now(), said, "customer")
        return []

    async def after_turn(self, inbound: InboundMessage, replies: Sequence[OutboundMessage]) -> list[OutboundMessage]:
        """Open a ticket for each ``handoff`` payload among ``replies``; return what the customer sees.

        The payload itself is removed (it is for staff); a notice or an apology may be added.
        """
        out: list[OutboundMessage] = []
        extra: list[OutboundMessage] = []
        for message in replies:
            request = handoff_of(message)
            if request is None:
                out.append(message)
            else:
                extra.extend(await self.open(request, inbound))
        return out + extra

    async def open(self, request: HandoffRequest, inbound: InboundMessage) -> list[OutboundMessage]:
        """Record and post a ticket; return the messages the customer should get about it."""
        store_id = inbound.metadata.get("store_id") if inbound.channel == "tablet" else None
        customer = request.customer or (str(inbound.metadata.get("display_name") or "") or None)
        try:
            case, created = await asyncio.to_thread(
                lambda: self.state.open_case(
                    ticket=request.ticket,
                    conversation_id=inbound.conversation_id,
                    channel=inbound.channel,
                    reason=request.reason,
                    summary=request.summary,
                    at=self.now(),
                    store_id=str(store_id) if store_id else None,
                    order_number=request.order_number,
                    customer=customer,
                )
            )
        except SQLAlchemyError:
            self.counts["handoff.state_error"] += 1
            log.exception("ticket %s not recorded in the gateway database", request.ticket)
            return [not_recorded_message(request.ticket)]
        if not created:
            return []
        self.counts["handoff.opened"] += 1
        messages: list[OutboundMessage] = []
        if not await self._post_ticket(case):
            messages.append(post_failed_message(case.ticket))
        if not self.settings.opening_hours.is_open(self.now()) and await asyncio.to_thread(
            self.state.mark_notice, case.ticket, self.now()
        ):
            self.counts["handoff.notices"] += 1
            messages.append(notice_message(case, out_of_hours=True, hours=self.settings.opening_hours.text))
            await asyncio.to_thread(self.state.add_event, case.ticket, "notice", self.now(), "out of hours")
        return messages

    async def _post_ticket(self, case: Case) -> bool:
        channel = self.channel_for(case.store_id)
        if channel is None:
            self.counts["handoff.post_failed"] += 1
            log.error("ticket %s: no Slack channel (set SLACK_SUPPORT_CHANNEL or SLACK_STORE_CHANNELS)", case.ticket)
            await asyncio.to_thread(self.state.add_event, case.ticket, "post_failed", self.now(), "no Slack channel")
            return False
        try:
            response = await self._slack(
                "chat.postMessage", self.client.chat_postMessage(channel=channel, **ticket_post(self._shown(case)))
            )
        except SlackCallFailed as exc:
            self.counts["handoff.post_failed"] += 1
            await asyncio.to_thread(self.state.add_event, case.ticket, "post_failed", self.now(), str(exc))
            return False
        ts = str(response.get("ts") or "")
        await asyncio.to_thread(
            self.state.set_posted, case.ticket, str(response.get("channel") or channel), ts, self.now()
        )
        self.counts["handoff.posted"] += 1
        return True

    # ------------------------------------------------------------------ staff side (Slack channel)

    def owns_thread(self, channel: str, thread_ts: str) -> bool:
        """Whether the Slack thread is a ticket's (blocking; the Slack channel runs it in a worker thread)."""
        return self.state.by_thread(channel, thread_ts) is not None

    def remember_name(self, user: str, name: str | None) -> None:
        """Remember how to call a staff member in messages to customers (from their button presses)."""
        if name:
            self._names[user] = name

    def _name(self, user: str, case: Case | None = None) -> str:
        if case is not None and case.claimed_by == user and case.claimed_by_name:
            return case.claimed_by_name
        return self._names.get(user) or "Staff"

    async def claim(self, ticket: str, user: str, name: str | None) -> bool:
        """A Claim press: assign the ticket, show who has it, tell the customer; a second claimer is told it is taken.

        Returns:
            Whether ``user`` now holds the ticket.

        Raises:
            SlackCallFailed: Slack refused the update or the thread note (after the state was changed).
        """
        self.remember_name(user, name)
        if user not in self.staff:
            self.counts["handoff.claim_refused"] += 1
            case = await asyncio.to_thread(self.state.get, ticket)
            if case is not None:
                await self._thread_post(case, f"<@{user}>: only staff on the allowlist can claim tickets.")
            return False
        won, case = await asyncio.to_thread(self.state.claim, ticket, user, self._name(user), self.now())
        if case is None:
            self.counts["handoff.ignored"] += 1
            return False
        if not won:
            self.counts["handoff.claim_refused"] += 1
            if case.status == "closed":
                note = f"<@{user}>: {case.ticket} is already resolved."
            else:
                note = f"<@{user}>: {case.ticket} is already taken by <@{case.claimed_by}>."
            await self._thread_post(case, note)
            return False
        self.counts["handoff.claimed"] += 1
        await self._mirror("assign", case.ticket, user, case.claimed_by_name or user, self.now())
        joined = joined_message(self._name(user, case), case.ticket)
        await self._update_then(case, claimed_update(self._shown(case)), [joined], user)
        return True

    async def resolve(self, ticket: str, user: str) -> bool:
        """Close the ticket (button or ``resolve`` in the thread) and tell the customer the bot is back.

        Returns:
            Whether this call closed it.
        """
        if user not in self.staff:
            self.counts["handoff.ignored"] += 1
            return False
        closed, case = await asyncio.to_thread(self.state.close, ticket, user, self.now())
        if case is None:
            self.counts["handoff.ignored"] += 1
            return False
        if not closed:
            await self._thread_post(case, f"<@{user}>: {case.ticket} is already resolved.")
            return False
        self.counts["handoff.resolved"] += 1
        await self._mirror("close", case.ticket, self.now())
        await self._update_then(case, closed_update(self._shown(case)), [resolved_message(case.ticket)], user)
        return True

    async def staff_message(self, channel: str, thread_ts: str, user: str, text: str) -> bool:
        """A message in a Slack thread: relay it to the customer if the thread is an assigned ticket's.

        Returns:
            True when the thread belongs to a ticket (the message must not go to rasa), else False.
        """
        case = await asyncio.to_thread(self.state.by_thread, channel, thread_ts)
        if case is None:
            return False
        if user not in self.staff:
            self.counts["handoff.ignored"] += 1
            return True
        if is_resolve_command(text, self.settings.resolve_words):
            await self.resolve(case.ticket, user)
            return True
        if case.status != "assigned":
            # Before a claim (and after resolving) the thread is for staff among themselves.
            await asyncio.to_thread(self.state.add_event, case.ticket, "note", self.now(), text, self._name(user))
            self.counts["handoff.notes"] += 1
            return True
        agent = self._name(user, case)
        await self._to_customer(case, [agent_message(agent, text)], actor=agent, record=text)
        return True

    async def _to_customer(
        self, case: Case, messages: list[OutboundMessage], *, actor: str, record: str | None = None
    ) -> bool:
        """Push to the customer; a failure is counted, kept in the history and said in the thread."""
        try:
            await self.push_router.push(case.conversation_id, messages)
        except PushFailed as exc:
            self.counts["handoff.push_failed"] += 1
            log.warning("ticket %s: could not reach %s: %s", case.ticket, case.conversation_id, exc)
            await asyncio.to_thread(self.state.add_event, case.ticket, "push_failed", self.now(), str(exc), actor)
            await self._thread_post(case, f"Not delivered to the customer: {escape(str(exc))}")
            return False
        self.counts["handoff.to_customer"] += 1
        kind = "staff" if record is not None else "told_customer"
        text = record if record is not None else "\n".join(m.text or "" for m in messages)
        await asyncio.to_thread(self.state.add_event, case.ticket, kind, self.now(), text, actor)
        return True

    # ------------------------------------------------------------------ background

    async def sweep(self) -> int:
        """Tell customers of tickets unclaimed past the timeout what happens next (once); re-post unposted tickets.

        Returns:
            How many customers were told.
        """
        now = self.now()
        told = 0
        due = await asyncio.to_thread(
            self.state.due_for_notice, now - timedelta(minutes=self.settings.claim_timeout_minutes)
        )
        for case in due:
            if case.slack_ts is None:
                await self._post_ticket(case)
            if not await asyncio.to_thread(self.state.mark_notice, case.ticket, now):
                continue  # another sweep (or gateway process) got there first
            out_of_hours = not self.settings.opening_hours.is_open(now)
            message = notice_message(case, out_of_hours=out_of_hours, hours=self.settings.opening_hours.text)
            self.counts["handoff.notices"] += 1
            if await self._to_customer(case, [message], actor="gateway"):
                told += 1
        return told

    async def run_sweeper(self, app: web.Application) -> AsyncIterator[None]:
        """``cleanup_ctx``: sweep every ``sweep_seconds`` while the gateway runs."""
        async with running(self._sweep_forever(), "handoff-sweeper"):
            yield

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_seconds)
            try:
                await self.sweep()
            except (SQLAlchemyError, GatewayError):
                self.counts["handoff.sweep_failed"] += 1
                log.exception("hand-off sweep failed; trying again in %.0f s", self.settings.sweep_seconds)

    # ------------------------------------------------------------------ Slack and mirror calls

    async def _slack(self, method: str, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            self.counts["handoff.slack_failed"] += 1
            detail = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            raise SlackCallFailed(f"{method} failed: {detail}") from exc

    async def _thread_post(self, case: Case, text: str) -> None:
        if case.slack_channel is None or case.slack_ts is None:
            self.counts["handoff.slack_failed"] += 1
            raise SlackCallFailed(f"ticket {case.ticket} has no Slack thread (it was never posted)")
        await self._slack(
            "chat.postMessage",
            self.client.chat_postMessage(channel=case.slack_channel, thread_ts=case.slack_ts, text=text),
        )

    async def _update_then(self, case: Case, body: dict[str, Any], tell: list[OutboundMessage], actor: str) -> None:
        """Update the ticket message, tell the customer either way, then raise a failed update."""
        failed: SlackCallFailed | None = None
        try:
            await self._update(case, body)
        except SlackCallFailed as exc:
            failed = exc
        await self._to_customer(case, tell, actor=actor)
        if failed is not None:
            raise failed

    async def _update(self, case: Case, body: dict[str, Any]) -> None:
        if case.slack_channel is None or case.slack_ts is None:
            return
        await self._slack("chat.update", self.client.chat_update(channel=case.slack_channel, ts=case.slack_ts, **body))

    async def _mirror(self, method: str, *args: Any) -> None:
        if self.mirror is None:
            return
        try:
            await asyncio.to_thread(getattr(self.mirror, method), *args)
        except (SQLAlchemyError, LookupError) as exc:
            # The gateway tables stay the relay's truth; the order store copy is for reports and the console.
            self.counts["handoff.mirror_failed"] += 1
            log.error("order store not updated for %s (%s): %s", args[0], method, exc)
            await asyncio.to_thread(self.state.add_event, str(args[0]), "mirror_failed", self.now(), str(exc))
