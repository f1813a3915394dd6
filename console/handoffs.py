"""The hand-off queue in the console: the order store's tickets with the gateway relay's state and history."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, func, inspect, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from connectors.handoff.state import HandoffCase, HandoffEvent
from console.errors import BadInput, Conflict, Forbidden, NotFound, Unavailable
from console.models import ConsoleConversation, ConsoleReply, ConsoleUser
from console.pseudonyms import Pseudonyms
from console.redact import redact
from console.shop import ShopFacts, ShopUnavailable, photo_json
from console.tracker import quoted_ids, without_ids
from store import models as shop
from store.core import iso_utc
from store.normalize import order_number_value
from store.records import HandoffTicket
from store.service import OrderStore

STATUSES = ("open", "assigned", "closed")
FILTERS = (*STATUSES, "all")
_RANK = {status: rank for rank, status in enumerate(STATUSES)}
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_CHUNK = 500  # ticket numbers per IN (...) list, well under every backend's parameter limit
T = shop.HandoffTicket
GATEWAY_DOWN = "the gateway database cannot be read; try again shortly"


def effective_status(store_status: str, relay_status: str | None) -> str:
    """The status to show: the further along of the order store's and the gateway relay's.

    The desk writes the gateway first and mirrors to the order store, never the other way, so the
    store can only lag behind (a failed mirror is counted as ``handoff.mirror_failed``).

    Args:
        store_status: ``handoff_tickets.status``.
        relay_status: ``handoff_cases.status``, or None when the ticket was never relayed.
    """
    if relay_status is None or relay_status not in _RANK:
        return store_status
    if store_status not in _RANK:
        return relay_status
    return max(store_status, relay_status, key=_RANK.__getitem__)


def transcript_url(public_id: str) -> str:
    """The console page address that opens a conversation's transcript (by its console id, never its own)."""
    return "/console#conversation=" + quote(public_id, safe="")


