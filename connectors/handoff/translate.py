"""Pure hand-off translations: the ``handoff`` payload in, Slack ticket messages and customer messages out.

Every wording and Block Kit detail of the hand-off lives here, so ``connectors.handoff.desk`` is wiring:
- a ticket post: summary fields, what was said, and a *Claim* button (``action_id`` ``handoff_claim``,
  value = ticket number); once claimed the button becomes *Resolve* (``handoff_resolve``) with who has it;
- what staff write reaches the customer as ``"Sam (staff): ..."`` plus
  ``custom: {"type": "agent_message", "agent": "Sam", "text": "..."}`` for channels that style it;
- the honest notice when nobody is free (out of hours, or nobody claimed in time), said once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.handoff.state import Case
from connectors.models import InboundMessage, OutboundMessage
from connectors.slack.translate import CLAIM_ACTION, RESOLVE_ACTION, escape

MAX_FIELD = 2900  # under Slack's 3000 characters per section text

_CHANNEL_NAMES = {"web": "website chat", "telegram": "Telegram", "tablet": "in-store tablet", "slack": "Slack"}


@dataclass(frozen=True, slots=True)
class HandoffRequest:
    """A ``{"type": "handoff", ...}`` payload from actions (docs/CONTRACTS.md).

    Attributes:
        ticket: ``HO-000123``.
        reason: why a person is needed (``customer asked for a person``, ``lost parcel``...).
        summary: what was said and done so far.
        order_number: the verified order, if any.
        customer: the verified customer's name, if any.
    """

    ticket: str
    reason: str
    summary: str = ""
    order_number: str | None = None
    customer: str | None = None


def handoff_of(message: OutboundMessage) -> HandoffRequest | None:
    """The hand-off request a bot message carries, or None (other messages, malformed payloads)."""
    custom = message.custom
    if not isinstance(custom, Mapping) or custom.get("type") != "handoff":
        return None
    ticket = custom.get("ticket")
    if not isinstance(ticket, str) or not ticket.strip():
        return None

    def text(key: str) -> str | None:
        value = custom.get(key)
        return value.strip() if isinstance(value, str) and value.strip() else None

    return HandoffRequest(
        ticket=ticket.strip()[:16],
        reason=text("reason") or "a person was asked for",
        summary=text("summary") or "",
        order_number=text("order_number"),
        customer=text("customer"),
    )


def without_handoff(messages: Iterable[OutboundMessage]) -> list[OutboundMessage]:
    """The messages a customer sees: the ``handoff`` payload is for staff only."""
    return [m for m in messages if handoff_of(m) is None]


def channel_name(channel: str) -> str:
    """How staff read a channel name (``web`` -> ``website chat``)."""
    return _CHANNEL_NAMES.get(channel, channel)


def _cut(text: str, limit: int = MAX_FIELD) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary_blocks(case: Case) -> list[dict[str, Any]]:
    """The ticket's facts and the conversation so far, as Block Kit sections."""
    facts = [
        f"*Ticket:* {escape(case.ticket)}",
        f"*Reason:* {escape(case.reason)}",
        f"*Channel:* {escape(channel_name(case.channel))}" + (f" ({escape(case.store_id)})" if case.store_id else ""),
        f"*Customer:* {escape(case.customer) if case.customer else 'not verified'}",
        f"*Order:* {escape(case.order_number) if case.order_number else 'none verified'}",
        f"*Conversation:* `{escape(case.conversation_id)}`",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(f"Hand-off {case.ticket}: {case.reason}", 150)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(facts)}},
    ]
    if case.summary:
        said = _cut(escape(case.summary), MAX_FIELD - 40)
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*What was said and done:*\n```{said}```"}}
        )
    return blocks


def _button(text: str, action_id: str, ticket: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": ticket,
    }
    if style:
        button["style"] = style
    return button


def ticket_post(case: Case) -> dict[str, Any]:
    """``chat.postMessage`` arguments (without channel) for a new ticket, with its Claim button."""
    blocks = summary_blocks(case)
    blocks.append({"type": "actions", "elements": [_button("Claim", CLAIM_ACTION, case.ticket, "primary")]})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Claim it to talk to the customer in this thread; `resolve` in the thread closes it.",
                }
            ],
        }
    )
    text = f"Hand-off {case.ticket} ({channel_name(case.channel)}): {case.reason}"
    return {"text": escape(_cut(text, 3000)), "blocks": blocks}


