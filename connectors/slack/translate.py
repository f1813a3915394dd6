"""Pure translation between Slack events/payloads and the normalized model, and Block Kit rendering.

Every Slack quirk lives here, so ``connectors.slack.channel`` stays thin wiring around Bolt:
- the sender id and where to reply: ``{team}-{user}`` for a direct message outside threads,
  ``{team}-{user}-{thread_ts}`` in a thread (a mention in a channel always starts or continues one);
  rasa sees ``slack:`` in front. Two people in one thread are two conversations.
- Slack's text encoding (``&amp;``, ``<mailto:a@b|a@b>``, ``<@U123>``, links) back to what was typed;
- who is staff (the allowlist, only for users of the app's own workspace);
- Block Kit: text sections (mrkdwn-escaped, split at Slack's 3000 characters), buttons as an actions
  block, images as image blocks, ``product_cards`` as sections with an image accessory and a button;
  the plain ``text`` fallback (notifications, screen readers) is always set.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.errors import InvalidMessage
from connectors.models import InboundMessage, OutboundMessage
from connectors.rich import Cards, ProductCard, layout
from connectors.source import slack_source
from connectors.text import clean_payload, clean_typed_text

# Action ids of the hand-off desk's buttons (connectors/handoff): defined here, on the Slack side, so the
# Slack channel can route them without importing connectors.handoff (which itself imports this module).
CLAIM_ACTION = "handoff_claim"
RESOLVE_ACTION = "handoff_resolve"

CHANNEL = "slack"
BUTTON_ACTION_PREFIX = "rasa_button_"
BUTTON_ACTION_RE = re.compile(rf"^{BUTTON_ACTION_PREFIX}\d+$")

# Slack's documented limits.
MAX_SECTION_CHARS = 3000
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTIONS_PER_BLOCK = 25
MAX_BLOCKS = 50
MAX_FALLBACK_CHARS = 4000
MAX_ALT_TEXT = 2000

# Message subtypes that are a person saying something; everything else (edits, deletions, joins,
# bot messages) is not answered.
_SPOKEN_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
_LINK_RE = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_HTTP_RE = re.compile(r"https?://\S+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """Where the bot's answer goes.

    Attributes:
        channel: the Slack channel (or DM) id.
        thread_ts: the thread to answer in; None for the top level of a direct message.
    """

    channel: str
    thread_ts: str | None = None


@dataclass(frozen=True, slots=True)
class SlackInbound:
    """A Slack message or button press, normalized, with where to answer it.

    Attributes:
        message: what goes to rasa (``None`` when the message is only to be answered with ``error``).
        target: where replies go.
        error: a problem to tell the person instead of asking rasa (e.g. a message over the limit).
    """

    message: InboundMessage | None
    target: ReplyTarget
    error: InvalidMessage | None = None


@dataclass(frozen=True, slots=True)
class StaffDirectory:
    """The staff allowlist of one workspace.

    Attributes:
        team_id: the app's own workspace; users of other workspaces (Slack Connect) are never staff.
        roles: Slack user id -> role.
    """

    team_id: str | None
    roles: Mapping[str, str] = field(default_factory=dict)

    def metadata(self, user: str, user_team: str | None, delivered_for: str | None = None) -> dict[str, Any]:
        """The metadata a message from ``user`` carries: ``staff`` only for allowlisted users of our team.

        ``team_id`` must be the app's own workspace (from ``auth.test`` or ``SLACK_TEAM_ID``), never the
        team named in the request: a signed event delivered for another workspace, or from a user of
        another workspace in a shared channel, never makes anyone staff.

        Args:
            user: the Slack user id.
            user_team: the workspace the user belongs to, as the event says.
            delivered_for: the workspace the event or action was delivered for (the envelope's team).

        Returns:
            ``{"staff": {"id", "role"}}`` or ``{}`` (the gateway adds ``channel`` itself).
        """
        role = self.roles.get(user)
        if role is None or self.team_id is None:
            return {}
        if user_team is not None and user_team != self.team_id:
            return {}
        if delivered_for is not None and delivered_for != self.team_id:
            return {}
        return {"staff": {"id": user, "role": role}}


@dataclass(frozen=True, slots=True)
class SlackPost:
    """One ``chat.postMessage``: the plain-text fallback and the Block Kit blocks."""

    text: str
    blocks: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The arguments for ``chat.postMessage`` (without channel and thread)."""
        body: dict[str, Any] = {"text": self.text}
        if self.blocks:
            body["blocks"] = list(self.blocks)
        return body


# ------------------------------------------------------------------------------------------ inbound


def sender_id(team: str, user: str, thread_ts: str | None) -> str:
    """The sender id within the Slack channel; rasa sees ``slack:`` + this.

    Args:
        team: workspace id (``T0123``).
        user: user id (``U0456``).
        thread_ts: the thread's root timestamp, or None for a direct message outside threads.

    Returns:
        ``T0123-U0456`` or ``T0123-U0456-1732770000.000100``.
    """
    return f"{team}-{user}" if thread_ts is None else f"{team}-{user}-{thread_ts}"


def unslack_text(text: str, bot_user_id: str | None = None) -> str:
    """Turn Slack's encoded message text back into what the person typed.

    ``<@UBOT>`` (the bot's own mention) is dropped, other mentions become ``@U123``, channel
    references ``#name``, ``<mailto:a@b.c|a@b.c>`` the address, links their label (or URL), and the
    HTML entities Slack escapes (``&amp; &lt; &gt;``) the characters.

    Args:
        text: the ``text`` of a Slack message event.
        bot_user_id: the bot's user id, whose mention is removed.

    Returns:
        The plain text (not yet cleaned of control characters).
    """

    def replace(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            return "" if target[1:] == bot_user_id else f"@{label or target[1:]}"
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            return f"@{(label or target[1:]).split('^')[0]}"
        if target.startswith("mailto:"):
            return label or target[len("mailto:") :]
        return label or target

    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>\s*", "", text)
    return html.unescape(_LINK_RE.sub(replace, text)).strip()


def inbound_from_event(
    event: Mapping[str, Any],
    *,
    team_id: str,
    staff: StaffDirectory,
    bot_user_id: str | None,
    max_chars: int,
) -> SlackInbound | None:
    """Normalize a ``message`` (direct message) or ``app_mention`` event.

    Args:
        event: the ``event`` object of an Events API / Socket Mode envelope.
        team_id: the envelope's ``team_id`` (the workspace the event was delivered for).
        staff: the staff allowlist.
        bot_user_id: the bot's own user id (its mention is stripped; its messages are ignored).
        max_chars: longest text accepted.

    Returns:
        The message with where to answer, or None for events that get no answer: bot messages,
        edits/deletions/joins, channel messages that do not mention the bot, empty text.
    """
    kind = event.get("type")
    user = event.get("user")
    channel = event.get("channel")
    if not isinstance(user, str) or not isinstance(channel, str) or not user or not channel:
        return None
    if event.get("bot_id") or event.get("subtype") not in _SPOKEN_SUBTYPES or user == bot_user_id:
        return None
    thread_ts = _str_or_none(event.get("thread_ts"))
    if kind == "app_mention":
        # In a channel every answer goes in a thread: the one mentioned in, or a new one under the message.
        thread_ts = thread_ts or _str_or_none(event.get("ts"))
        if thread_ts is None:
            return None
    elif kind == "message":
        if event.get("channel_type") != "im":
            return None  # channels: only mentions are answered (they arrive as app_mention)
    else:
        return None
    target = ReplyTarget(channel, thread_ts)
    raw = event.get("text")
    if not isinstance(raw, str):
        return None
    text = clean_typed_text(unslack_text(raw, bot_user_id))
    if not text:
        return None
    user_team = _str_or_none(event.get("user_team")) or _str_or_none(event.get("team")) or team_id
    if len(text) > max_chars:
        error = InvalidMessage(
            f"that message is too long for me ({len(text)} characters; please keep it under {max_chars})"
        )
        return SlackInbound(None, target, error)
    message = InboundMessage(
        CHANNEL,
        sender_id(team_id, user, thread_ts),
        text=text,
        metadata=staff.metadata(user, user_team, delivered_for=team_id),
        source=slack_source(user_team or team_id, user),
    )
    return SlackInbound(message, target)


def inbound_from_action(body: Mapping[str, Any], *, staff: StaffDirectory, max_chars: int) -> SlackInbound | None:
    """Normalize a ``block_actions`` payload for one of our buttons into the pressed payload.

    Args:
        body: the interaction payload (``type: block_actions``).
        staff: the staff allowlist.
        max_chars: longest payload accepted.

    Returns:
        The message (text = the button's title, payload = its value) with where to answer, or None
        when the payload is not a press of one of our buttons on a message.
    """
    actions = body.get("actions")
    user = body.get("user") or {}
    channel = body.get("channel") or {}
    message = body.get("message") or {}
    team = body.get("team") or {}
    if not isinstance(actions, list) or not all(isinstance(x, Mapping) for x in (user, channel, message, team)):
        return None
    action = next(
        (a for a in actions if isinstance(a, Mapping) and BUTTON_ACTION_RE.match(str(a.get("action_id", "")))),
        None,
    )
    user_id, channel_id, team_id = user.get("id"), channel.get("id"), team.get("id") or user.get("team_id")
    if action is None or not all(isinstance(v, str) and v for v in (user_id, channel_id, team_id)):
        return None
    value = action.get("value")
    if not isinstance(value, str) or not value.startswith("/") or len(value) > max_chars:
        return None
    payload = clean_payload(value)
    if not payload.startswith("/"):
        return None
    title = (action.get("text") or {}).get("text") if isinstance(action.get("text"), Mapping) else None
    thread_ts = _str_or_none(message.get("thread_ts"))
    user_team = _str_or_none(user.get("team_id")) or str(team_id)
    inbound = InboundMessage(
        CHANNEL,
        sender_id(str(team_id), str(user_id), thread_ts),
        text=(clean_typed_text(str(title)) or None) if title else None,
        payload=payload,
        metadata=staff.metadata(str(user_id), user_team, delivered_for=str(team_id)),
        source=slack_source(user_team, str(user_id)),
    )
    return SlackInbound(inbound, ReplyTarget(str(channel_id), thread_ts))


def blocks_after_press(body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str] | None:
    """The pressed message without its buttons, with a line saying who chose what (for ``chat.update``).

    Buttons are removed so an answer cannot be given twice and the thread shows what was chosen.

    Args:
        body: the ``block_actions`` payload.

    Returns:
        ``(blocks, fallback_text)``, or None when the payload carries no message to update.
    """
    message = body.get("message")
    actions = body.get("actions") or []
    if not isinstance(message, Mapping) or not isinstance(message.get("blocks"), list) or not actions:
        return None
    pressed = actions[0] if isinstance(actions[0], Mapping) else {}
    title = (pressed.get("text") or {}).get("text") if isinstance(pressed.get("text"), Mapping) else None
    user = (body.get("user") or {}).get("id")
    kept = [b for b in message["blocks"] if isinstance(b, dict) and b.get("type") != "actions"]
    chose = f"<@{user}> chose *{escape(str(title or 'an option'))}*"
    kept.append({"type": "context", "elements": [{"type": "mrkdwn", "text": chose}]})
    return kept[:MAX_BLOCKS], _truncate(str(message.get("text") or ""), MAX_FALLBACK_CHARS)


# ----------------------------------------------------------------------------------------- outbound


def escape(text: str) -> str:
    """Escape the three characters Slack's text formatting reserves (``& < >``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_messages(messages: Sequence[OutboundMessage]) -> list[SlackPost]:
    """Render rasa's bot messages as Slack posts, one post per bot message.

    Drawn from :func:`connectors.rich.layout`: a ``product_cards`` custom message becomes one post of cards
    (the per-product messages the actions send after it for text-only channels are left out). Other custom
    payloads (``handoff``, ``staff_call``) are not drawn; their message's text, if any, is. Images on gateway
    paths (not ``http(s)``) cannot be fetched by Slack and are left out.

    Args:
        messages: the bot messages in order.

    Returns:
        The posts in order; messages with nothing Slack can show produce none.
    """
    posts: list[SlackPost] = []
    for part in layout(messages):
        if isinstance(part, Cards):
            carded = render_product_cards(part.cards)
            if carded is not None:
                posts.append(carded)
            if not part.message.text:
                continue
            message = part.message
        else:
            message = part
        post = render_message(message)
        if post is not None:
            posts.append(post)
    return posts


def render_message(message: OutboundMessage) -> SlackPost | None:
    """Render one bot message: text sections, an image block, then an actions block of its buttons.

    Args:
        message: the bot message.

    Returns:
        The post, or None if Slack has nothing to show for it.
    """
    blocks: list[dict[str, Any]] = []
    text = message.text or ""
    for chunk in _chunks(escape(text), MAX_SECTION_CHARS):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
    image = message.image if message.image and _HTTP_RE.fullmatch(message.image) else None
    if image:
        blocks.append({"type": "image", "image_url": image, "alt_text": _truncate(text or "image", MAX_ALT_TEXT)})
    if message.attachment and _HTTP_RE.fullmatch(message.attachment):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"<{message.attachment}>"}})
    buttons = [(b.title, b.payload) for b in message.buttons]
    blocks.extend(_actions_blocks(buttons))
    fallback = text or (message.attachment or "") or ("(image)" if image else "")
    if buttons and not text:
        fallback = "Options: " + ", ".join(title for title, _ in buttons)
    if not blocks:
        return None
    return SlackPost(_truncate(escape(fallback), MAX_FALLBACK_CHARS), tuple(blocks[:MAX_BLOCKS]))


def render_product_cards(cards: Sequence[ProductCard]) -> SlackPost | None:
    """Render product cards: a section per product with its image and price, then its buttons.

    Args:
        cards: the cards (``connectors.rich.product_cards``).

    Returns:
        The post (fallback text: one line per product), or None when there is no card.
    """
    blocks: list[dict[str, Any]] = []
    lines: list[str] = []
    for card in cards:
        name = f"<{card.url}|{escape(card.title)}>" if _HTTP_RE.fullmatch(card.url) else escape(card.title)
        detail = [f"*{name}*" + (f" by {escape(card.brand)}" if card.brand else "")]
        if card.price_line:
            detail.append(escape(card.price_line))
        if card.reason:
            detail.append(f"_{escape(card.reason)}_")
        section: dict[str, Any] = {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _truncate("\n".join(detail), MAX_SECTION_CHARS)},
        }
        if _HTTP_RE.fullmatch(card.image):
            section["accessory"] = {
                "type": "image",
                "image_url": card.image,
                "alt_text": _truncate(card.title, MAX_ALT_TEXT),
            }
        blocks.append(section)
        blocks.extend(_actions_blocks((b.title, b.payload) for b in card.buttons))
        lines.append(f"{card.title}: {card.price}" if card.price else card.title)
    if not blocks:
        return None
    return SlackPost(_truncate(escape("\n".join(lines)), MAX_FALLBACK_CHARS), tuple(blocks[:MAX_BLOCKS]))


def render_text(text: str) -> SlackPost:
    """A post of plain text (error messages)."""
    section = {"type": "section", "text": {"type": "mrkdwn", "text": _truncate(escape(text), MAX_SECTION_CHARS)}}
    return SlackPost(_truncate(escape(text), MAX_FALLBACK_CHARS), (section,))


def render_alert(text: str, conversation_id: str, ticket: str | None) -> SlackPost:
    """A staff alert: the summary, then the ticket and conversation as context.

    Args:
        text: the summary.
        conversation_id: the customer's conversation id.
        ticket: the hand-off ticket, if any.

    Returns:
        The post.
    """
    context = f"conversation `{escape(conversation_id)}`"
    if ticket:
        context = f"ticket *{escape(ticket)}* · {context}"
    fallback = f"{text} ({ticket})" if ticket else text
    return SlackPost(
        _truncate(escape(fallback), MAX_FALLBACK_CHARS),
        (
            {"type": "section", "text": {"type": "mrkdwn", "text": _truncate(escape(text), MAX_SECTION_CHARS)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ),
    )


# ------------------------------------------------------------------------------------------ helpers


def _actions_blocks(buttons: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    elements = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": _truncate(title, MAX_BUTTON_TEXT), "emoji": True},
            "value": payload,
            "action_id": f"{BUTTON_ACTION_PREFIX}{index}",
        }
        for index, (title, payload) in enumerate(buttons)
        # A payload Slack cannot carry (over 2000 characters) cannot be pressed: leave the button out.
        if payload.startswith("/") and len(payload) <= MAX_BUTTON_VALUE and title.strip()
    ]
    return [
        {"type": "actions", "elements": elements[i : i + MAX_ACTIONS_PER_BLOCK]}
        for i in range(0, len(elements), MAX_ACTIONS_PER_BLOCK)
    ]


def _chunks(text: str, size: int) -> list[str]:
    """Split at line breaks where possible so no chunk exceeds ``size`` (never inside ``&amp;``)."""
    chunks: list[str] = []
    while len(text) > size:
        cut = text.rfind("\n", 0, size)
        cut = cut if cut > 0 else _entity_safe(text, size)
        chunks.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text:
        chunks.append(text)
    return chunks


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: _entity_safe(text, limit - 1)] + "…"


def _entity_safe(text: str, cut: int) -> int:
    """Move ``cut`` back to before an escape sequence (``&amp;``, ``&lt;``, ``&gt;``) it would split."""
    amp = text.rfind("&", max(0, cut - 4), cut)
    if amp != -1 and text.find(";", amp, cut) == -1:
        return amp
    return cut


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
