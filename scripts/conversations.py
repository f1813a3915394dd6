"""Blind multi-turn conversation tests: load, run through the gateway, check; used by bench/ and tests/e2e.

The format is fixed by the people who write the conversations without reading the bot
(tests/conversations/README.md): a YAML list of conversations, each with an ``area``, a ``channel``
(``web`` or ``tablet``) and turns that are either ``user: "text"`` or ``button: "title part"`` with an
optional ``expect`` (``must``, ``must_not``, ``never_disclose``, ``buttons``, ``no_change``).
Placeholders like ``{in_transit.order_number}`` resolve from the shop's demo cases
(``python -m store demo-cases``).

Every turn is also checked for an answer (never silent). ``no_change`` compares the order store's state
of every order before and after the turn. Conversations run one at a time and the shop's orders are put
back as they were after each one, so a cancellation in one conversation does not change what the next
one finds (and each conversation is a new customer: linked chats and return drafts are reset too).
"""

from __future__ import annotations

import contextlib
import io
import re
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from connectors.dispatch import is_empty_turn_apology

AREAS = (
    "tracking",
    "returns",
    "shipping",
    "payment",
    "orders",
    "handoff",
    "products",
    "chitchat",
    "account",
    "tablet",
    "privacy",
    "mixed",
)
CHANNELS = ("web", "tablet")
TABLET_STORE = "LDN-01"
#: Phrases of the bot not understanding; a must_not hit on one counts as a misread message, not a wrong fact.
MISUNDERSTANDING = ("didn't quite", "rephrase", "not something i can help", "not sure i understand")
#: Tables put back from the pristine copy after each conversation (orders and what hangs off them, and what
#: links one conversation's customer to the next: linked chats, news preferences, return drafts; and the failed
#: proofs, since each conversation stands for another customer at another address while all come from loopback).
RESET_TABLES = (
    "verification_attempts",
    "notification_deliveries",
    "notification_outbox",
    "return_drafts",
    "notification_preferences",
    "channel_identities",
    "refunds",
    "return_lines",
    "returns",
    "shipment_events",
    "shipments",
    "order_lines",
    "orders",
)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\.([a-z_]+)\}")
TURN_TIMEOUT_S = 60.0


class ConversationFileError(ValueError):
    """A conversation file does not follow the format; the message names the conversation and turn."""


# ------------------------------------------------------------------------------------------------ model


@dataclass(frozen=True)
class Expect:
    """What one turn's answer must (not) show."""

    must: tuple[str, ...] = ()
    must_not: tuple[str, ...] = ()
    never_disclose: tuple[str, ...] = ()
    buttons: tuple[str, ...] = ()
    no_change: bool = False


@dataclass(frozen=True)
class Turn:
    """A customer message (``user``) or a button press (``button``), and its expectations."""

    user: str | None
    button: str | None
    expect: Expect


@dataclass(frozen=True)
class Conversation:
    """One conversation of a file."""

    id: str
    area: str
    channel: str
    story: str
    turns: tuple[Turn, ...]


