"""Reads Rasa 3.6's SQL tracker store (table ``events``) and keeps the console's conversation index up to date."""

from __future__ import annotations

import json
import re
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from console.models import (
    ConsoleAssignment,
    ConsoleConversation,
    ConsoleConversationCard,
    ConsoleConversationIntent,
    ConsoleConversationText,
    ConsoleCorrection,
    ConsoleIndexState,
    ConsoleNote,
    ConsoleReply,
    ConsoleSecret,
    ConsoleTag,
)
from console.pseudonyms import PUBLIC_ID, Pseudonyms
from console.redact import redact
from store.normalize import order_number_value

_tracker_metadata = MetaData()
# Rasa 3.6 SQLTrackerStore's table, as rasa creates it (we only read it, and delete for privacy commands).
events = Table(
    "events",
    _tracker_metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)

KNOWN_CHANNELS = ("web", "tablet", "telegram", "slack")
FALLBACK_ACTIONS = frozenset({"action_fallback", "action_default_fallback", "action_two_stage_fallback"})
HANDOFF_ACTIONS = frozenset({"action_handoff"})
MAX_SEARCH_CHARS = 20_000
BATCH = 5_000
OVERLAP = 500
PREVIEW_CHARS = 140
#: What replaces a conversation id in indexed text (search and previews): the ids are bearer secrets.
ID_MARK = "[conversation id]"
#: A token that could be a conversation id: the web channel's id alphabet (connectors/web/translate.py).
_ID_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{8,64}(?![A-Za-z0-9_-])")
#: Long enough to be a generated id (a widget's 32-hex uuid, a tablet session), whichever gateway made it.
_GENERATED_ID_LEN = 24
#: A long token that reads as words, not as a generated id: a response or action name (``utter_ask_order_number``),
#: a long word. Random ids (hex, base64url) have digits or mixed case; such a token is marked only when it is
#: the id of a conversation the console knows (`quoted_ids` looks these up).
_WORDLIKE = re.compile(r"[A-Za-z][a-z]*(?:[_-][A-Za-z][a-z]*)*|[A-Z]+(?:[_-][A-Z]+)*")
#: The index's format: a stored value below it means rows were folded by an older indexer: fold again
#: ("2": before conversation ids were taken out of indexed text; "3": before the orders field kept only
#: order numbers, when it could hold what a customer typed at the order prompt, emails and ids included).
INDEX_FORMAT = "3"
INDEX_FORMAT_KEY = "index_format"


def tracker_engine(url: str) -> Engine:
    """An engine on the tracker store (nothing is connected until the first query).

    Unlike the gateway's own database, rasa's file keeps its journal mode: rasa owns it.
    """
    if make_url(url).get_backend_name() == "sqlite":
        return create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})
    return create_engine(url, pool_pre_ping=True)


def has_events_table(engine: Engine) -> bool:
    """Whether rasa has created its ``events`` table yet (it does on its first save)."""
    return inspect(engine).has_table("events")


def channel_of(sender_id: str, metadata_channel: str | None) -> str:
    """The channel of a conversation: the gateway's metadata, else the ``"{channel}:"`` prefix of the sender id."""
    if metadata_channel:
        return str(metadata_channel)[:32]
    prefix, sep, _rest = sender_id.partition(":")
    return prefix if sep and prefix in KNOWN_CHANNELS else "unknown"


@dataclass
class _Fold:
    """Running summary of one conversation while new events are folded in."""

    row: ConsoleConversation
    text: ConsoleConversationText
    card: ConsoleConversationCard
    intents: set[str]
    new_intents: set[str]
    ids: frozenset[str] = frozenset()


def looks_generated(token: str) -> bool:
    """Whether a token of the id alphabet could be a generated conversation id whoever made it: long enough,
    and not words (`_WORDLIKE`)."""
    return len(token) >= _GENERATED_ID_LEN and not _WORDLIKE.fullmatch(token)


