"""The console's HTTP routes on the gateway app: the page at ``/console`` and the JSON API under ``/api/console/``."""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from aiohttp import web
from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from connectors import safejson
from connectors.handoff.translate import agent_message, resolved_message
from connectors.keys import PUSH_KEY
from connectors.pages import hashed_csp
from connectors.push import PushFailed
from connectors.source import request_address
from connectors.text import strip_control_characters
from console.auth import PERMISSIONS, Auth, Viewer
from console.checks import paused_checks
from console.corrections import Vocabulary, correction_json, delete_correction, export_yaml, save_correction
from console.errors import BadInput, Conflict, ConsoleError, CsrfFailed, Forbidden, NotFound, TooManyAttempts
from console.handoffs import ConsoleDesk, HandoffQueue, QueueQuery, Resolved, claimant, scrub, scrub_all
from console.metrics import compute_metrics
from console.models import (
    ConsoleAssignment,
    ConsoleConversationCard,
    ConsoleCorrection,
    ConsoleNote,
    ConsoleReply,
    ConsoleTag,
    ConsoleUser,
)
from console.pseudonyms import Pseudonyms
from console.queries import DEFAULT_LIMIT, Filters, counts, list_page
from console.redact import redact
from console.settings import ConsoleSettings
from console.shop import ShopFacts, ShopUnavailable, photo_json
from console.tracker import KNOWN_CHANNELS, Indexer, quoted_ids, sender_events, without_ids
from console.transcript import build_transcript
from store.core import iso_utc, naive_utc_now
from store.service import OrderStore

log = logging.getLogger("console")

COOKIE = "console_session"
CSRF_HEADER = "X-CSRF-Token"
PAGE_FILE = Path(__file__).with_name("page.html")
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9 _-]{0,39}$")
MAX_NOTE_CHARS = 2000
#: The longest console reply to a customer (a Telegram message takes 4096, a Slack section 3000).
MAX_REPLY_CHARS = 2000
#: How a console reply is signed to the customer: staff emails are not the customer's to see.
REPLY_AGENT = "A colleague"
MAX_BULK = 200
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: What the list calls conversations that did not come through the gateway.
UNKNOWN_CHANNEL = (
    "not through the gateway: rasa's own REST channel or HTTP API (scripts, tests, rasa shell), "
    "so no channel was recorded"
)


@dataclass
class ConsoleState:
    """Everything the console's handlers share (one per gateway app)."""

    settings: ConsoleSettings
    auth: Auth
    sessions: sessionmaker[Session]
    tracker: Engine
    indexer: Indexer
    handoffs: HandoffQueue
    pseudonyms: Pseudonyms
    facts: ShopFacts
    desk: ConsoleDesk
    checks: OrderStore | None = None  # paused order checks (console/checks.py); None without an order store
    vocabulary_loader: Callable[[], Vocabulary] = Vocabulary.load
    _vocabulary: Vocabulary | None = field(default=None, repr=False)

    @property
    def vocabulary(self) -> Vocabulary:
        """Intents and entities of domain.yml, read on first use."""
        if self._vocabulary is None:
            self._vocabulary = self.vocabulary_loader()
        return self._vocabulary


STATE_KEY = web.AppKey("console_state", ConsoleState)
Handler = Callable[[web.Request, Viewer], Awaitable[web.StreamResponse]]


def _error(exc: ConsoleError) -> web.Response:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyAttempts) else None
    return web.json_response(exc.to_json(), status=exc.status, headers=headers)


