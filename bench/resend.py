"""Sending a customer message as the web widget does, until it is answered; used by the load and fault benches.

A message that gets anything but an answer (a 503 ``busy`` from the gateway's admission control, a 503 while a
replica restarts, a dropped connection) is sent again with the same ``client_message_id``, so the gateway and rasa
can tell a resend from a new message (the gateway replays an answer it already gave; rasa dedupes by message id).
The wait before a resend is the gateway's hint (``retry_after`` in the body, else the ``Retry-After`` header), at
least ``RESEND_AFTER_S``; after ``give_up_after`` seconds without an answer the message counts as lost. Everything
the customer saw meanwhile is recorded, so the benches can count busy answers and resends apart from errors, and
afterwards check that each message was answered exactly once (``transcript_counts``, ``stored_events``).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

#: Wait before a resend when the gateway gave no hint (the widget's first reconnect is about as soon).
RESEND_AFTER_S = 1.0
#: Longest wait a hint may ask for (the gateway caps ``Retry-After`` at 60 s).
MAX_HINT_S = 60.0


def reply_text(messages: Sequence[dict[str, Any]]) -> str:
    """All text of a reply (product cards' titles and prices are in their messages' text too)."""
    return "\n".join(str(m.get("text") or "") for m in messages)


@dataclass
class Delivery:
    """One customer message and everything the customer saw until it was answered (or given up).

    Attributes:
        conversation: the web conversation id.
        text: what the customer typed.
        expect: phrases the answer must contain.
        client_message_id: the id every attempt carries.
        attempts: requests sent (1 = answered or refused at the first try).
        seen: what each unanswered attempt got, e.g. ``503 busy``, ``503 rasa_unavailable``, ``no answer
            (ServerDisconnectedError)``; a wrong answer adds ``wrong answer: ...``.
        answer: the bot's messages of the answer.
        answered: a 200 with the bot's messages came in the end (rightly or not).
        finished: answered or given up (False while it is being sent).
        ok: answered, with every expected phrase.
        started: the clock when it was first sent.
        seconds: from the first send to the answer (or to giving up).
    """

    conversation: str
    text: str
    expect: tuple[str, ...]
    client_message_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    attempts: int = 0
    seen: list[str] = field(default_factory=list)
    answer: list[dict[str, Any]] = field(default_factory=list)
    answered: bool = False
    finished: bool = False
    ok: bool = False
    started: float = 0.0
    seconds: float = 0.0

    @property
    def busy(self) -> int:
        """Attempts answered ``busy`` (the admission control's 503, or 429 while the conversation's previous
        message was still being answered)."""
        return sum(1 for s in self.seen if s.split(":")[0].endswith(" busy"))

    @property
    def resends(self) -> int:
        """Attempts after the first."""
        return max(0, self.attempts - 1)

    @property
    def failures(self) -> list[str]:
        """What counts as an error: never answered, a wrong answer, or anything unanswered but ``busy``."""
        out = [s for s in self.seen if not s.split(":")[0].endswith(" busy")]
        if self.finished and not self.answered:
            out.append(f"lost: no answer after {self.seconds:.0f} s and {self.attempts} attempts")
        return out


def retry_hint(payload: Any, headers: Any) -> float | None:
    """Seconds the gateway asked the client to wait: ``retry_after`` in the JSON body, else ``Retry-After``."""
    raw = payload.get("retry_after") if isinstance(payload, dict) else None
    if raw is None and headers is not None:
        raw = headers.get("Retry-After")
    try:
        return None if raw is None else float(raw)
    except (TypeError, ValueError):
        return None


async def deliver(
    session: aiohttp.ClientSession,
    url: str,
    message: Delivery,
    give_up_after: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Delivery:
    """Send ``message`` to ``url``'s ``POST /api/web/messages`` until it is answered or ``give_up_after`` passed.

    Args:
        session: the HTTP session (its own timeout bounds one attempt; the remaining time bounds it too).
        url: the gateway's (or the balancer's) base URL.
        message: what to send; filled in with what happened.
        give_up_after: seconds after the first send with no answer after which the message is lost.
        clock: seconds, monotonic (tests pass a fake one).
        sleep: waits between attempts (tests pass one that moves the fake clock).

    Returns:
        ``message``.
    """
    body = {
        "conversation_id": message.conversation,
        "text": message.text,
        "client_message_id": message.client_message_id,
    }
    started = message.started = clock()
    deadline = started + give_up_after
    while True:
        remaining = deadline - clock()
        if remaining <= 0:
            break
        message.attempts += 1
        hint: float | None = None
        try:
            timeout = aiohttp.ClientTimeout(total=remaining)
            async with session.post(f"{url}/api/web/messages", json=body, timeout=timeout) as resp:
                status, raw, headers = resp.status, await resp.read(), resp.headers
            try:
                payload = json.loads(raw) if raw else {}
            except ValueError:
                payload = None
            if status == 200 and isinstance(payload, dict):
                message.answered, message.answer = True, payload.get("messages") or []
                text = reply_text(message.answer)
                message.ok = all(phrase in text for phrase in message.expect)
                if not message.ok:
                    message.seen.append(f"wrong answer: {text[:200]!r}")
                break
            code = payload.get("code") if isinstance(payload, dict) else None
            shown = payload.get("error") if isinstance(payload, dict) else None
            message.seen.append(f"{status} {code or ''}".strip() + f": {shown or raw[:80]!r}")
            hint = retry_hint(payload, headers)
        except (aiohttp.ClientError, TimeoutError) as error:
            message.seen.append(f"no answer ({type(error).__name__})")
        wait = min(MAX_HINT_S, max(RESEND_AFTER_S, hint or 0.0))
        wait = min(wait, max(0.0, deadline - clock()))
        if wait <= 0:
            break
        await sleep(wait)
    message.seconds = clock() - started
    message.finished = True
    return message


def transcript_counts(gateway_db_url: str, prefix: str) -> Counter[tuple[str, str]]:
    """How often each (conversation, message text) of conversations starting with ``prefix`` was recorded as a
    customer message, answered, by the gateways (their ``web_messages`` table)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(gateway_db_url)
    counts: Counter[tuple[str, str]] = Counter()
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT conversation_id, body FROM web_messages WHERE role = 'user' AND status = 'answered' "
                    "AND conversation_id LIKE :prefix"
                ),
                {"prefix": prefix + "%"},
            )
            for conversation, body in rows:
                value = body if isinstance(body, dict) else json.loads(body)
                counts[(conversation, str(value.get("text") or ""))] += 1
    finally:
        engine.dispose()
    return counts