def without_ids(text: str, ids: Iterable[str] | frozenset[str] = frozenset()) -> str:
    """``text`` with every conversation id in it replaced by `ID_MARK`: the bare ids in ``ids`` (any
    conversation the console knows, however short or word-like) and any token that looks like a generated
    id (`looks_generated`: 24+ characters that are not words, so ``utter_ask_order_number`` or a long word
    stays readable).

    Text is stored for search and previews only through this: what is not indexed cannot be searched for,
    one character at a time, by someone who may read the console but must not continue a customer's chat.
    """
    known = ids if isinstance(ids, frozenset) else frozenset(ids)

    def mark(found: re.Match[str]) -> str:
        token = found.group(0)
        if token in known:
            return ID_MARK
        if PUBLIC_ID.fullmatch(token):
            return token  # the console's own name of a conversation: not a secret
        return ID_MARK if looks_generated(token) else token

    return _ID_TOKEN.sub(mark, text)


def id_spans(text: str, ids: Iterable[str] | frozenset[str] = frozenset()) -> list[tuple[int, int]]:
    """Where `without_ids` would mark ``text``: ``(start, end)`` of each conversation id in it.

    For text shown in pieces (an annotated training example): an id cut by a piece boundary is still an id.
    """
    known = ids if isinstance(ids, frozenset) else frozenset(ids)
    return [
        found.span()
        for found in _ID_TOKEN.finditer(text)
        if found.group(0) in known or (not PUBLIC_ID.fullmatch(found.group(0)) and looks_generated(found.group(0)))
    ]


def quoted_ids(session: Session, texts: Iterable[str], senders: Iterable[str] = ()) -> frozenset[str]:
    """The bare ids of conversations that ``texts`` quote: of ``senders``, or of any conversation indexed.

    Only ids that do not look generated need this (a web client may choose its own, from 8 characters, even
    words); `without_ids` marks the ones that look generated whatever they are.
    """
    tokens: set[str] = set()
    for text in texts:
        tokens.update(t for t in _ID_TOKEN.findall(text) if not looks_generated(t))
    if not tokens:
        return frozenset()
    found = {_bare(s) for s in senders} & tokens
    candidates = sorted({f"{channel}:{t}" for channel in KNOWN_CHANNELS for t in tokens} | tokens)
    for start in range(0, len(candidates), 400):
        chunk = candidates[start : start + 400]
        query = select(ConsoleConversation.sender_id).where(ConsoleConversation.sender_id.in_(chunk))
        found.update(_bare(s) for s in session.scalars(query))
    return frozenset(found)


def _bare(sender_id: str) -> str:
    prefix, sep, rest = sender_id.partition(":")
    return rest if sep and prefix in KNOWN_CHANNELS else sender_id


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "\u2026"


def _apply(
    fold: _Fold,
    event_id: int,
    type_name: str,
    ts: float | None,
    intent: str | None,
    action: str | None,
    raw: str | None,
) -> None:
    row = fold.row
    if ts is not None:
        row.first_ts = ts if not row.first_ts else min(row.first_ts, ts)
        row.last_ts = max(row.last_ts or 0.0, ts)
    row.last_event_id = max(row.last_event_id or 0, event_id)
    if type_name == "user":
        data = _json(raw)
        row.turns = (row.turns or 0) + 1
        if row.channel == "unknown":
            row.channel = channel_of(row.sender_id, (data.get("metadata") or {}).get("channel"))
        name = intent or ((data.get("parse_data") or {}).get("intent") or {}).get("name")
        if name:
            if name not in fold.intents:
                fold.new_intents.add(name)
            fold.intents.add(name)
        confidence = ((data.get("parse_data") or {}).get("intent") or {}).get("confidence")
        if isinstance(confidence, int | float):
            row.min_confidence = confidence if row.min_confidence is None else min(row.min_confidence, confidence)
        text = without_ids(str(data.get("text") or ""), fold.ids)
        metadata = data.get("metadata") or {}
        if isinstance(metadata, dict) and isinstance(metadata.get("store_id"), str):
            fold.card.store_id = metadata["store_id"][:32]
        if text and not text.startswith("/"):  # a button press shows its payload: not what the list previews
            fold.card.preview = _preview(text)
            fold.card.preview_redacted = _preview(redact(text))
        said = fold.text
        if text and len(said.search_text or "") < MAX_SEARCH_CHARS:
            said.search_text = f"{said.search_text or ''}\n{text.lower()}"
            said.search_redacted = f"{said.search_redacted or ''}\n{redact(text).lower()}"
    elif type_name == "action":
        if action in FALLBACK_ACTIONS:
            row.fallbacks = (row.fallbacks or 0) + 1
        elif action in HANDOFF_ACTIONS:
            row.handed_off = True
    elif type_name == "slot" and action in ("order_number", "proof"):
        value = _json(raw).get("value")
        # The slot first holds whatever was typed at "Which order is it about?" (an email, an address, a
        # conversation id) until the form checks it: only an order number in the shop's shape is indexed.
        number = order_number_value(value) if action == "order_number" else None
        if number is not None:
            orders = set(filter(None, (row.orders or "").split(" ")))
            if number not in orders:
                row.orders = " ".join(sorted(orders | {number}))
        elif action == "proof" and value == "verified":
            row.verified = True