def _strings(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise ConversationFileError(f"{where}: {key} must be a list of strings")
    return tuple(str(v) for v in value)


def _turn(raw: Any, where: str) -> Turn:
    if not isinstance(raw, dict):
        raise ConversationFileError(f"{where}: a turn is a mapping with `user` or `button`")
    user, button = raw.get("user"), raw.get("button")
    if (user is None) == (button is None):
        raise ConversationFileError(f"{where}: a turn has exactly one of `user` and `button`")
    expect = raw.get("expect") or {}
    if not isinstance(expect, dict):
        raise ConversationFileError(f"{where}: expect must be a mapping")
    unknown = set(expect) - {"must", "must_not", "never_disclose", "buttons", "no_change"}
    if unknown:
        raise ConversationFileError(f"{where}: unknown expectation {sorted(unknown)}")
    return Turn(
        user=str(user) if user is not None else None,
        button=str(button) if button is not None else None,
        expect=Expect(
            must=_strings(expect.get("must"), where, "must"),
            must_not=_strings(expect.get("must_not"), where, "must_not"),
            never_disclose=_strings(expect.get("never_disclose"), where, "never_disclose"),
            buttons=_strings(expect.get("buttons"), where, "buttons"),
            no_change=bool(expect.get("no_change", False)),
        ),
    )


def load_conversations(path: Path) -> list[Conversation]:
    """Read and check a conversation file.

    Args:
        path: a YAML file in the blind conversation format.

    Returns:
        The conversations, in file order.

    Raises:
        ConversationFileError: the file is not in the format (duplicate ids, unknown area or channel...).
    """
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        raise ConversationFileError(f"{path}: the file must be a list of conversations")
    seen: set[str] = set()
    out: list[Conversation] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or "id" not in item:
            raise ConversationFileError(f"{path}: conversation #{index + 1} has no id")
        cid = str(item["id"])
        if cid in seen:
            raise ConversationFileError(f"{path}: duplicate conversation id {cid}")
        seen.add(cid)
        area = str(item.get("area") or "")
        if area not in AREAS:
            raise ConversationFileError(f"{cid}: unknown area {area!r} (one of {', '.join(AREAS)})")
        channel = str(item.get("channel") or "web")
        if channel not in CHANNELS:
            raise ConversationFileError(f"{cid}: unknown channel {channel!r} (web or tablet)")
        turns = item.get("turns")
        if not isinstance(turns, list) or not turns:
            raise ConversationFileError(f"{cid}: no turns")
        out.append(
            Conversation(
                id=cid,
                area=area,
                channel=channel,
                story=str(item.get("story") or ""),
                turns=tuple(_turn(t, f"{cid} turn {i + 1}") for i, t in enumerate(turns)),
            )
        )
    return out


def resolve(text: str, cases: Mapping[str, Mapping[str, Any]]) -> str:
    """Fill ``{case.field}`` placeholders from the demo cases.

    Raises:
        ConversationFileError: an unknown case or field, or a field the case does not have (None).
    """

    def fill(match: re.Match[str]) -> str:
        case, name = match.group(1), match.group(2)
        if case not in cases:
            raise ConversationFileError(f"unknown demo case {case!r} in {match.group(0)}")
        value = cases[case].get(name)
        if value is None:
            raise ConversationFileError(f"demo case {case!r} has no {name} ({match.group(0)})")
        return str(value)

    return _PLACEHOLDER.sub(fill, text)


# ------------------------------------------------------------------------------------------ the shop


def shop_file(db_url: str) -> Path:
    """The SQLite file of a ``sqlite:///`` URL (the bench runs on a throwaway SQLite shop)."""
    if not db_url.startswith("sqlite:///"):
        raise ValueError(f"conversation runs need a SQLite shop, not {db_url.split(':', 1)[0]}")
    return Path(db_url.removeprefix("sqlite:///"))


class Shop:
    """The shop database of the running stack: what an order looks like now, and a reset to the seed."""

    def __init__(self, path: Path, pristine: Path | None = None) -> None:
        """Reset ``path`` from ``pristine`` (a copy of the freshly seeded shop), or from a copy taken now."""
        self.path = path
        if pristine is None:
            pristine = path.with_name(path.stem + ".pristine.db")
            with sqlite3.connect(path) as src, sqlite3.connect(pristine) as dst:
                src.backup(dst)
        self.pristine = pristine

    def state(self) -> dict[str, tuple[Any, ...]]:
        """Each order's status, delivery address, cancellation, returns and refunds, by order number."""
        with contextlib.closing(sqlite3.connect(self.path, timeout=30)) as db:
            rows = db.execute(
                "SELECT o.number, o.status, o.ship_address, o.ship_city, o.ship_postcode, o.ship_country, "
                "o.cancelled_at, "
                "(SELECT group_concat(r.rma_number || ':' || r.status) FROM returns r WHERE r.order_id = o.id), "
                "(SELECT count(*) FROM refunds f WHERE f.order_id = o.id) FROM orders o"
            ).fetchall()
        return {row[0]: tuple(row[1:]) for row in rows}

    def reset(self) -> None:
        """Put orders, returns, refunds, linked chats and drafts back as seeded."""
        with contextlib.closing(sqlite3.connect(self.path, timeout=30)) as db:
            db.execute("PRAGMA foreign_keys = OFF")
            db.execute("ATTACH DATABASE ? AS pristine", (str(self.pristine),))
            with db:
                for table in RESET_TABLES:
                    db.execute(f"DELETE FROM main.{table}")  # noqa: S608 (fixed table names)
                for table in reversed(RESET_TABLES):
                    db.execute(f"INSERT INTO main.{table} SELECT * FROM pristine.{table}")  # noqa: S608
            db.execute("DETACH DATABASE pristine")


def changed_orders(before: Mapping[str, tuple[Any, ...]], after: Mapping[str, tuple[Any, ...]]) -> list[str]:
    """Order numbers whose state differs (new orders included)."""
    return sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))