def guarded(permission: str) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """Wrap an API handler: 401 without a live session, 403 without ``permission`` or (on POST/DELETE)
    without the session's CSRF token; console errors become JSON with their status."""

    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @functools.wraps(handler)
        async def run(request: web.Request) -> web.StreamResponse:
            state = request.app[STATE_KEY]
            try:
                viewer = await asyncio.to_thread(state.auth.viewer, request.cookies.get(COOKIE))
                if request.method in UNSAFE_METHODS:
                    supplied = request.headers.get(CSRF_HEADER, "")
                    if not hmac.compare_digest(supplied.encode(), viewer.csrf_token.encode()):
                        raise CsrfFailed(f"missing or wrong {CSRF_HEADER} header; reload the console")
                if not viewer.may(permission):
                    raise Forbidden(f"the {viewer.role} role may not do this")
                return await handler(request, viewer)
            except ConsoleError as exc:
                return _error(exc)

        return run

    return wrap


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(reason="send the body as application/json")
    raw = await request.read()
    try:
        body = safejson.loads(raw)
    except safejson.JsonRejected as exc:
        raise BadInput(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadInput("the body must be a JSON object")
    return body


def _sender(request: web.Request) -> str:
    """The sender id behind the route's console id (the console never takes or shows a sender id).

    Raises:
        NotFound: not a console id, or not one of an indexed conversation.
    """
    public = request.match_info["conversation"]
    state = request.app[STATE_KEY]
    with state.sessions() as session:
        sender = state.pseudonyms.resolve(session, public)
    if sender is None:
        raise NotFound("no such conversation")
    return sender


async def _resolve(request: web.Request) -> str:
    state = request.app[STATE_KEY]
    await asyncio.to_thread(state.indexer.refresh)
    return await asyncio.to_thread(_sender, request)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def _without_ids_all(value: Any, ids: frozenset[str]) -> Any:
    """:func:`without_ids` on every string inside ``value``."""
    if isinstance(value, str):
        return without_ids(value, ids)
    if isinstance(value, list):
        return [_without_ids_all(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _without_ids_all(v, ids) for k, v in value.items()}
    return value


def _filters(request: web.Request, viewer: Viewer) -> Filters:
    state = request.app[STATE_KEY]
    return Filters.parse(request.query, zone=state.settings.timezone, viewer_id=viewer.user_id)


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", str(DEFAULT_LIMIT))
    if not _small_number(raw, 6):
        raise BadInput("'limit' must be a number", field="limit")
    return int(raw)


def _small_number(raw: str, digits: int) -> bool:
    """Whether ``raw`` is 1 to ``digits`` ASCII digits (``str.isdigit`` also accepts '²', which ``int`` refuses)."""
    return 0 < len(raw) <= digits and raw.isascii() and raw.isdigit()


class ConsolePage:
    """The single-page app, with a CSP that allows only its own inline script and style."""

    def __init__(self) -> None:
        """Read the page and hash its inline blocks."""
        html = PAGE_FILE.read_text(encoding="utf-8")
        self.body = html.encode("utf-8")
        self.csp = hashed_csp(html, img_src="'self' data:", connect_src="'self'", frame_ancestors="'none'")

    async def serve(self, _request: web.Request) -> web.Response:
        """``GET /console``."""
        return web.Response(
            body=self.body,
            content_type="text/html",
            charset="utf-8",
            headers={
                "Content-Security-Policy": self.csp,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-store",
                "X-Frame-Options": "DENY",
            },
        )


async def login(request: web.Request) -> web.Response:
    """``POST /api/console/login`` ``{"email", "password"}``: sets the session cookie.

    Returns:
        200 ``{"email", "role", "permissions", "csrf_token"}``; 401 wrong credentials; 429 rate limited.
    """
    state = request.app[STATE_KEY]
    try:
        body = await _json_body(request)
        email, password = body.get("email"), body.get("password")
        if not isinstance(email, str) or not isinstance(password, str) or len(password) > 1024:
            raise BadInput("'email' and 'password' must be strings")
        # The source as the web channel counts it (a trusted proxy's X-Forwarded-For, an IPv6 /64, loopback
        # as one): per (account, source) backoff must not be escaped by picking a new address per attempt.
        client = request_address(request, state.settings.trusted_proxies)
        signed = await asyncio.to_thread(state.auth.sign_in, email, password, client)
    except ConsoleError as exc:
        return _error(exc)
    response = web.json_response(_me(signed.viewer, state.settings))
    response.set_cookie(
        COOKIE,
        signed.token,
        httponly=True,
        samesite="Strict",
        secure=state.settings.secure_cookie,
        path="/",
        max_age=state.settings.session_max_hours * 3600,
    )
    return response


def _me(viewer: Viewer, settings: ConsoleSettings) -> dict[str, Any]:
    return {
        "email": viewer.email,
        "role": viewer.role,
        "permissions": sorted(PERMISSIONS[viewer.role]),
        "csrf_token": viewer.csrf_token,
        # the page shows times and takes dates in the shop's locale and time zone, whatever the browser's
        "shop": {"locale": settings.locale, "timezone": settings.timezone},
        "channels": {"known": list(KNOWN_CHANNELS), "unknown": UNKNOWN_CHANNEL},
    }


@guarded("read")
async def logout(request: web.Request, _viewer: Viewer) -> web.Response:
    """``POST /api/console/logout``: ends the session and clears the cookie."""
    await asyncio.to_thread(request.app[STATE_KEY].auth.sign_out, request.cookies.get(COOKIE, ""))
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


@guarded("read")
async def me(request: web.Request, viewer: Viewer) -> web.Response:
    """``GET /api/console/me``: who is signed in, their permissions, the CSRF token and the shop's locale."""
    return web.json_response(_me(viewer, request.app[STATE_KEY].settings))


@guarded("read")
async def conversations(request: web.Request, viewer: Viewer) -> web.Response:
    """``GET /api/console/conversations``: one page, newest activity first (filters as query parameters)."""
    state = request.app[STATE_KEY]
    filters = _filters(request, viewer)
    limit, cursor = _limit(request), request.query.get("cursor") or None
    await asyncio.to_thread(state.indexer.refresh)
    raw = viewer.may("raw_text")

    def run() -> dict[str, Any]:
        with state.sessions() as session:
            page = list_page(session, filters, raw_text=raw, limit=limit, cursor=cursor)
        rows = page["conversations"]
        senders = [row.pop("sender") for row in rows]
        try:
            # Only verified conversations have a customer, only handed-off ones a ticket: ask for those alone.
            customers = state.facts.customers([s for r, s in zip(rows, senders, strict=True) if r["verified"]])
            tickets = state.facts.tickets([s for r, s in zip(rows, senders, strict=True) if r["handed_off"]])
            shops = state.facts.store_names() if any(r["store_id"] for r in rows) else {}
            page["shop_readable"] = True
        except ShopUnavailable:  # names and hand-off statuses are extra: the list still answers
            log.warning("the order store cannot be read: the conversation list is shown without names and tickets")
            customers, tickets, shops = {}, {}, {}
            page["shop_readable"] = False
        for row, sender in zip(rows, senders, strict=True):
            row["preview"] = scrub(row["preview"], {sender: row["id"]})  # a customer quoting their own id
            row["who"] = _who(row, sender, customers.get(sender), shops, raw=raw)
            ticket = tickets.get(sender)
            row["handoff"] = (
                {"ticket": ticket.ticket, "status": ticket.status, "claimed_by": ticket.assigned_to} if ticket else None
            )
            row["status"] = _status(row, ticket.status if ticket else None)
        return page

    return web.json_response(await asyncio.to_thread(run))


def _who(row: dict[str, Any], sender: str, customer: Any, shops: dict[str, str], *, raw: bool) -> str:
    """Who the customer is, as far as the console may say: the verified customer's name (first name and
    initial unless the viewer is an admin), else the channel's handle; never the web conversation id."""
    channel, _sep, rest = sender.partition(":")
    if row["channel"] == "tablet":
        store = row.get("store_id")
        where = f"the tablet in {shops.get(store, store)}" if store else "a tablet"
        return f"{customer.shown(raw=raw)} at {where}" if customer is not None else f"shopper at {where}"
    if customer is not None:
        return str(customer.shown(raw=raw))
    if row["channel"] == "slack":
        user = rest.split("-")[1] if rest.count("-") >= 1 else rest
        return f"Slack user {user}"
    if row["channel"] == "telegram" and channel == "telegram":
        return f"Telegram user {rest}" if raw else f"Telegram user \u2026{rest[-4:]}"
    if row["channel"] == "web":
        return "web visitor (not verified)"
    return "unknown sender (not through the gateway)"


def _status(row: dict[str, Any], ticket_status: str | None) -> str:
    """One phrase for the list: where the conversation ended up."""
    if ticket_status == "open":
        return "open hand-off"
    if ticket_status == "assigned":
        return "hand-off in progress"
    if ticket_status == "closed":
        return "resolved by a person"
    if row["fallbacks"]:
        return "fallback" + (f" \u00d7{row['fallbacks']}" if row["fallbacks"] > 1 else "")
    return "answered by the assistant"


@guarded("read")
async def conversation_counts(request: web.Request, viewer: Viewer) -> web.Response:
    """``GET /api/console/counts``: totals and per-value counts for the same filters."""
    state = request.app[STATE_KEY]
    filters = _filters(request, viewer)
    await asyncio.to_thread(state.indexer.refresh)

    def run() -> dict[str, Any]:
        with state.sessions() as session:
            out = counts(session, filters, raw_text=viewer.may("raw_text"))
        out["applied"] = filters.applied()
        return out

    return web.json_response(await asyncio.to_thread(run))


@guarded("read")
async def transcript(request: web.Request, viewer: Viewer) -> web.Response:
    """``GET /api/console/conversations/{sender_id}``: the transcript, tags, notes and corrections."""
    state = request.app[STATE_KEY]
    raw = viewer.may("raw_text")
    below = request.query.get("below", str(state.settings.low_confidence))
    if not _small_number(below, 3) or not 1 <= int(below) <= 100:
        raise BadInput("'below' must be a percentage from 1 to 100", field="below")
    sender = await _resolve(request)
    public = state.pseudonyms.of(sender)

    def run() -> dict[str, Any]:
        events = sender_events(state.tracker, sender)
        if not events:
            raise NotFound("no such conversation")
        with state.sessions() as session:
            rows = session.scalars(select(ConsoleCorrection).where(ConsoleCorrection.sender_id == sender)).all()
            ids = quoted_ids(session, [r.text for r in rows], [sender])
            corrections = {r.event_id: correction_json(r, raw_text=raw, public_id=public, ids=ids) for r in rows}
            tags = list(
                session.scalars(select(ConsoleTag.tag).where(ConsoleTag.sender_id == sender).order_by(ConsoleTag.tag))
            )
            notes = [
                {"id": n.id, "text": n.text, "created_at": n.created_at.isoformat(timespec="seconds")}
                for n in session.scalars(
                    select(ConsoleNote).where(ConsoleNote.sender_id == sender).order_by(ConsoleNote.id)
                )
            ]
            assigned = session.scalar(
                select(ConsoleUser.email)
                .join(ConsoleAssignment, ConsoleAssignment.user_id == ConsoleUser.id)
                .where(ConsoleAssignment.sender_id == sender)
            )
            card = session.get(ConsoleConversationCard, sender)
            replies = [
                {
                    "time": iso_utc(reply.at),
                    "ticket": reply.ticket,
                    "by": claimant(email) if email else "a former user (console)",
                    "text": reply.text if raw else redact(reply.text),
                    "delivered": reply.delivered,
                }
                for reply, email in session.execute(
                    select(ConsoleReply, ConsoleUser.email)
                    .outerjoin(ConsoleUser, ConsoleUser.id == ConsoleReply.user_id)
                    .where(ConsoleReply.sender_id == sender)
                    .order_by(ConsoleReply.at, ConsoleReply.id)
                )
            ]
        out = build_transcript(public, events, raw_text=raw, low_confidence=int(below) / 100, corrections=corrections)
        out.pop("sender_id", None)  # build_transcript was given the console id; the answer calls it "id"
        store_id = card.store_id if card else None
        try:
            customer = state.facts.customers([sender]).get(sender)
            ticket = state.facts.tickets([sender]).get(sender)
            photos = state.facts.photos_of_conversations([sender]).get(sender, [])
            shops = state.facts.store_names() if store_id else {}
        except ShopUnavailable:
            customer, ticket, photos, shops = None, None, [], {}
        out.update(
            id=public,
            tags=tags,
            notes=notes,
            redacted=not raw,
            assigned_to=assigned,
            customer=customer.shown(raw=raw) if customer else None,
            who=_who({"channel": out["channel"], "store_id": store_id}, sender, customer, shops, raw=raw),
            handoff={"ticket": ticket.ticket, "status": ticket.status} if ticket else None,
            photos=[photo_json(p, public) for p in photos],
            staff_replies=replies,
        )
        out = cast("dict[str, Any]", scrub_all(out, {sender: public}))  # the conversation's own id never shows
        # ... nor another conversation's id a customer quoted (as the index, which never stores them)
        with state.sessions() as session:
            quoted = quoted_ids(session, _strings(out["turns"]) + _strings(out["staff_replies"]))
        out["turns"] = _without_ids_all(out["turns"], quoted)
        out["staff_replies"] = _without_ids_all(out["staff_replies"], quoted)
        return out

    try:
        return web.json_response(await asyncio.to_thread(run))
    except ConsoleError as exc:
        return _error(exc)


def _add_tag(state: ConsoleState, sender: str, tag: str, user_id: int) -> None:
    with state.sessions() as session, session.begin():
        exists = session.scalar(select(ConsoleTag.id).where(ConsoleTag.sender_id == sender, ConsoleTag.tag == tag))
        if exists is None:
            session.add(ConsoleTag(sender_id=sender, tag=tag, user_id=user_id, created_at=_now()))


def _assign(state: ConsoleState, senders: list[str], viewer: Viewer, *, to_me: bool) -> None:
    """Claim (``to_me``) or release conversations, all or none, by the hand-off tickets' rules (R2-4).

    Anyone may take a conversation nobody looks after and release their own; taking or releasing one someone
    else looks after needs ``assign_any`` (leads, admins). Checked and written in one transaction.

    Raises:
        Conflict: an agent claiming a conversation someone else looks after (as claiming a taken ticket).
        Forbidden: an agent releasing someone else's (as resolving someone else's ticket).
    """
    try:
        with state.sessions() as session, session.begin():
            held = {
                a.sender_id: a
                for a in session.scalars(select(ConsoleAssignment).where(ConsoleAssignment.sender_id.in_(senders)))
            }
            others = {a.user_id for a in held.values() if a.user_id != viewer.user_id}
            if others and not viewer.may("assign_any"):
                names = sorted(session.scalars(select(ConsoleUser.email).where(ConsoleUser.id.in_(others))))
                whose = ", ".join(names) or "someone else"
                if to_me:
                    raise Conflict(f"already looked after by {whose}: only they or a lead can hand it on")
                raise Forbidden(f"looked after by {whose}: only they or a lead can release it")
            for sender in senders:
                row = held.get(sender)
                if not to_me:
                    if row is not None:
                        session.delete(row)
                elif row is None:
                    session.add(ConsoleAssignment(sender_id=sender, user_id=viewer.user_id, assigned_at=_now()))
                elif row.user_id != viewer.user_id:
                    row.user_id, row.assigned_at = viewer.user_id, _now()
    except IntegrityError:  # someone claimed one of them meanwhile
        raise Conflict("someone else has just claimed it; reload") from None


def _tag_of(value: object) -> str:
    if not isinstance(value, str) or not TAG_RE.match(value.strip().lower()):
        raise BadInput("a tag is 1-40 lower-case letters, digits, spaces, - or _", field="tag")
    return value.strip().lower()


@guarded("annotate")
async def add_tag(request: web.Request, viewer: Viewer) -> web.Response:
    """``POST /api/console/conversations/{sender_id}/tags`` ``{"tag"}``."""
    state = request.app[STATE_KEY]
    tag = _tag_of((await _json_body(request)).get("tag"))
    sender = await _resolve(request)
    await asyncio.to_thread(_add_tag, state, sender, tag, viewer.user_id)
    return web.json_response({"conversation": state.pseudonyms.of(sender), "tag": tag}, status=201)


@guarded("annotate")
async def remove_tag(request: web.Request, _viewer: Viewer) -> web.Response:
    """``DELETE /api/console/conversations/{sender_id}/tags/{tag}``."""
    state, tag = request.app[STATE_KEY], request.match_info["tag"]
    sender = await _resolve(request)

    def run() -> None:
        with state.sessions() as session, session.begin():
            session.execute(delete(ConsoleTag).where(ConsoleTag.sender_id == sender, ConsoleTag.tag == tag))

    await asyncio.to_thread(run)
    return web.json_response({"ok": True})


@guarded("annotate")
async def add_note(request: web.Request, viewer: Viewer) -> web.Response:
    """``POST /api/console/conversations/{sender_id}/notes`` ``{"text"}``."""
    state = request.app[STATE_KEY]
    text = (await _json_body(request)).get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_NOTE_CHARS:
        raise BadInput(f"a note is 1 to {MAX_NOTE_CHARS} characters", field="text")
    sender = await _resolve(request)

    def run() -> int:
        with state.sessions() as session, session.begin():
            note = ConsoleNote(sender_id=sender, text=text.strip(), user_id=viewer.user_id, created_at=_now())
            session.add(note)
            session.flush()
            return note.id

    return web.json_response({"id": await asyncio.to_thread(run), "text": text.strip()}, status=201)


@guarded("correct")
async def add_correction(request: web.Request, viewer: Viewer) -> web.Response:
    """``POST /api/console/conversations/{sender_id}/corrections`` ``{"event_id", "intent", "entities"?}``."""
    state = request.app[STATE_KEY]
    body = await _json_body(request)
    event_id = body.get("event_id")
    if not isinstance(event_id, int) or isinstance(event_id, bool):
        raise BadInput("'event_id' must be the id of a user message", field="event_id")
    sender = await _resolve(request)
    saved = await asyncio.to_thread(
        lambda: save_correction(
            state.sessions,
            state.tracker,
            state.vocabulary,
            sender_id=sender,
            event_id=event_id,
            intent=body.get("intent"),
            entities=body.get("entities"),
            user_id=viewer.user_id,
        )
    )
    if not viewer.may("raw_text"):
        saved["example"] = None  # the caller may not see the raw example; the list endpoint shows it redacted
    saved["conversation"] = state.pseudonyms.of(sender)
    return web.json_response(saved, status=201)


@guarded("correct")
async def undo_correction(request: web.Request, _viewer: Viewer) -> web.Response:
    """``DELETE /api/console/conversations/{conversation}/corrections/{event_id}``: undo a correction."""
    state = request.app[STATE_KEY]
    raw_id = request.match_info["event_id"]
    if not raw_id.isdigit() or len(raw_id) > 18:
        raise BadInput("'event_id' must be the id of a user message", field="event_id")
    sender = await _resolve(request)
    await asyncio.to_thread(lambda: delete_correction(state.sessions, sender_id=sender, event_id=int(raw_id)))
    return web.json_response({"ok": True, "event_id": int(raw_id)})


@guarded("annotate")
async def assign(request: web.Request, viewer: Viewer) -> web.Response:
    """``POST /api/console/conversations/{conversation}/assign`` ``{"to": "me" | null}``: claim or release it."""
    state = request.app[STATE_KEY]
    to = (await _json_body(request)).get("to")
    if to not in ("me", None):
        raise BadInput("'to' must be \"me\" (claim it) or null (release it)", field="to")
    sender = await _resolve(request)
    await asyncio.to_thread(functools.partial(_assign, state, [sender], viewer, to_me=to == "me"))
    return web.json_response(
        {"conversation": state.pseudonyms.of(sender), "assigned_to": viewer.email if to == "me" else None}
    )


@guarded("annotate")
async def bulk(request: web.Request, viewer: Viewer) -> web.Response:
    """``POST /api/console/bulk`` ``{"ids": [...], "tag"?, "untag"?, "assign"?: "me" | null}``: review many at once.

    Every id must be a conversation the console knows, or nothing changes (404 naming how many were unknown).
    """
    state = request.app[STATE_KEY]
    body = await _json_body(request)
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or len(ids) > MAX_BULK or not all(isinstance(i, str) for i in ids):
        raise BadInput(f"'ids' must be a list of 1 to {MAX_BULK} conversation ids", field="ids")
    tag = _tag_of(body["tag"]) if body.get("tag") is not None else None
    untag = _tag_of(body["untag"]) if body.get("untag") is not None else None
    if "assign" in body and body["assign"] not in ("me", None):
        raise BadInput("'assign' must be \"me\" or null", field="assign")
    if tag is None and untag is None and "assign" not in body:
        raise BadInput("say what to do: 'tag', 'untag' or 'assign'")
    await asyncio.to_thread(state.indexer.refresh)

    def run() -> int:
        with state.sessions() as session:
            senders = state.pseudonyms.resolve_many(session, ids)
        unknown = len(set(ids)) - len(senders)
        if unknown:
            raise NotFound(f"{unknown} of those conversations do not exist (nothing was changed)")
        if "assign" in body:  # first: refused for one (someone else's), nothing changes
            _assign(state, list(senders.values()), viewer, to_me=body["assign"] == "me")
        for sender in senders.values():
            if tag is not None:
                _add_tag(state, sender, tag, viewer.user_id)
            if untag is not None:
                with state.sessions() as session, session.begin():
                    session.execute(delete(ConsoleTag).where(ConsoleTag.sender_id == sender, ConsoleTag.tag == untag))
        return len(senders)

    return web.json_response({"updated": await asyncio.to_thread(run)})


@guarded("export")
async def list_corrections(request: web.Request, viewer: Viewer) -> web.Response:
    """``GET /api/console/corrections``: every correction (examples redacted unless admin)."""
    state = request.app[STATE_KEY]

    def run() -> list[dict[str, Any]]:
        with state.sessions() as session:
            rows = session.scalars(select(ConsoleCorrection).order_by(ConsoleCorrection.id)).all()
            ids = quoted_ids(session, [r.text for r in rows], [r.sender_id for r in rows])
            return [
                correction_json(r, raw_text=viewer.may("raw_text"), public_id=state.pseudonyms.of(r.sender_id), ids=ids)
                for r in rows
            ]

    return web.json_response({"corrections": await asyncio.to_thread(run)})


@guarded("export")
async def export_corrections(request: web.Request, viewer: Viewer) -> web.Response:
    """``GET /api/console/corrections/export``: the corrections as Rasa NLU YAML (a download)."""
    state = request.app[STATE_KEY]
    text, n = await asyncio.to_thread(export_yaml, state.sessions, raw_text=viewer.may("raw_text"))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return web.Response(
        text=text,
        content_type="application/x-yaml",
        headers={
            "Content-Disposition": f'attachment; filename="console-corrections-{stamp}.yml"',
            "X-Examples": str(n),
            "Cache-Control": "no-store",
        },
    )


@guarded("metrics")
async def metrics(request: web.Request, viewer: Viewer) -> web.Response:
    """``GET /api/console/metrics``: rates, series, ratings and SVG charts for the filtered conversations.

    ``applied`` in the answer lists the filters that narrowed it (the page offers "all conversations").
    """
    state = request.app[STATE_KEY]
    filters = _filters(request, viewer)
    await asyncio.to_thread(state.indexer.refresh)

    def run() -> dict[str, Any]:
        try:
            ratings = [
                replace(r, comment=scrub(r.comment, {r.conversation_id: state.pseudonyms.of(r.conversation_id)}))
                for r in state.facts.ratings()
            ]
            readable = True
        except ShopUnavailable:
            ratings, readable = [], False
        with state.sessions() as session:
            out = compute_metrics(session, filters, ratings=ratings, raw_text=viewer.may("raw_text"))
        out["ratings"]["readable"] = readable
        return out

    return web.json_response(await asyncio.to_thread(run))


@guarded("read")
async def handoffs(request: web.Request, viewer: Viewer) -> web.Response:
    """``GET /api/console/handoffs?status=open|assigned|closed|all&limit&cursor``: the hand-off queue.

    Newest ticket first, each with its history; summaries and history redacted unless the viewer is an admin.
    """
    state = request.app[STATE_KEY]
    query = QueueQuery.parse(request.query)
    # The index says which conversations still have a transcript to link to.
    await asyncio.to_thread(state.indexer.refresh)
    page = await asyncio.to_thread(state.handoffs.page, query, raw_text=viewer.may("raw_text"))
    for item in page["handoffs"]:
        mine = item["claimed_by"] == claimant(viewer.email)
        # whoever claimed a ticket in the console replies there (ConsoleDesk.reply_target says why not otherwise)
        item["can_reply"] = not item["relayed"] and item["store_status"] == "assigned" and mine
        if not viewer.may("resolve_any"):
            # an agent resolves open tickets and their own claims (ConsoleDesk.resolve says why not otherwise)
            item["can_resolve"] = item["can_resolve"] and (item["store_status"] == "open" or mine)
    return web.json_response(page)


def _ticket_number(request: web.Request) -> str:
    number = request.match_info["ticket"]
    if not number.startswith("HO-") or not number[3:].isdigit() or len(number) > 16:
        raise NotFound("no such ticket")
    return number


@guarded("annotate")
async def claim_handoff(request: web.Request, viewer: Viewer) -> web.Response:
    """``POST /api/console/handoffs/{ticket}/claim`` ``{}``: take an open ticket (one the Slack desk does not relay)."""
    state = request.app[STATE_KEY]
    number = _ticket_number(request)
    await _json_body(request)  # JSON only, like every console POST: a form or text/plain body (CSRF) is 415
    await asyncio.to_thread(state.desk.claim, number, viewer.email)
    return web.json_response({"ticket": number, "status": "assigned", "claimed_by": f"{viewer.email} (console)"})


@guarded("annotate")
async def resolve_handoff(request: web.Request, viewer: Viewer) -> web.Response:
    """``POST /api/console/handoffs/{ticket}/resolve`` ``{}``: close a ticket and tell the customer (asking for a
    rating).

    The customer's channel gets the same sentence as after a Slack resolve, plus (on the web) the rating card.
    A customer who cannot be reached any more (a wiped tablet session) does not stop the ticket closing. A ticket
    someone claimed is resolved by them, or by a lead or admin (403 otherwise).
    """
    state = request.app[STATE_KEY]
    number = _ticket_number(request)
    await _json_body(request)  # JSON only, like every console POST
    resolved = await asyncio.to_thread(
        functools.partial(state.desk.resolve, number, viewer.email, any_claim=viewer.may("resolve_any"))
    )
    told = await _tell_resolved(request.app, resolved)
    log.info("ticket %s resolved in the console by user %s (customer told: %s)", number, viewer.user_id, told)
    return web.json_response({"ticket": number, "status": "closed", "customer_told": told})


@guarded("annotate")
async def reply_handoff(request: web.Request, viewer: Viewer) -> web.Response:
    """``POST /api/console/handoffs/{ticket}/reply`` ``{"text"}``: write to the customer of a ticket you claimed.

    Goes to the customer's channel as a Slack desk reply does (``agent_message``, signed `REPLY_AGENT`) and is
    kept (``console_replies``) for the transcript and the ticket's history, delivered or not. 409 before a claim
    or after closing, 403 on someone else's claim; ``delivered`` false when the channel could not be reached
    (a wiped tablet session, a channel that is not configured).
    """
    state = request.app[STATE_KEY]
    number = _ticket_number(request)
    text = (await _json_body(request)).get("text")
    if not isinstance(text, str) or len(text) > MAX_REPLY_CHARS:
        raise BadInput(f"a reply is 1 to {MAX_REPLY_CHARS} characters", field="text")
    # As a customer's message is cleaned: a bidi override or control character would make the staff line
    # read differently in the customer's chat from what the transcript keeps (red-team round 4).
    text = strip_control_characters(text).strip()
    if not text:
        raise BadInput(f"a reply is 1 to {MAX_REPLY_CHARS} characters", field="text")
    target = await asyncio.to_thread(state.desk.reply_target, number, viewer.email)
    try:
        await request.app[PUSH_KEY].push(target.conversation_id, [agent_message(REPLY_AGENT, text)])
        delivered = True
    except PushFailed as exc:
        log.warning("console reply on %s not delivered: %s", number, exc)
        delivered = False

    def record() -> None:
        with state.sessions() as session, session.begin():
            session.add(
                ConsoleReply(
                    ticket=number,
                    sender_id=target.conversation_id,
                    user_id=viewer.user_id,
                    text=text,
                    delivered=delivered,
                    at=_now(),
                )
            )

    await asyncio.to_thread(record)
    log.info("ticket %s: console reply by user %s (delivered: %s)", number, viewer.user_id, delivered)
    return web.json_response({"ticket": number, "delivered": delivered}, status=201)


async def _tell_resolved(app: web.Application, resolved: Resolved) -> bool:
    # The same sentence as after a Slack resolve; its "handoff_resolved" payload makes the widget ask for a rating.
    messages = [resolved_message(resolved.ticket)]
    try:
        await app[PUSH_KEY].push(resolved.conversation_id, messages)
    except PushFailed as exc:
        log.info("could not tell the customer of %s it was resolved: %s", resolved.ticket, exc)
        return False
    return True


@guarded("read")
async def photo(request: web.Request, _viewer: Viewer) -> web.StreamResponse:
    """``GET /api/console/photos/{id}``: a customer's photo, for signed-in staff only (never cached, never framed)."""
    state = request.app[STATE_KEY]
    raw_id = request.match_info["photo_id"]
    if not raw_id.isdigit() or len(raw_id) > 18:
        raise NotFound("no such photo")
    found = await asyncio.to_thread(state.facts.photo, int(raw_id))
    if found is None:
        raise NotFound("no such photo")
    return web.Response(
        body=found.data,
        content_type=found.info.content_type,
        headers={
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Content-Disposition": f'inline; filename="photo-{found.info.photo_id}"',
        },
    )


@guarded("read")
async def security_checks(request: web.Request, viewer: Viewer) -> web.Response:
    """``GET /api/console/security/paused-checks``: order numbers and sources whose self-service checks are
    paused after failed proofs (someone guessing), newest first; sources fingerprinted unless admin, proofs always."""
    state = request.app[STATE_KEY]
    if state.checks is None:
        raise NotFound("no order store is configured for this console")
    shown = await asyncio.to_thread(
        paused_checks, state.checks, raw=viewer.may("raw_text"), secret=state.settings.secret
    )
    return web.json_response(shown)


@guarded("read")
async def vocabulary(request: web.Request, _viewer: Viewer) -> web.Response:
    """``GET /api/console/vocabulary``: intents and entities a correction may use."""
    vocab = request.app[STATE_KEY].vocabulary
    return web.json_response({"intents": sorted(vocab.intents), "entities": sorted(vocab.entities)})


def _now() -> datetime:
    return naive_utc_now()


def add_routes(app: web.Application) -> None:
    """Register the console's routes on the gateway app."""
    page = ConsolePage()
    r = app.router
    r.add_get("/console", page.serve)
    r.add_post("/api/console/login", login)
    r.add_post("/api/console/logout", logout)
    r.add_get("/api/console/me", me)
    r.add_get("/api/console/vocabulary", vocabulary)
    r.add_get("/api/console/conversations", conversations)
    r.add_get("/api/console/counts", conversation_counts)
    r.add_get("/api/console/conversations/{conversation}", transcript)
    r.add_post("/api/console/conversations/{conversation}/tags", add_tag)
    r.add_delete("/api/console/conversations/{conversation}/tags/{tag}", remove_tag)
    r.add_post("/api/console/conversations/{conversation}/notes", add_note)
    r.add_post("/api/console/conversations/{conversation}/corrections", add_correction)
    r.add_delete("/api/console/conversations/{conversation}/corrections/{event_id}", undo_correction)
    r.add_post("/api/console/conversations/{conversation}/assign", assign)
    r.add_post("/api/console/bulk", bulk)
    r.add_get("/api/console/corrections", list_corrections)
    r.add_get("/api/console/corrections/export", export_corrections)
    r.add_get("/api/console/metrics", metrics)
    r.add_get("/api/console/handoffs", handoffs)
    r.add_get("/api/console/security/paused-checks", security_checks)
    r.add_post("/api/console/handoffs/{ticket}/claim", claim_handoff)
    r.add_post("/api/console/handoffs/{ticket}/resolve", resolve_handoff)
    r.add_post("/api/console/handoffs/{ticket}/reply", reply_handoff)
    r.add_get("/api/console/photos/{photo_id}", photo)