def _json(raw: str | None) -> dict[str, Any]:
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class Indexer:
    """Folds new ``events`` rows (by id) into ``console_conversations``; cheap when nothing is new."""

    def __init__(self, tracker: Engine, sessions: sessionmaker[Session], pseudonyms: Pseudonyms | None = None) -> None:
        """Keep the two databases.

        Args:
            tracker: engine on rasa's tracker store.
            sessions: session factory of the gateway database (where the index lives).
            pseudonyms: how conversations are named in the console (default: keyed in that database).
        """
        self.tracker = tracker
        self.sessions = sessions
        self.pseudonyms = pseudonyms or Pseudonyms(sessions)
        self._lock = threading.Lock()
        self._checked = False

    def refresh(self) -> int:
        """Index every event newer than the last indexed one.

        The first batch also re-reads the ``OVERLAP`` ids before it: on PostgreSQL a transaction can commit
        a lower id after a higher one was indexed. Re-reading is harmless because each conversation only
        folds events above its own ``last_event_id`` (rasa writes one conversation's events in order).

        Returns:
            How many events were folded into the index.
        """
        with self._lock:
            if not has_events_table(self.tracker):
                return 0
            if not self._checked:
                self._rebuild_if_cards_missing()
                self._checked = True
            with self.sessions() as session:
                state = session.get(ConsoleIndexState, 1)
                last = state.last_event_id if state else 0
            with self.tracker.connect() as conn:
                newest = conn.execute(select(func.max(events.c.id))).scalar() or 0
            folded, start = 0, max(0, last - OVERLAP)
            while newest > last:
                with self.tracker.connect() as conn:
                    rows = conn.execute(
                        select(
                            events.c.id,
                            events.c.sender_id,
                            events.c.type_name,
                            events.c.timestamp,
                            events.c.intent_name,
                            events.c.action_name,
                            events.c.data,
                        )
                        .where(events.c.id > start)
                        .order_by(events.c.id)
                        .limit(BATCH)
                    ).all()
                if not rows:
                    break
                folded += self._fold(rows)
                last = start = rows[-1][0]
            return folded

    def _rebuild_if_cards_missing(self) -> None:
        """Start the index again when it was built before conversations had cards (pseudonym, preview), or
        in an older format (`INDEX_FORMAT`: before conversation ids were taken out of indexed text, or
        before the orders field held order numbers only).

        Annotations (tags, notes, corrections, assignments) are keyed by sender id and stay; only the
        derived rows are dropped and folded again from the tracker.
        """
        with self.sessions() as session, session.begin():
            missing = session.scalar(
                select(ConsoleConversation.sender_id)
                .outerjoin(ConsoleConversationCard, ConsoleConversationCard.sender_id == ConsoleConversation.sender_id)
                .where(ConsoleConversationCard.sender_id.is_(None))
                .limit(1)
            )
            # The format is kept beside the pseudonym key (a name/value table the console owns), so an
            # existing gateway database needs no new column.
            marker = session.get(ConsoleSecret, INDEX_FORMAT_KEY)
            current = marker is not None and marker.value == INDEX_FORMAT
            if marker is None:
                session.add(ConsoleSecret(name=INDEX_FORMAT_KEY, value=INDEX_FORMAT))
            else:
                marker.value = INDEX_FORMAT
            if missing is None and current:
                return
            for model in (ConsoleConversationIntent, ConsoleConversationText, ConsoleConversationCard):
                session.execute(delete(model))
            session.execute(delete(ConsoleConversation))
            session.execute(delete(ConsoleIndexState))

    def _fold(self, rows: Sequence[Any]) -> int:
        applied = 0
        by_sender: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            by_sender[row[1]].append(row)
        with self.sessions() as session, session.begin():
            user_texts = [str(_json(r[6]).get("text") or "") for r in rows if r[2] == "user" and r[6]]
            ids = quoted_ids(session, user_texts, by_sender)
            existing = {
                c.sender_id: c
                for c in session.scalars(
                    select(ConsoleConversation).where(ConsoleConversation.sender_id.in_(list(by_sender)))
                )
            }
            texts = {
                t.sender_id: t
                for t in session.scalars(
                    select(ConsoleConversationText).where(ConsoleConversationText.sender_id.in_(list(existing)))
                )
            }
            cards = {
                c.sender_id: c
                for c in session.scalars(
                    select(ConsoleConversationCard).where(ConsoleConversationCard.sender_id.in_(list(existing)))
                )
            }
            known = defaultdict(set)
            for sender, intent in session.execute(
                select(ConsoleConversationIntent.sender_id, ConsoleConversationIntent.intent).where(
                    ConsoleConversationIntent.sender_id.in_(list(existing))
                )
            ):
                known[sender].add(intent)
            for sender, sender_rows in by_sender.items():
                conv = existing.get(sender)
                if conv is None:
                    conv = ConsoleConversation(
                        sender_id=sender,
                        channel=channel_of(sender, None),
                        first_ts=0.0,
                        last_ts=0.0,
                        turns=0,
                        fallbacks=0,
                        handed_off=False,
                        verified=False,
                        orders="",
                        last_event_id=0,
                    )
                    session.add(conv)
                said = texts.get(sender)
                if said is None:
                    said = ConsoleConversationText(sender_id=sender, search_text="", search_redacted="")
                    session.add(said)
                card = cards.get(sender)
                if card is None:
                    card = ConsoleConversationCard(
                        sender_id=sender, public_id=self.pseudonyms.of(sender), preview="", preview_redacted=""
                    )
                    session.add(card)
                fold = _Fold(conv, said, card, known[sender], set(), ids)
                for event_id, _s, type_name, ts, intent, action, raw in sender_rows:
                    if event_id > (conv.last_event_id or 0):
                        _apply(fold, event_id, type_name, ts, intent, action, raw)
                        applied += 1
                session.flush()
                session.add_all(ConsoleConversationIntent(sender_id=sender, intent=i) for i in fold.new_intents)
            state = session.get(ConsoleIndexState, 1)
            if state is None:
                session.add(ConsoleIndexState(id=1, last_event_id=rows[-1][0]))
            else:
                state.last_event_id = max(state.last_event_id, rows[-1][0])
        return applied


