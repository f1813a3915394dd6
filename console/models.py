"""The console's own tables (accounts, sessions, annotations, the conversation index) on ``GatewayBase``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from connectors.db import GatewayBase

ROLES = ("agent", "lead", "admin")


class ConsoleUser(GatewayBase):
    """A console account; the password is stored only as an scrypt hash with its own salt."""

    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ConsoleSession(GatewayBase):
    """A signed-in browser; only the SHA-256 of the cookie value is stored."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class ConsoleLoginFailure(GatewayBase):
    """A failed sign-in, kept for the rate limit (per email and per client address)."""

    __tablename__ = "console_login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(200), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)


class ConsoleConversation(GatewayBase):
    """One row per tracker conversation: what the list, filters and metrics read instead of the events."""

    __tablename__ = "console_conversations"
    __table_args__ = (
        Index("ix_console_conversations_last", "last_ts", "sender_id"),
        Index("ix_console_conversations_channel_last", "channel", "last_ts"),
    )

    sender_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    first_ts: Mapped[float] = mapped_column(Float)
    last_ts: Mapped[float] = mapped_column(Float)
    turns: Mapped[int] = mapped_column(Integer, default=0)
    min_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    fallbacks: Mapped[int] = mapped_column(Integer, default=0)
    handed_off: Mapped[bool] = mapped_column(Boolean, default=False)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    orders: Mapped[str] = mapped_column(Text, default="")
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)


class ConsoleConversationText(GatewayBase):
    """What customers wrote in a conversation, raw and redacted, for full-text search.

    Kept apart from ``console_conversations`` so that filters and counts scan narrow rows.
    """

    __tablename__ = "console_conversation_texts"

    sender_id: Mapped[str] = mapped_column(
        ForeignKey("console_conversations.sender_id", ondelete="CASCADE"), primary_key=True
    )
    search_text: Mapped[str] = mapped_column(Text, default="")
    search_redacted: Mapped[str] = mapped_column(Text, default="")


class ConsoleConversationIntent(GatewayBase):
    """Which intents a conversation's user messages had (for the intent filter and its counts)."""

    __tablename__ = "console_conversation_intents"

    sender_id: Mapped[str] = mapped_column(
        ForeignKey("console_conversations.sender_id", ondelete="CASCADE"), primary_key=True
    )
    intent: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class ConsoleIndexState(GatewayBase):
    """How far the indexer has read the tracker's ``events`` table (one row)."""

    __tablename__ = "console_index_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)


class ConsoleTag(GatewayBase):
    """A tag on a conversation (reviewed, needs fix, good example, ...)."""

    __tablename__ = "console_tags"
    __table_args__ = (UniqueConstraint("sender_id", "tag", name="uq_console_tags_sender_tag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    tag: Mapped[str] = mapped_column(String(40), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("console_users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ConsoleNote(GatewayBase):
    """A free-text note on a conversation."""

    __tablename__ = "console_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    text: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("console_users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ConsoleCorrection(GatewayBase):
    """The right intent and entities of one user message (a tracker ``user`` event), for training data."""

    __tablename__ = "console_corrections"
    __table_args__ = (UniqueConstraint("event_id", name="uq_console_corrections_event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(Integer)
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    text: Mapped[str] = mapped_column(Text)
    predicted_intent: Mapped[str | None] = mapped_column(String(100), nullable=True)
    intent: Mapped[str] = mapped_column(String(100), index=True)
    entities: Mapped[str] = mapped_column(Text, default="[]")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("console_users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ConsoleConversationCard(GatewayBase):
    """What the list shows of a conversation besides its numbers: its pseudonym, a preview and who it is.

    ``public_id`` is the only name the console ever gives a conversation (``console.pseudonyms``): a web
    conversation id is the customer's bearer secret, so it never leaves the gateway through the console.
    """

    __tablename__ = "console_conversation_cards"

    sender_id: Mapped[str] = mapped_column(
        ForeignKey("console_conversations.sender_id", ondelete="CASCADE"), primary_key=True
    )
    public_id: Mapped[str] = mapped_column(String(48), unique=True)
    preview: Mapped[str] = mapped_column(String(200), default="")
    preview_redacted: Mapped[str] = mapped_column(String(200), default="")
    store_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ConsoleAssignment(GatewayBase):
    """Who is looking after a conversation (claimed from the list or the transcript)."""

    __tablename__ = "console_assignments"

    sender_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id", ondelete="CASCADE"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(DateTime)


class ConsoleSecret(GatewayBase):
    """Secrets the console makes for itself (the key of its pseudonyms), created on first use."""

    __tablename__ = "console_secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))


class ConsoleReply(GatewayBase):
    """A staff member's reply to a customer from the console, on a hand-off ticket they claimed there.

    Pushed to the customer's channel as a Slack desk reply is (``connectors.handoff.translate.agent_message``)
    and kept here so the transcript shows it: rasa's tracker never sees it. ``delivered`` is whether the
    push reached the channel.
    """

    __tablename__ = "console_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket: Mapped[str] = mapped_column(String(16), index=True)
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("console_users.id", ondelete="SET NULL"), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    delivered: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(DateTime)