def _clock(moment: datetime | None) -> str:
    return f"{moment:%H:%M} UTC" if moment else "just now"


def claimed_update(case: Case) -> dict[str, Any]:
    """``chat.update`` arguments (without channel/ts): who has the ticket, and the Resolve button."""
    blocks = summary_blocks(case)
    who = f"<@{case.claimed_by}>" if case.claimed_by else escape(case.claimed_by_name or "someone")
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Claimed by {who} at {_clock(case.claimed_at)}"}]}
    )
    blocks.append({"type": "actions", "elements": [_button("Resolve", RESOLVE_ACTION, case.ticket, "danger")]})
    return {
        "text": escape(f"Hand-off {case.ticket}: claimed by {case.claimed_by_name or case.claimed_by}"),
        "blocks": blocks,
    }


def closed_update(case: Case) -> dict[str, Any]:
    """``chat.update`` arguments once resolved: no buttons, who resolved it and when."""
    blocks = summary_blocks(case)
    who = f"<@{case.closed_by}>" if case.closed_by else "someone"
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Resolved by {who} at {_clock(case.closed_at)}"}]}
    )
    return {"text": escape(f"Hand-off {case.ticket}: resolved"), "blocks": blocks}


def customer_line(inbound: InboundMessage) -> str:
    """What the customer wrote, for the ticket's thread (a pressed button shows its title)."""
    said = inbound.text or inbound.payload or ""
    return f"*Customer:* {escape(_cut(said, 3500))}"


def is_resolve_command(text: str, words: frozenset[str]) -> bool:
    """Whether a staff message in the thread asks to close the ticket."""
    return text.strip().lower().rstrip(".!") in words


def agent_message(agent: str, text: str) -> OutboundMessage:
    """A person's reply as the customer sees it, attributed to them."""
    return OutboundMessage(
        text=f"{agent} (staff): {text}",
        custom={"type": "agent_message", "agent": agent, "text": text},
    )


def joined_message(agent: str, ticket: str) -> OutboundMessage:
    """Told to the customer when someone claims their ticket."""
    return OutboundMessage(
        text=f"{agent} from our team has picked up your ticket {ticket} and will answer you here.",
        custom={"type": "agent_joined", "agent": agent, "ticket": ticket},
    )


def resolved_message(ticket: str) -> OutboundMessage:
    """Told to the customer when the ticket is resolved: the bot is back.

    ``custom: {"type": "handoff_resolved", "ticket"}`` lets the web widget ask the customer to rate the help
    they got (channels that do not draw it show the text).
    """
    return OutboundMessage(
        text=f"Our team has closed ticket {ticket}. I'm the shop assistant again: ask me anything, "
        "or ask for a person if you need one.",
        custom={"type": "handoff_resolved", "ticket": ticket},
    )


def notice_message(case: Case, *, out_of_hours: bool, hours: str) -> OutboundMessage:
    """The honest "nobody is free yet" message: why, that the ticket stays open, and where the answer comes."""
    if out_of_hours:
        why = f"Our team is away right now (we answer {hours})."
    else:
        why = "Everyone on our team is busy right now, so nobody has picked up your ticket yet."
    where = "A colleague will answer you here in this chat"
    if case.order_number:
        where += f", or by email to the address on order {case.order_number}"
    if case.channel == "tablet":
        where = "If you can't wait, please ask at the till; a colleague will come to you as soon as they can"
    return OutboundMessage(text=f"{why} Ticket {case.ticket} stays open. {where}.")


def not_delivered_message() -> OutboundMessage:
    """Told to the customer when their message could not be put in front of staff."""
    return OutboundMessage(text="Sorry, your message didn't reach our team just now. Please send it again in a moment.")


def post_failed_message(ticket: str) -> OutboundMessage:
    """Told to the customer when the ticket could not be posted to staff."""
    return OutboundMessage(
        text=f"I couldn't alert our team just now. Ticket {ticket} is saved and they will see it; "
        "I'll keep trying in the meantime."
    )


def not_recorded_message(ticket: str) -> OutboundMessage:
    """Told to the customer when the gateway could not record the ticket (so nobody will relay it)."""
    return OutboundMessage(
        text=f"I couldn't pass ticket {ticket} to our team just now, so nobody will reply here yet. "
        "Please ask for a person again in a few minutes."
    )