def sender_events(tracker: Engine, sender_id: str) -> list[dict[str, Any]]:
    """Every event of one conversation in order, each as rasa's JSON plus ``_id`` (the row id)."""
    if not has_events_table(tracker):
        return []
    with tracker.connect() as conn:
        rows = conn.execute(
            select(events.c.id, events.c.data).where(events.c.sender_id == sender_id).order_by(events.c.id)
        ).all()
    out = []
    for event_id, raw in rows:
        data = _json(raw)
        data["_id"] = event_id
        out.append(data)
    return out


def delete_conversations(tracker: Engine, sessions: sessionmaker[Session], sender_ids: Iterable[str]) -> int:
    """Delete conversations everywhere: tracker events, the index, the console's annotations and staff replies.

    Args:
        tracker: engine on rasa's tracker store.
        sessions: gateway database sessions.
        sender_ids: conversations to delete.

    Returns:
        How many tracker events were deleted.
    """
    ids = sorted(set(sender_ids))
    deleted = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        if has_events_table(tracker):
            with tracker.begin() as conn:
                deleted += conn.execute(delete(events).where(events.c.sender_id.in_(chunk))).rowcount or 0
        with sessions() as session, session.begin():
            for model in (
                ConsoleConversationIntent,
                ConsoleConversationText,
                ConsoleConversationCard,
                ConsoleAssignment,
                ConsoleTag,
                ConsoleNote,
                ConsoleCorrection,
                ConsoleReply,
            ):
                session.execute(delete(model).where(model.sender_id.in_(chunk)))
            session.execute(delete(ConsoleConversation).where(ConsoleConversation.sender_id.in_(chunk)))
    return deleted