# ---------------------------------------------------------------------------------------- channels


class Client:
    """One conversation's front door: send a message or a button payload, get the bot's messages."""

    async def send(self, session: aiohttp.ClientSession, text: str | None, payload: str | None) -> list[dict[str, Any]]:
        """Send one message; return the replies (web message shape)."""
        raise NotImplementedError

    @property
    def rasa_sender(self) -> str | None:
        """The conversation's id in rasa (``"{channel}:{id}"``), once known."""
        raise NotImplementedError


class WebClient(Client):
    """The web widget's API: ``POST /api/web/messages``."""

    def __init__(self, gateway_url: str, conversation_id: str | None = None) -> None:
        """A new web conversation (random id unless given)."""
        self.url = f"{gateway_url}/api/web/messages"
        self.conversation_id = conversation_id or f"conv-{uuid.uuid4().hex[:16]}"

    @property
    def rasa_sender(self) -> str | None:
        """``web:<conversation id>``."""
        return f"web:{self.conversation_id}"

    async def send(self, session: aiohttp.ClientSession, text: str | None, payload: str | None) -> list[dict[str, Any]]:
        """Post the message; raise on a non-200 answer."""
        body: dict[str, Any] = {"conversation_id": self.conversation_id}
        body.update({"text": text} if text is not None else {"payload": payload})
        async with session.post(self.url, json=body, timeout=aiohttp.ClientTimeout(total=TURN_TIMEOUT_S)) as resp:
            answer = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"web API answered {resp.status}: {answer}")
        return list(answer.get("messages") or [])


class TabletClient(Client):
    """An in-store tablet's API: a new shopper session, then ``POST /api/tablet/messages``."""

    def __init__(self, gateway_url: str, token: str) -> None:
        """A tablet conversation (its session starts on the first message)."""
        self.base = gateway_url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.session_id: str | None = None

    @property
    def rasa_sender(self) -> str | None:
        """``tablet:<session id>`` once the session started."""
        return f"tablet:{self.session_id}" if self.session_id else None

    async def send(self, session: aiohttp.ClientSession, text: str | None, payload: str | None) -> list[dict[str, Any]]:
        """Start the session if needed, post the message; raise on a non-200 answer."""
        timeout = aiohttp.ClientTimeout(total=TURN_TIMEOUT_S)
        if self.session_id is None:
            async with session.post(f"{self.base}/api/tablet/session", headers=self.headers, timeout=timeout) as resp:
                started = await resp.json()
                if resp.status != 200:
                    raise RuntimeError(f"tablet session answered {resp.status}: {started}")
            self.session_id = str(started["session_id"])
        body: dict[str, Any] = {"session_id": self.session_id}
        body.update({"text": text} if text is not None else {"payload": payload})
        async with session.post(
            f"{self.base}/api/tablet/messages", json=body, headers=self.headers, timeout=timeout
        ) as resp:
            answer = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"tablet API answered {resp.status}: {answer}")
        return list(answer.get("messages") or [])


def register_tablet(gateway_db_url: str, shop_db_url: str, store_id: str = TABLET_STORE) -> str:
    """Register a tablet for ``store_id`` with the real device command; return its token."""
    from connectors.tablet.__main__ import main as tablet_command

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = tablet_command(
            [
                "--gateway-database-url",
                gateway_db_url,
                "--shop-database-url",
                shop_db_url,
                "register",
                "--store",
                store_id,
                "--name",
                "conversation tests",
            ]
        )
    if code != 0:
        raise RuntimeError(f"registering a tablet for {store_id} failed: {out.getvalue()}")
    return out.getvalue().strip().splitlines()[-1]


# ------------------------------------------------------------------------------------------ checking


@dataclass
class Problem:
    """Why a turn failed.

    Attributes:
        kind: ``silent``, ``disclosure``, ``changed`` (an order changed where only a question was asked),
            ``wrong`` (a must_not phrase: a wrong fact or flow), ``misread`` (a must_not phrase of not
            understanding), ``missing`` (a must phrase absent), ``button`` (a button not offered or not
            there to press), ``error`` (the gateway failed or the test could not be resolved).
        detail: what exactly.
    """

    kind: str
    detail: str