def stored_events(tracker_db_url: str, conversations: set[str], prefix: str) -> dict[str, list[tuple[str, str]]]:
    """Each web conversation's user and bot events in rasa's tracker store, in order: ``(kind, text)``."""
    from sqlalchemy import create_engine, text

    engine = create_engine(tracker_db_url)
    out: dict[str, list[tuple[str, str]]] = {c: [] for c in conversations}
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT sender_id, type_name, data FROM events WHERE sender_id LIKE :prefix ORDER BY id"),
                {"prefix": f"web:{prefix}%"},
            )
            for sender, kind, data in rows:
                conversation = sender.removeprefix("web:")
                if conversation in out and kind in ("user", "bot"):
                    out[conversation].append((kind, str(json.loads(data).get("text") or "")))
    finally:
        engine.dispose()
    return out


def check_once(
    sent: Sequence[Delivery], events: dict[str, list[tuple[str, str]]], transcript: Counter[tuple[str, str]]
) -> dict[str, Any]:
    """Each answered message is in the tracker store once and in order (none missing, none twice), each answer the
    customer got is among the bot's events, and the gateways' transcript has each answered message once.

    Returns:
        ``duplicates``, ``missing`` (user turns), ``lost_events`` (answers not stored), ``transcript_not_once``
        and the first ``problems``.
    """
    by_conversation: dict[str, list[Delivery]] = {}
    for s in sent:
        by_conversation.setdefault(s.conversation, []).append(s)
    duplicates = missing = lost = not_once = 0
    problems: list[str] = []
    for conversation, messages in by_conversation.items():
        answered = [s for s in messages if s.answered]
        users = [t for kind, t in events.get(conversation, []) if kind == "user"]
        if users != [s.text for s in answered]:
            extra = len(users) - len(answered)
            duplicates += max(0, extra)
            missing += max(0, -extra)
            problems.append(f"{conversation}: stored {users} but answered {[s.text for s in answered]}")
        bots = {t for kind, t in events.get(conversation, []) if kind == "bot"}
        for s in answered:
            for reply in s.answer:
                if reply.get("text") and reply["text"] not in bots:
                    lost += 1
                    problems.append(f"{conversation}: answer {reply['text'][:60]!r} not in the tracker")
            times = transcript[(conversation, s.text)]
            if times != 1:
                not_once += 1
                problems.append(f"{conversation}: {s.text!r} recorded {times} times in the transcript")
    return {
        "duplicates": duplicates,
        "missing": missing,
        "lost_events": lost,
        "transcript_not_once": not_once,
        "problems": problems[:10],
    }