def scrub_all(value: Any, secrets: Mapping[str, str]) -> Any:
    """:func:`scrub` every string inside ``value`` (dicts and lists included)."""
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, list):
        return [scrub_all(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: scrub_all(v, secrets) for k, v in value.items()}
    return value


def scrub(text: str | None, secrets: Mapping[str, str]) -> str | None:
    """``text`` with every raw conversation id in ``secrets`` replaced by its console id (belt and braces:
    nothing the desk writes should hold one, but a web conversation id must never leave through the console)."""
    if not text:
        return text
    for raw, public in secrets.items():
        if raw in text:
            text = text.replace(raw, public)
        bare = raw.partition(":")[2]
        if len(bare) >= 8 and bare in text:
            text = text.replace(bare, public)
    return text


@dataclass(frozen=True)
class QueueQuery:
    """What ``GET /api/console/handoffs`` asked for."""

    status: str = "all"
    limit: int = DEFAULT_LIMIT
    before: int | None = None  # the cursor: order store ticket ids below this one

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> QueueQuery:
        """Read ``status``, ``limit`` and ``cursor``.

        Raises:
            BadInput: naming the parameter that is malformed.
        """
        status = (query.get("status") or "all").strip().lower()
        if status not in FILTERS:
            raise BadInput(f"'status' must be one of {', '.join(FILTERS)}", field="status")
        raw_limit = query.get("limit") or str(DEFAULT_LIMIT)
        ascii_number = raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 6
        if not ascii_number or not 1 <= int(raw_limit) <= MAX_LIMIT:
            raise BadInput(f"'limit' must be between 1 and {MAX_LIMIT}", field="limit")
        cursor = query.get("cursor") or None
        if cursor is not None and (not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 18):
            raise BadInput("'cursor' is not a cursor this server gave out", field="cursor")
        return cls(status=status, limit=int(raw_limit), before=int(cursor) if cursor else None)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else iso_utc(value)


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _ticket_number(row: shop.HandoffTicket) -> str:
    # The store numbers a ticket right after inserting it; a row without one is shown as the store would.
    return row.ticket_number or f"HO-{row.id:06d}"


class HandoffQueue:
    """Reads the queue from the order store and the gateway database (synchronous; run it in a thread).

    Every ticket is a row of the order store's ``handoff_tickets`` (the actions file them, Slack or not);
    tickets relayed through Slack also have a ``handoff_cases`` row and ``handoff_events`` history in the
    gateway database. The desk changes the gateway row first and then mirrors the change to the order
    store, so when that mirror failed the gateway is ahead: the status shown is the further along of the two.
    """

    def __init__(
        self,
        shop_engine: Engine,
        sessions: sessionmaker[Session],
        pseudonyms: Pseudonyms | None = None,
        facts: ShopFacts | None = None,
    ) -> None:
        """Use ``shop_engine`` for ``handoff_tickets`` and ``sessions`` for the gateway tables."""
        self.shop_engine = shop_engine
        self.sessions = sessions
        self.pseudonyms = pseudonyms or Pseudonyms(sessions)
        self.facts = facts or ShopFacts(shop_engine)
        self._relay_known = False

    def _relay_exists(self) -> bool:
        """Whether the gateway database has the Slack desk's tables.

        They are declared when the console starts (whatever channels are on) and created with the gateway's
        schema, so they exist; an older database, or one the gateway has not started on yet, may lack them:
        then nothing was relayed and the queue is the order store's alone.
        """
        if not self._relay_known:
            with self.sessions() as session:
                self._relay_known = inspect(session.get_bind()).has_table(HandoffCase.__tablename__)
        return self._relay_known

    def page(self, query: QueueQuery, *, raw_text: bool) -> dict[str, Any]:
        """One page of tickets, newest first, each with its history, and the count per status.

        Args:
            query: status filter, page size and cursor.
            raw_text: show summaries and history verbatim (admin) instead of redacted.

        Returns:
            ``{"handoffs": [...], "counts": {"open", "assigned", "closed", "all"}, "next_cursor", "redacted"}``.

        Raises:
            Unavailable: the order store or the gateway database cannot be read (down, or not migrated).
        """
        try:
            with Session(self.shop_engine) as db:
                # Only tickets the store does not yet call closed can be further along at the gateway.
                active = db.execute(select(T.id, T.ticket_number, T.status).where(T.status != "closed")).all()
                relay = self._relay_statuses([r.ticket_number for r in active if r.ticket_number])
                ahead = {
                    r.id: (r.status, effective_status(r.status, relay.get(r.ticket_number or "")))
                    for r in active
                    if effective_status(r.status, relay.get(r.ticket_number or "")) != r.status
                }
                counts = {status: 0 for status in STATUSES}
                for status, n in db.execute(select(T.status, func.count()).group_by(T.status)):
                    counts[status] = counts.get(status, 0) + n
                for store_status, shown in ahead.values():
                    counts[store_status] -= 1
                    counts[shown] += 1
                counts["all"] = sum(counts[s] for s in STATUSES)

                stmt = select(T)
                if query.status != "all":
                    promoted = [i for i, (_store, shown) in ahead.items() if shown == query.status]
                    demoted = [i for i, (store, _shown) in ahead.items() if store == query.status]
                    keep = T.status == query.status
                    if demoted:
                        keep = keep & T.id.notin_(demoted)
                    stmt = stmt.where(or_(keep, T.id.in_(promoted)) if promoted else keep)
                if query.before is not None:
                    stmt = stmt.where(T.id < query.before)
                rows = list(db.scalars(stmt.order_by(T.id.desc()).limit(query.limit + 1)))
        except SQLAlchemyError as exc:
            raise Unavailable("the order store cannot be read; try again shortly") from exc
        page = rows[: query.limit]
        try:
            items = self._items(page, raw_text=raw_text)
        except SQLAlchemyError as exc:
            raise Unavailable(GATEWAY_DOWN) from exc
        return {
            "handoffs": items,
            "counts": counts,
            "next_cursor": str(page[-1].id) if len(rows) > query.limit else None,
            "redacted": not raw_text,
        }

    def _relay_statuses(self, tickets: Sequence[str]) -> dict[str, str]:
        """Gateway status of those ``tickets`` that the relay has moved past ``open``."""
        out: dict[str, str] = {}
        try:
            if not self._relay_exists():
                return out
            with self.sessions() as session:
                for chunk in _chunks(tickets):
                    rows = session.execute(
                        select(HandoffCase.ticket, HandoffCase.status).where(
                            HandoffCase.ticket.in_(chunk), HandoffCase.status != "open"
                        )
                    )
                    out.update((ticket, status) for ticket, status in rows)
        except SQLAlchemyError as exc:
            raise Unavailable(GATEWAY_DOWN) from exc
        return out

    def _relay_statuses_any(self, tickets: Sequence[str]) -> bool:
        """Whether the Slack desk has a case for any of ``tickets`` (whatever its status)."""
        try:
            if not self._relay_exists():
                return False
            with self.sessions() as session:
                found = session.scalar(select(HandoffCase.ticket).where(HandoffCase.ticket.in_(list(tickets))))
                return found is not None
        except SQLAlchemyError as exc:
            raise Unavailable(GATEWAY_DOWN) from exc

    def _items(self, rows: Sequence[shop.HandoffTicket], *, raw_text: bool) -> list[dict[str, Any]]:
        public = {r.conversation_id: self.pseudonyms.of(r.conversation_id) for r in rows}

        quoted: frozenset[str] = frozenset()

        def text(value: str | None) -> str | None:
            shown = scrub(value if raw_text or value is None else redact(value), public)
            # nor any other conversation's id, generated or chosen (console/tracker.py)
            return without_ids(shown, quoted) if shown else shown

        numbers = [_ticket_number(r) for r in rows]
        cases: dict[str, Any] = {}
        events: list[HandoffEvent] = []
        history: dict[str, list[dict[str, Any]]] = {n: [] for n in numbers}
        with self.sessions() as session:
            if self._relay_exists():
                cases = {
                    c.ticket: c for c in session.scalars(select(HandoffCase).where(HandoffCase.ticket.in_(numbers)))
                }
                events = list(
                    session.scalars(
                        select(HandoffEvent)
                        .where(HandoffEvent.ticket.in_(numbers))
                        .order_by(HandoffEvent.ticket, HandoffEvent.at, HandoffEvent.id)
                    )
                )
            replies = list(
                session.execute(
                    select(ConsoleReply, ConsoleUser.email)
                    .outerjoin(ConsoleUser, ConsoleUser.id == ConsoleReply.user_id)
                    .where(ConsoleReply.ticket.in_(numbers))
                    .order_by(ConsoleReply.at, ConsoleReply.id)
                )
            )
            said = [r.reason or "" for r in rows] + [r.summary or "" for r in rows] + [e.text or "" for e in events]
            said += [c.customer or "" for c in cases.values()] + [r.text for r, _email in replies]
            quoted = quoted_ids(session, said)
            for e in events:
                history[e.ticket].append({"at": _iso(e.at), "kind": e.kind, "actor": e.actor, "text": text(e.text)})
            for reply, email in replies:  # staff replies written in the console (kind as the desk's "staff")
                history[reply.ticket].append(
                    {
                        "at": _iso(reply.at),
                        "kind": "staff" if reply.delivered else "push_failed",
                        "actor": claimant(email or "a former user"),
                        "text": text(reply.text),
                    }
                )
            for lines in history.values():
                lines.sort(key=lambda line: line["at"] or "")
            conversations = {r.conversation_id for r in rows}
            known = set(
                session.scalars(
                    select(ConsoleConversation.sender_id).where(ConsoleConversation.sender_id.in_(conversations))
                )
            )
        try:
            photos = self.facts.photos_of_tickets(numbers)
            shops = self.facts.store_names() if any(r.store_id for r in rows) or cases else {}
        except ShopUnavailable as exc:
            raise Unavailable(str(exc)) from exc
        out = []
        for row, number in zip(rows, numbers, strict=True):
            case = cases.get(number)
            claimed = case is not None and case.claimed_by is not None
            store_id = row.store_id or (case.store_id if case else None)
            status = effective_status(row.status, case.status if case else None)
            out.append(
                {
                    "ticket": number,
                    "status": status,
                    "store_status": row.status,
                    "relayed": case is not None,
                    # Without the Slack desk the console takes the ticket: claim it, resolve it.
                    "can_claim": case is None and status == "open",
                    "can_resolve": case is None and status != "closed",
                    "channel": row.channel,
                    "conversation": public[row.conversation_id],
                    "transcript_url": transcript_url(public[row.conversation_id]),
                    "transcript_available": row.conversation_id in known,
                    "reason": text(row.reason),
                    "summary": text(row.summary),
                    # order numbers only, as the conversation list's orders field (console/tracker.py)
                    "order_number": order_number_value(row.order_number),
                    "customer": text(case.customer) if case and case.customer else None,
                    "store_id": store_id,
                    "store_name": shops.get(store_id) if store_id else None,
                    "photos": [photo_json(p, public[row.conversation_id]) for p in photos.get(number, [])],
                    # The gateway knows the claimer's display name; the store keeps "Name (Slack id)".
                    "claimed_by": (case.claimed_by_name or case.claimed_by) if case and claimed else row.assigned_to,
                    "claimed_at": _iso(case.claimed_at if case and claimed else row.assigned_at),
                    "created_at": _iso(row.created_at),
                    "closed_at": _iso(case.closed_at if case and case.closed_at else row.closed_at),
                    "closed_by": case.closed_by if case else None,
                    "history": history[number],
                }
            )
        return out


def claimant(who: str) -> str:
    """How the store records a console user's claim (``assigned_to``)."""
    return f"{who} (console)"


@dataclass(frozen=True)
class Resolved:
    """A ticket the console resolved: whose conversation to tell."""

    ticket: str
    conversation_id: str
    channel: str


class ConsoleDesk:
    """Claim and resolve tickets from the console, for tickets the Slack desk does not relay.

    With Slack the desk owns a relayed ticket's state (claims, the customer's messages, resolving) and the
    console only shows it; without Slack (or for a tablet's staff call, which never goes through the desk)
    the console is where staff take a ticket.
    """

    def __init__(self, queue: HandoffQueue) -> None:
        """Work on the queue's databases."""
        self.queue = queue
        self.store = OrderStore(sessionmaker(queue.shop_engine, expire_on_commit=False))

    def _ticket(self, number: str) -> HandoffTicket:
        if not number.startswith("HO-") or len(number) > 16:
            raise BadInput("not a ticket number", field="ticket")
        try:
            row = self.store.handoff(number)
        except SQLAlchemyError as exc:
            raise Unavailable("the order store cannot be read; try again shortly") from exc
        if row is None:
            raise NotFound(f"no ticket {number}")
        if self.queue._relay_statuses_any([number]):  # noqa: SLF001
            raise Conflict(f"{number} is handled in Slack: claim and resolve it there")
        return row

    def claim(self, number: str, who: str) -> None:
        """Mark an open ticket as taken by ``who`` (the console user's email).

        Raises:
            Conflict: already claimed or closed, or relayed through Slack.
        """
        row = self._ticket(number)
        if row.status != "open":
            raise Conflict(f"{number} is {row.status} already" + (f" ({row.assigned_to})" if row.assigned_to else ""))
        try:
            self.store.assign_handoff(number, claimant(who))
        except SQLAlchemyError as exc:
            raise Unavailable("the order store cannot be written; try again shortly") from exc

    def reply_target(self, number: str, who: str) -> Resolved:
        """Whose conversation ``who`` may reply to on ticket ``number``: only a ticket they claimed in the
        console and that is not closed (the Slack desk relays its own tickets' replies).

        Raises:
            Conflict: not claimed yet (claim it first), closed, or relayed through Slack.
            Forbidden: claimed by someone else.
        """
        row = self._ticket(number)
        if row.status == "closed":
            raise Conflict(f"{number} is closed: the customer is back with the assistant")
        if row.status != "assigned" or not row.assigned_to:
            raise Conflict(f"claim {number} before replying to the customer")
        if row.assigned_to != claimant(who):
            raise Forbidden(f"{number} is claimed by {row.assigned_to}: only they can reply")
        return Resolved(number, row.conversation_id, row.channel)

    def resolve(self, number: str, who: str, *, any_claim: bool = False) -> Resolved:
        """Close a ticket that is not closed yet: an open one, or one ``who`` claimed (any claimed one with
        ``any_claim``, a lead's or admin's right).

        Returns:
            Whose conversation it was, so the caller can tell the customer (and ask for a rating).

        Raises:
            Conflict: already closed, or relayed through Slack.
            Forbidden: claimed by someone else, and ``any_claim`` is not given.
        """
        row = self._ticket(number)
        if row.status == "closed":
            raise Conflict(f"{number} is closed already")
        if row.assigned_to and row.assigned_to != claimant(who) and not any_claim:
            raise Forbidden(f"{number} is claimed by {row.assigned_to}: only they or a lead can resolve it")
        try:
            self.store.close_handoff(number)
        except SQLAlchemyError as exc:
            raise Unavailable("the order store cannot be written; try again shortly") from exc
        return Resolved(number, row.conversation_id, row.channel)