@dataclass
class TurnResult:
    """One turn as run: what was sent, what the bot said, and what was wrong."""

    index: int
    sent: str
    said: str
    buttons: list[str]
    problems: list[Problem] = field(default_factory=list)
    ms: float = 0.0
    #: What rasa made of the message (read from its tracker after the conversation): intent, confidence,
    #: entities and the actions it ran; empty when the tracker was not read.
    nlu: str = ""
    actions: list[str] = field(default_factory=list)
    #: False when the turn never reached the gateway (no such button, a placeholder that did not resolve).
    delivered: bool = True


@dataclass
class ConversationResult:
    """One conversation as run."""

    conversation: Conversation
    turns: list[TurnResult]

    @property
    def passed(self) -> bool:
        """True when no turn had a problem."""
        return all(not t.problems for t in self.turns)


def _said(messages: Sequence[Mapping[str, Any]]) -> tuple[str, list[dict[str, str]]]:
    """Everything shown to the customer in a turn (texts and button titles) and the buttons."""
    texts: list[str] = []
    buttons: list[dict[str, str]] = []
    for message in messages:
        if message.get("text"):
            texts.append(str(message["text"]))
        for button in message.get("buttons") or []:
            if isinstance(button, Mapping) and button.get("title"):
                buttons.append({"title": str(button["title"]), "payload": str(button.get("payload") or "")})
    return "\n".join(texts), buttons


def _found(entry: str, haystack: str) -> bool:
    """An entry's alternatives (``a | b``) against the turn's words, case-insensitively."""
    return any(alt.strip().lower() in haystack for alt in entry.split(" | ") if alt.strip())


def check_turn(
    expect: Expect, cases: Mapping[str, Mapping[str, Any]], text: str, buttons: Sequence[Mapping[str, str]]
) -> list[Problem]:
    """The problems of one answer against its expectations (the order store check is done by the caller)."""
    problems: list[Problem] = []
    titles = [b["title"] for b in buttons]
    if not text.strip() and not titles:
        problems.append(Problem("silent", "no answer at all"))
    elif is_empty_turn_apology(text):
        # The gateway's guard covered for the dialogue: still a silent turn of the bot.
        problems.append(Problem("silent", "rasa answered nothing (the gateway's apology was sent)"))
    haystack = (text + "\n" + "\n".join(titles)).lower()
    for entry in expect.never_disclose:
        value = resolve(entry, cases)
        if _found(value, haystack):
            problems.append(Problem("disclosure", f"disclosed {value!r}"))
    for entry in expect.must_not:
        value = resolve(entry, cases)
        if _found(value, haystack):
            kind = "misread" if any(m in value.lower() for m in MISUNDERSTANDING) else "wrong"
            problems.append(Problem(kind, f"said {value!r}"))
    for entry in expect.must:
        value = resolve(entry, cases)
        if not _found(value, haystack):
            problems.append(Problem("missing", f"did not say {value!r}"))
    for wanted in expect.buttons:
        value = resolve(wanted, cases).lower()
        if not any(value in t.lower() for t in titles):
            problems.append(Problem("button", f"no button {value!r} (offered: {titles or 'none'})"))
    return problems


