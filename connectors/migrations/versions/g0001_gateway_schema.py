"""Gateway schema: every table as ``create_all`` made it before the gateway had migrations.

Revision ID: g0001
Revises: (none)
Create Date: 2026-12-07 05:50:14.818348
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "g0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create every gateway table the database lacks (a database made by ``create_all`` keeps its rows)."""
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "console_conversations" not in existing:
        op.create_table(
            "console_conversations",
            sa.Column("sender_id", sa.String(length=255), nullable=False),
            sa.Column("channel", sa.String(length=32), nullable=False),
            sa.Column("first_ts", sa.Float(), nullable=False),
            sa.Column("last_ts", sa.Float(), nullable=False),
            sa.Column("turns", sa.Integer(), nullable=False),
            sa.Column("min_confidence", sa.Float(), nullable=True),
            sa.Column("fallbacks", sa.Integer(), nullable=False),
            sa.Column("handed_off", sa.Boolean(), nullable=False),
            sa.Column("verified", sa.Boolean(), nullable=False),
            sa.Column("orders", sa.Text(), nullable=False),
            sa.Column("last_event_id", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("sender_id"),
        )
        with op.batch_alter_table("console_conversations", schema=None) as batch_op:
            batch_op.create_index("ix_console_conversations_channel_last", ["channel", "last_ts"], unique=False)
            batch_op.create_index("ix_console_conversations_last", ["last_ts", "sender_id"], unique=False)
    if "console_index_state" not in existing:
        op.create_table(
            "console_index_state",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("last_event_id", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
    if "console_login_failures" not in existing:
        op.create_table(
            "console_login_failures",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("email", sa.String(length=200), nullable=False),
            sa.Column("client", sa.String(length=64), nullable=False),
            sa.Column("at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("console_login_failures", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_console_login_failures_at"), ["at"], unique=False)
            batch_op.create_index(batch_op.f("ix_console_login_failures_client"), ["client"], unique=False)
            batch_op.create_index(batch_op.f("ix_console_login_failures_email"), ["email"], unique=False)
    if "console_secrets" not in existing:
        op.create_table(
            "console_secrets",
            sa.Column("name", sa.String(length=32), nullable=False),
            sa.Column("value", sa.String(length=128), nullable=False),
            sa.PrimaryKeyConstraint("name"),
        )
    if "console_users" not in existing:
        op.create_table(
            "console_users",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("email", sa.String(length=200), nullable=False),
            sa.Column("role", sa.String(length=16), nullable=False),
            sa.Column("password_hash", sa.String(length=300), nullable=False),
            sa.Column("active", sa.Boolean(), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("email"),
        )
    if "handoff_cases" not in existing:
        op.create_table(
            "handoff_cases",
            sa.Column("ticket", sa.String(length=16), nullable=False),
            sa.Column("conversation_id", sa.String(length=160), nullable=False),
            sa.Column("channel", sa.String(length=16), nullable=False),
            sa.Column("store_id", sa.String(length=16), nullable=True),
            sa.Column("reason", sa.String(length=200), nullable=False),
            sa.Column("summary", sa.Text(), nullable=False),
            sa.Column("order_number", sa.String(length=16), nullable=True),
            sa.Column("customer", sa.String(length=120), nullable=True),
            sa.Column("status", sa.String(length=10), nullable=False),
            sa.Column("slack_channel", sa.String(length=32), nullable=True),
            sa.Column("slack_ts", sa.String(length=32), nullable=True),
            sa.Column("claimed_by", sa.String(length=32), nullable=True),
            sa.Column("claimed_by_name", sa.String(length=80), nullable=True),
            sa.Column("claimed_at", sa.DateTime(), nullable=True),
            sa.Column("closed_by", sa.String(length=32), nullable=True),
            sa.Column("closed_at", sa.DateTime(), nullable=True),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("notice_at", sa.DateTime(), nullable=True),
            sa.PrimaryKeyConstraint("ticket"),
        )
        with op.batch_alter_table("handoff_cases", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_handoff_cases_conversation_id"), ["conversation_id"], unique=False)
            batch_op.create_index(batch_op.f("ix_handoff_cases_slack_ts"), ["slack_ts"], unique=False)
            batch_op.create_index(batch_op.f("ix_handoff_cases_status"), ["status"], unique=False)
    if "slack_reply_targets" not in existing:
        op.create_table(
            "slack_reply_targets",
            sa.Column("sender_id", sa.String(length=255), nullable=False),
            sa.Column("channel", sa.String(length=64), nullable=False),
            sa.Column("thread_ts", sa.String(length=32), nullable=True),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("sender_id"),
        )
    if "tablet_devices" not in existing:
        op.create_table(
            "tablet_devices",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("name", sa.String(length=80), nullable=False),
            sa.Column("store_id", sa.String(length=16), nullable=False),
            sa.Column("token_hash", sa.String(length=64), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("revoked_at", sa.DateTime(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("token_hash"),
        )
        with op.batch_alter_table("tablet_devices", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_tablet_devices_store_id"), ["store_id"], unique=False)
    if "telegram_callbacks" not in existing:
        op.create_table(
            "telegram_callbacks",
            sa.Column("short_id", sa.String(length=32), nullable=False),
            sa.Column("payload", sa.Text(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("short_id"),
        )
    if "web_messages" not in existing:
        op.create_table(
            "web_messages",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("conversation_id", sa.String(length=64), nullable=False),
            sa.Column("role", sa.String(length=8), nullable=False),
            sa.Column("client_message_id", sa.String(length=64), nullable=True),
            sa.Column("status", sa.String(length=10), nullable=True),
            sa.Column("reply_to", sa.String(length=64), nullable=True),
            sa.Column("body", sa.JSON(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("conversation_id", "client_message_id", name="uq_web_messages_client_id"),
        )
        with op.batch_alter_table("web_messages", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_web_messages_conversation_id"), ["conversation_id"], unique=False)
    if "console_assignments" not in existing:
        op.create_table(
            "console_assignments",
            sa.Column("sender_id", sa.String(length=255), nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=False),
            sa.Column("assigned_at", sa.DateTime(), nullable=False),
            sa.ForeignKeyConstraint(["user_id"], ["console_users.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("sender_id"),
        )
        with op.batch_alter_table("console_assignments", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_console_assignments_user_id"), ["user_id"], unique=False)
    if "console_conversation_cards" not in existing:
        op.create_table(
            "console_conversation_cards",
            sa.Column("sender_id", sa.String(length=255), nullable=False),
            sa.Column("public_id", sa.String(length=48), nullable=False),
            sa.Column("preview", sa.String(length=200), nullable=False),
            sa.Column("preview_redacted", sa.String(length=200), nullable=False),
            sa.Column("store_id", sa.String(length=32), nullable=True),
            sa.ForeignKeyConstraint(["sender_id"], ["console_conversations.sender_id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("sender_id"),
            sa.UniqueConstraint("public_id"),
        )
    if "console_conversation_intents" not in existing:
        op.create_table(
            "console_conversation_intents",
            sa.Column("sender_id", sa.String(length=255), nullable=False),
            sa.Column("intent", sa.String(length=100), nullable=False),
            sa.ForeignKeyConstraint(["sender_id"], ["console_conversations.sender_id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("sender_id", "intent"),
        )
        with op.batch_alter_table("console_conversation_intents", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_console_conversation_intents_intent"), ["intent"], unique=False)
    if "console_conversation_texts" not in existing:
        op.create_table(
            "console_conversation_texts",
            sa.Column("sender_id", sa.String(length=255), nullable=False),
            sa.Column("search_text", sa.Text(), nullable=False),
            sa.Column("search_redacted", sa.Text(), nullable=False),
            sa.ForeignKeyConstraint(["sender_id"], ["console_conversations.sender_id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("sender_id"),
        )
    if "console_corrections" not in existing:
        op.create_table(
            "console_corrections",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("event_id", sa.Integer(), nullable=False),
            sa.Column("sender_id", sa.String(length=255), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("predicted_intent", sa.String(length=100), nullable=True),
            sa.Column("intent", sa.String(length=100), nullable=False),
            sa.Column("entities", sa.Text(), nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=True),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.ForeignKeyConstraint(["user_id"], ["console_users.id"], ondelete="SET NULL"),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("event_id", name="uq_console_corrections_event"),
        )
        with op.batch_alter_table("console_corrections", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_console_corrections_intent"), ["intent"], unique=False)
            batch_op.create_index(batch_op.f("ix_console_corrections_sender_id"), ["sender_id"], unique=False)
    if "console_notes" not in existing:
        op.create_table(
            "console_notes",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("sender_id", sa.String(length=255), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=True),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.ForeignKeyConstraint(["user_id"], ["console_users.id"], ondelete="SET NULL"),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("console_notes", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_console_notes_sender_id"), ["sender_id"], unique=False)
    if "console_sessions" not in existing:
        op.create_table(
            "console_sessions",
            sa.Column("token_hash", sa.String(length=64), nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=False),
            sa.Column("csrf_token", sa.String(length=64), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("last_seen", sa.DateTime(), nullable=False),
            sa.Column("expires_at", sa.DateTime(), nullable=False),
            sa.ForeignKeyConstraint(["user_id"], ["console_users.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("token_hash"),
        )
        with op.batch_alter_table("console_sessions", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_console_sessions_user_id"), ["user_id"], unique=False)
    if "console_tags" not in existing:
        op.create_table(
            "console_tags",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("sender_id", sa.String(length=255), nullable=False),
            sa.Column("tag", sa.String(length=40), nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=True),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.ForeignKeyConstraint(["user_id"], ["console_users.id"], ondelete="SET NULL"),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("sender_id", "tag", name="uq_console_tags_sender_tag"),
        )
        with op.batch_alter_table("console_tags", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_console_tags_sender_id"), ["sender_id"], unique=False)
            batch_op.create_index(batch_op.f("ix_console_tags_tag"), ["tag"], unique=False)
    if "handoff_events" not in existing:
        op.create_table(
            "handoff_events",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("ticket", sa.String(length=16), nullable=False),
            sa.Column("at", sa.DateTime(), nullable=False),
            sa.Column("kind", sa.String(length=24), nullable=False),
            sa.Column("actor", sa.String(length=80), nullable=True),
            sa.Column("text", sa.Text(), nullable=False),
            sa.ForeignKeyConstraint(["ticket"], ["handoff_cases.ticket"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("handoff_events", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_handoff_events_ticket"), ["ticket"], unique=False)
    if "tablet_sessions" not in existing:
        op.create_table(
            "tablet_sessions",
            sa.Column("id", sa.String(length=64), nullable=False),
            sa.Column("device_id", sa.Integer(), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("last_seen", sa.DateTime(), nullable=False),
            sa.ForeignKeyConstraint(["device_id"], ["tablet_devices.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("tablet_sessions", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_tablet_sessions_device_id"), ["device_id"], unique=False)
    if "tablet_outbox" not in existing:
        op.create_table(
            "tablet_outbox",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("session_id", sa.String(length=64), nullable=False),
            sa.Column("body", sa.JSON(), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.ForeignKeyConstraint(["session_id"], ["tablet_sessions.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("tablet_outbox", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_tablet_outbox_session_id"), ["session_id"], unique=False)


def downgrade() -> None:
    """Drop every gateway table."""
    with op.batch_alter_table("tablet_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tablet_outbox_session_id"))

    op.drop_table("tablet_outbox")
    with op.batch_alter_table("tablet_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tablet_sessions_device_id"))

    op.drop_table("tablet_sessions")
    with op.batch_alter_table("handoff_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handoff_events_ticket"))

    op.drop_table("handoff_events")
    with op.batch_alter_table("console_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_tags_tag"))
        batch_op.drop_index(batch_op.f("ix_console_tags_sender_id"))

    op.drop_table("console_tags")
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_sessions_user_id"))

    op.drop_table("console_sessions")
    with op.batch_alter_table("console_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_notes_sender_id"))

    op.drop_table("console_notes")
    with op.batch_alter_table("console_corrections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_corrections_sender_id"))
        batch_op.drop_index(batch_op.f("ix_console_corrections_intent"))

    op.drop_table("console_corrections")
    op.drop_table("console_conversation_texts")
    with op.batch_alter_table("console_conversation_intents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_conversation_intents_intent"))

    op.drop_table("console_conversation_intents")
    op.drop_table("console_conversation_cards")
    with op.batch_alter_table("console_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_assignments_user_id"))

    op.drop_table("console_assignments")
    with op.batch_alter_table("web_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_messages_conversation_id"))

    op.drop_table("web_messages")
    op.drop_table("telegram_callbacks")
    with op.batch_alter_table("tablet_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tablet_devices_store_id"))

    op.drop_table("tablet_devices")
    op.drop_table("slack_reply_targets")
    with op.batch_alter_table("handoff_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handoff_cases_status"))
        batch_op.drop_index(batch_op.f("ix_handoff_cases_slack_ts"))
        batch_op.drop_index(batch_op.f("ix_handoff_cases_conversation_id"))

    op.drop_table("handoff_cases")
    op.drop_table("console_users")
    op.drop_table("console_secrets")
    with op.batch_alter_table("console_login_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_login_failures_email"))
        batch_op.drop_index(batch_op.f("ix_console_login_failures_client"))
        batch_op.drop_index(batch_op.f("ix_console_login_failures_at"))

    op.drop_table("console_login_failures")
    op.drop_table("console_index_state")
    with op.batch_alter_table("console_conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_console_conversations_last")
        batch_op.drop_index("ix_console_conversations_channel_last")

    op.drop_table("console_conversations")
