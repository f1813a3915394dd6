"""The console's HTTP routes on the gateway app: the page at ``/console`` and the JSON API under ``/api/console/``."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from connectors import safejson
from console.auth import PERMISSIONS, Auth, Viewer
from console.checks import paused_checks
from console.corrections import Vocabulary, correction_json, export_yaml, save_correction
from console.errors import BadInput, ConsoleError, CsrfFailed, Forbidden, NotFound, TooManyAttempts
from console.handoffs import HandoffQueue, QueueQuery
from console.metrics import compute_metrics
from console.models import ConsoleConversation, ConsoleCorrection, ConsoleNote, ConsoleTag
from console.queries import DEFAULT_LIMIT, Filters, counts, list_page
from console.settings import ConsoleSettings
from console.tracker import Indexer, sender_events
from console.transcript import build_transcript
from store.service import OrderStore

COOKIE = "console_session"
CSRF_HEADER = "X-CSRF-Token"
PAGE_FILE = Path(__file__).with_name("page.html")
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9 _-]{0,39}$")
MAX_NOTE_CHARS = 2000
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class ConsoleState:
    """Everything the console's handlers share (one per gateway app)."""

    settings: ConsoleSettings
    auth: Auth
    sessions: sessionmaker[Session]
    tracker: Engine
    indexer: Indexer
    handoffs: HandoffQueue
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
    sender = request.match_info["sender_id"]
    if not sender or len(sender) > 255:
        raise BadInput("bad conversation id", field="sender_id")
    return sender


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
        hashes: dict[str, list[str]] = {"script": [], "style": []}
        for tag, body in _INLINE.findall(html):
            digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
            hashes[tag].append(f"'sha256-{digest}'")
        self.body = html.encode("utf-8")
        self.csp = (
            "default-src 'none'; "
            f"script-src {' '.join(hashes['script'])}; style-src {' '.join(hashes['style'])}; "
            "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )

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
        signed = await asyncio.to_thread(state.auth.sign_in, email, password, request.remote or "unknown")
    except ConsoleError as exc:
        return _error(exc)
    response = web.json_response(_me(signed.viewer))
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


def _me(viewer: Viewer) -> dict[str, Any]:
    return {
        "email": viewer.email,
        "role": viewer.role,
        "permissions": sorted(PERMISSIONS[viewer.role]),
        "csrf_token": viewer.csrf_token,
    }


@guarded("read")
async def logout(request: web.Request, _viewer: Viewer) -> web.Response:
    """``POST /api/console/logout``: ends the session and clears the cookie."""
    await asyncio.to_thread(request.app[STATE_KEY].auth.sign_out, request.cookies.get(COOKIE, ""))
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


@guarded("read")
async def me(_request: web.Request, viewer: Viewer) -> web.Response:
    """``GET /api/console/me``: who is signed in, their permissions and the CSRF token."""
    return web.json_response(_me(viewer))


@guarded("read")
async def conversations(request: web.Request, viewer: Viewer) -> web.Response:
    """``GET /api/console/conversations``: one page, newest activity first (filters as query parameters)."""
    state = request.app[STATE_KEY]
    filters = Filters.parse(request.query)
    limit, cursor = _limit(request), request.query.get("cursor") or None
    await asyncio.to_thread(state.indexer.refresh)

    def run() -> dict[str, Any]:
        with state.sessions() as session:
            return list_page(session, filters, raw_text=viewer.may("raw_text"), limit=limit, cursor=cursor)

    return web.json_response(await asyncio.to_thread(run))


@guarded("read")
async def conversation_counts(request: web.Request, viewer: Viewer) -> web.Response:
    """``GET /api/console/counts``: totals and per-value counts for the same filters."""
    state = request.app[STATE_KEY]
    filters = Filters.parse(request.query)
    await asyncio.to_thread(state.indexer.refresh)

    def run() -> dict[str, Any]:
        with state.sessions() as session:
            return counts(session, filters, raw_text=viewer.may("raw_text"))

    return web.json_response(await asyncio.to_thread(run))


@guarded("read")
async def transcript(request: web.Request, viewer: Viewer) -> web.Response:
    """``GET /api/console/conversations/{sender_id}``: the transcript, tags, notes and corrections."""
    state = request.app[STATE_KEY]
    sender = _sender(request)
    raw = viewer.may("raw_text")
    below = request.query.get("below", str(state.settings.low_confidence))
    if not _small_number(below, 3) or not 1 <= int(below) <= 100:
        raise BadInput("'below' must be a percentage from 1 to 100", field="below")

    def run() -> dict[str, Any]:
        events = sender_events(state.tracker, sender)
        if not events:
            raise NotFound("no such conversation")
        with state.sessions() as session:
            rows = session.scalars(select(ConsoleCorrection).where(ConsoleCorrection.sender_id == sender)).all()
            corrections = {r.event_id: correction_json(r, raw_text=raw) for r in rows}
            tags = list(
                session.scalars(select(ConsoleTag.tag).where(ConsoleTag.sender_id == sender).order_by(ConsoleTag.tag))
            )
            notes = [
                {"id": n.id, "text": n.text, "created_at": n.created_at.isoformat(timespec="seconds")}
                for n in session.scalars(
                    select(ConsoleNote).where(ConsoleNote.sender_id == sender).order_by(ConsoleNote.id)
                )
            ]
        out = build_transcript(sender, events, raw_text=raw, low_confidence=int(below) / 100, corrections=corrections)
        out.update(tags=tags, notes=notes, redacted=not raw)
        return out

    try:
        return web.json_response(await asyncio.to_thread(run))
    except ConsoleError as exc:
        return _error(exc)


def _known(state: ConsoleState, sender: str) -> None:
    with state.sessions() as session:
        if session.get(ConsoleConversation, sender) is None:
            raise NotFound("no such conversation")


@guarded("annotate")
async def add_tag(request: web.Request, viewer: Viewer) -> web.Response:
    """``POST /api/console/conversations/{sender_id}/tags`` ``{"tag"}``."""
    state, sender = request.app[STATE_KEY], _sender(request)
    tag = (await _json_body(request)).get("tag")
    if not isinstance(tag, str) or not TAG_RE.match(tag.strip().lower()):
        raise BadInput("a tag is 1-40 lower-case letters, digits, spaces, - or _", field="tag")
    tag = tag.strip().lower()

    def run() -> None:
        state.indexer.refresh()
        _known(state, sender)
        with state.sessions() as session, session.begin():
            exists = session.scalar(select(ConsoleTag.id).where(ConsoleTag.sender_id == sender, ConsoleTag.tag == tag))
            if exists is None:
                session.add(ConsoleTag(sender_id=sender, tag=tag, user_id=viewer.user_id, created_at=_now()))

    await asyncio.to_thread(run)
    return web.json_response({"sender_id": sender, "tag": tag}, status=201)


@guarded("annotate")
async def remove_tag(request: web.Request, _viewer: Viewer) -> web.Response:
    """``DELETE /api/console/conversations/{sender_id}/tags/{tag}``."""
    state, sender, tag = request.app[STATE_KEY], _sender(request), request.match_info["tag"]

    def run() -> None:
        with state.sessions() as session, session.begin():
            session.execute(delete(ConsoleTag).where(ConsoleTag.sender_id == sender, ConsoleTag.tag == tag))

    await asyncio.to_thread(run)
    return web.json_response({"ok": True})


@guarded("annotate")
async def add_note(request: web.Request, viewer: Viewer) -> web.Response:
    """``POST /api/console/conversations/{sender_id}/notes`` ``{"text"}``."""
    state, sender = request.app[STATE_KEY], _sender(request)
    text = (await _json_body(request)).get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_NOTE_CHARS:
        raise BadInput(f"a note is 1 to {MAX_NOTE_CHARS} characters", field="text")

    def run() -> int:
        state.indexer.refresh()
        _known(state, sender)
        with state.sessions() as session, session.begin():
            note = ConsoleNote(sender_id=sender, text=text.strip(), user_id=viewer.user_id, created_at=_now())
            session.add(note)
            session.flush()
            return note.id

    return web.json_response({"id": await asyncio.to_thread(run), "text": text.strip()}, status=201)


@guarded("correct")
async def add_correction(request: web.Request, viewer: Viewer) -> web.Response:
    """``POST /api/console/conversations/{sender_id}/corrections`` ``{"event_id", "intent", "entities"?}``."""
    state, sender = request.app[STATE_KEY], _sender(request)
    body = await _json_body(request)
    event_id = body.get("event_id")
    if not isinstance(event_id, int) or isinstance(event_id, bool):
        raise BadInput("'event_id' must be the id of a user message", field="event_id")
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
    return web.json_response(saved, status=201)


@guarded("export")
async def list_corrections(request: web.Request, viewer: Viewer) -> web.Response:
    """``GET /api/console/corrections``: every correction (examples redacted unless admin)."""
    state = request.app[STATE_KEY]

    def run() -> list[dict[str, Any]]:
        with state.sessions() as session:
            rows = session.scalars(select(ConsoleCorrection).order_by(ConsoleCorrection.id)).all()
            return [correction_json(r, raw_text=viewer.may("raw_text")) for r in rows]

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
async def metrics(request: web.Request, _viewer: Viewer) -> web.Response:
    """``GET /api/console/metrics``: rates, series and SVG charts for the filtered conversations."""
    state = request.app[STATE_KEY]
    filters = Filters.parse(request.query)
    await asyncio.to_thread(state.indexer.refresh)

    def run() -> dict[str, Any]:
        with state.sessions() as session:
            return compute_metrics(session, filters)

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
    return web.json_response(page)


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
    return datetime.now(UTC).replace(tzinfo=None)


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
    r.add_get("/api/console/conversations/{sender_id}", transcript)
    r.add_post("/api/console/conversations/{sender_id}/tags", add_tag)
    r.add_delete("/api/console/conversations/{sender_id}/tags/{tag}", remove_tag)
    r.add_post("/api/console/conversations/{sender_id}/notes", add_note)
    r.add_post("/api/console/conversations/{sender_id}/corrections", add_correction)
    r.add_get("/api/console/corrections", list_corrections)
    r.add_get("/api/console/corrections/export", export_corrections)
    r.add_get("/api/console/metrics", metrics)
    r.add_get("/api/console/handoffs", handoffs)
    r.add_get("/api/console/security/paused-checks", security_checks)