async def run_conversation(
    conversation: Conversation,
    client: Client,
    cases: Mapping[str, Mapping[str, Any]],
    shop: Shop | None,
    session: aiohttp.ClientSession,
    rasa_url: str | None = None,
    rasa_token: str | None = None,
) -> ConversationResult:
    """Play a conversation's turns in order and check each answer.

    Args:
        conversation: what to say.
        client: the conversation's front door (a new web conversation or tablet session).
        cases: the demo cases, for placeholders.
        shop: the order store, for ``no_change`` (None: such turns fail with an error).
        session: the HTTP session.
        rasa_url: rasa's HTTP API, to note what it understood in each turn (None: not noted).
        rasa_token: that API's token (``?token=``; rasa answers 401 without it when it has one).

    Returns:
        Every turn with what the bot said and its problems. A turn that cannot be sent (a button that
        was not offered) fails and the conversation goes on with the next turn.
    """
    results: list[TurnResult] = []
    buttons: list[dict[str, str]] = []
    for index, turn in enumerate(conversation.turns, start=1):
        problems: list[Problem] = []
        text: str | None = None
        payload: str | None = None
        try:
            if turn.user is not None:
                text = resolve(turn.user, cases)
                sent = text
            else:
                wanted = resolve(turn.button or "", cases).lower()
                pressed = next((b for b in buttons if wanted in b["title"].lower()), None)
                sent = f"[button {turn.button}]"
                if pressed is None:
                    offered = [b["title"] for b in buttons]
                    problem = Problem("button", f"no button {wanted!r} to press: {offered}")
                    results.append(TurnResult(index, sent, "", [], [problem], delivered=False))
                    buttons = []
                    continue
                payload = pressed["payload"]
                sent = f"[button {pressed['title']}]"
        except ConversationFileError as error:
            problem = Problem("error", str(error))
            results.append(TurnResult(index, turn.user or turn.button or "", "", [], [problem], delivered=False))
            continue
        before = shop.state() if shop is not None and turn.expect.no_change else None
        started = time.perf_counter()
        try:
            messages = await client.send(session, text, payload)
        except (RuntimeError, aiohttp.ClientError, TimeoutError) as error:
            results.append(TurnResult(index, sent, "", [], [Problem("error", f"not answered: {error}")]))
            buttons = []
            continue
        elapsed = (time.perf_counter() - started) * 1000
        said, buttons = _said(messages)
        try:
            problems += check_turn(turn.expect, cases, said, buttons)
        except ConversationFileError as error:
            problems.append(Problem("error", str(error)))
        if turn.expect.no_change:
            if before is None or shop is None:
                problems.append(Problem("error", "no_change needs the order store"))
            else:
                moved = changed_orders(before, shop.state())
                if moved:
                    problems.append(Problem("changed", f"changed order(s) {', '.join(moved)}"))
        results.append(TurnResult(index, sent, said, [b["title"] for b in buttons], problems, elapsed))
    if rasa_url and client.rasa_sender:
        await annotate(results, session, rasa_url, client.rasa_sender, rasa_token)
    return ConversationResult(conversation, results)


async def annotate(
    results: Sequence[TurnResult],
    session: aiohttp.ClientSession,
    rasa_url: str,
    sender: str,
    rasa_token: str | None = None,
) -> None:
    """Add what rasa understood and did in each turn, from its tracker (a diagnosis aid; errors are ignored)."""
    try:
        async with session.get(
            f"{rasa_url}/conversations/{sender}/tracker",
            params={"token": rasa_token} if rasa_token else None,
            timeout=aiohttp.ClientTimeout(total=TURN_TIMEOUT_S),
        ) as resp:
            if resp.status != 200:
                return
            tracker = await resp.json()
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return
    turns: list[tuple[str, list[str]]] = []
    for event in tracker.get("events") or []:
        if event.get("event") == "user":
            parse = event.get("parse_data") or {}
            intent = parse.get("intent") or {}
            entities = ", ".join(f"{e.get('entity')}={e.get('value')}" for e in parse.get("entities") or [])
            nlu = f"{intent.get('name')} {float(intent.get('confidence') or 0):.2f}" + (
                f" [{entities}]" if entities else ""
            )
            turns.append((nlu, []))
        elif event.get("event") == "action" and turns and event.get("name") not in ("action_listen", None):
            turns[-1][1].append(str(event["name"]))
    sent = [r for r in results if r.delivered]
    for result, (nlu, actions) in zip(sent, turns, strict=False):
        result.nlu, result.actions = nlu, actions


async def run_all(
    conversations: Iterable[Conversation],
    *,
    gateway_url: str,
    cases: Mapping[str, Mapping[str, Any]],
    shop: Shop | None,
    tablet_token: str | None,
    rasa_url: str | None = None,
    rasa_token: str | None = None,
    progress: Any = None,
) -> list[ConversationResult]:
    """Run conversations one after the other, resetting the shop after each one.

    Args:
        conversations: what to run.
        gateway_url: the running gateway.
        cases: the shop's demo cases.
        shop: the shop (reset after each conversation, and for ``no_change``); None skips both.
        tablet_token: a device token for ``tablet`` conversations (they fail with an error without one).
        rasa_url: rasa's HTTP API, to note what it understood in each turn.
        rasa_token: that API's token.
        progress: called with (done, total, result) after each conversation.

    Returns:
        The results, in order.
    """
    todo = list(conversations)
    results: list[ConversationResult] = []
    async with aiohttp.ClientSession() as session:
        for conversation in todo:
            if conversation.channel == "tablet":
                if tablet_token is None:
                    problem = Problem("error", "no tablet registered")
                    results.append(ConversationResult(conversation, [TurnResult(1, "", "", [], [problem])]))
                    continue
                client: Client = TabletClient(gateway_url, tablet_token)
            else:
                client = WebClient(gateway_url)
            result = await run_conversation(conversation, client, cases, shop, session, rasa_url, rasa_token)
            results.append(result)
            if shop is not None:
                shop.reset()
            if progress is not None:
                progress(len(results), len(todo), result)
    return results


# ------------------------------------------------------------------------------------------ reports

PROBLEM_NAMES = {
    "silent": "silent turns",
    "wrong": "wrong facts or flows (must_not)",
    "disclosure": "disclosures (never_disclose)",
    "changed": "orders changed by a question (no_change)",
    "misread": "misunderstood (must_not of not understanding)",
    "missing": "expected phrase missing (must)",
    "button": "button missing",
    "error": "errors (not answered / bad test)",
}


def tally(results: Sequence[ConversationResult]) -> dict[str, Any]:
    """Pass rates overall and by area, and problem counts by kind (turns with each kind of problem)."""
    by_area: dict[str, list[int]] = {}
    for result in results:
        passed_total = by_area.setdefault(result.conversation.area, [0, 0])
        passed_total[0] += int(result.passed)
        passed_total[1] += 1
    kinds: Counter[str] = Counter()
    for result in results:
        for turn in result.turns:
            for kind in {p.kind for p in turn.problems}:
                kinds[kind] += 1
    passed = sum(int(r.passed) for r in results)
    return {
        "conversations": len(results),
        "passed": passed,
        "pass_rate": passed / len(results) if results else 0.0,
        "turns": sum(len(r.turns) for r in results),
        "by_area": {area: {"passed": p, "total": t} for area, (p, t) in sorted(by_area.items())},
        "problems": {kind: kinds.get(kind, 0) for kind in PROBLEM_NAMES},
    }


def _cell(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def report(results: Sequence[ConversationResult], *, show_failures: int = 1000, width: int = 300) -> str:
    """A Markdown report: pass rate by area, problem counts, then each failing turn with what the bot said."""
    summary = tally(results)
    lines = ["| area | passed | conversations | pass rate |", "|---|---|---|---|"]
    for area, row in summary["by_area"].items():
        lines.append(f"| {area} | {row['passed']} | {row['total']} | {row['passed'] / row['total']:.0%} |")
    lines.append(
        f"| **all** | **{summary['passed']}** | **{summary['conversations']}** | **{summary['pass_rate']:.1%}** |"
    )
    lines.append("")
    lines.append("| problem (turns) | count |")
    lines.append("|---|---|")
    for kind, name in PROBLEM_NAMES.items():
        lines.append(f"| {name} | {summary['problems'][kind]} |")
    failing = [r for r in results if not r.passed]
    if failing and show_failures:
        lines.append("")
        lines.append(f"Failing turns ({len(failing)} conversations):")
        for result in failing[:show_failures]:
            conv = result.conversation
            lines.append(f"- {conv.id} [{conv.area}, {conv.channel}] {conv.story}")
            for turn in result.turns:
                if not turn.problems:
                    continue
                what = "; ".join(f"{p.kind}: {p.detail}" for p in turn.problems)
                lines.append(f"    turn {turn.index} > {_cell(turn.sent, 120)}")
                lines.append(f"      bot: {_cell(turn.said, width) or '(nothing)'}")
                if turn.nlu:
                    lines.append(f"      nlu: {turn.nlu} -> {', '.join(turn.actions) or '-'}")
                lines.append(f"      {what}")
    return "\n".join(lines)


def transcript(result: ConversationResult) -> str:
    """The whole conversation as run, for an assertion message."""
    lines = [f"{result.conversation.id}: {result.conversation.story}"]
    for turn in result.turns:
        lines.append(f"  you: {turn.sent}")
        lines.append(f"  bot: {turn.said}" + (f"  [buttons: {', '.join(turn.buttons)}]" if turn.buttons else ""))
        if turn.nlu:
            lines.append(f"       ({turn.nlu} -> {', '.join(turn.actions) or '-'})")
        for problem in turn.problems:
            lines.append(f"    !! {problem.kind}: {problem.detail}")
    return "\n".join(lines)
