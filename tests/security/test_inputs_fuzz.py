"""Property-based fuzzing (Hypothesis) of every public endpoint's parsing: never a 5xx, never a lost socket.

One gateway (every channel, the console, fake rasa/Telegram/Slack) runs in a background thread for the
module; Hypothesis sends it generated bodies, headers, query strings and WebSocket frames. The properties:
the answer is below 500 and, for an error, a JSON body saying what is wrong; a WebSocket answers every frame
and still answers a real message afterwards; and the pure parsers raise only their own error types.
``FUZZ_EXAMPLES`` (default 60 per test) sets how hard to try; bench/security_fuzz.py does the same at volume.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from connectors import safejson
from connectors.db import create_schema, gateway_engine
from connectors.notify.translate import parse_event
from connectors.web.translate import WebInputError, WebLimits, frame_type, parse_conversation_id, parse_web_message
from console.errors import BadInput, ConsoleError
from console.handoffs import QueueQuery
from console.models import ConsoleConversation, ConsoleConversationCard
from console.pseudonyms import Pseudonyms
from console.queries import Filters, decode_cursor, encode_cursor
from tests.connectors.gateway_fakes import FakeRasa
from tests.security.conftest import Gateway, start_all_channels

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)

# ------------------------------------------------------------------------------------------ strategies

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**50), max_value=10**50),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=50),
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip
FIELDS = [
    "conversation_id", "text", "payload", "client_message_id", "title", "type", "session_id", "email", "password",
    "tag", "event_id", "intent", "entities", "order_number", "event", "update_id", "message",
]  # fmt: skip
message_like = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6)
raw_bodies = st.one_of(
    st.binary(max_size=3000),
    json_values.map(lambda v: json.dumps(v).encode()),
    message_like.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 6000).map(lambda n: ("[" * n + "]" * n).encode()),
    st.integers(4300, 6000).map(lambda n: b'{"text": ' + b"7" * n + b"}"),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
content_types = st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", "", "a/b"])
query_values = st.one_of(
    st.text(max_size=40), st.sampled_from(["²", "9" * 4400, "-1", "0", "abc", "ORD-100001", "١٢", "1e9"])
)


# ------------------------------------------------------------------------------------- a live gateway


class LiveGateway:
    """The gateway of tests/security/conftest.py on its own event loop in a thread."""

    def __init__(self, folder: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.rasa = FakeRasa()
        self.run(self.rasa.start())
        self.gateway, self._stop = self.run(start_all_channels(self.rasa, folder))
        self.session = self.run(self._client())

    async def _client(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    @property
    def g(self) -> Gateway:
        return self.gateway

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                params: dict[str, str] | None = None) -> tuple[int, str, str]:  # fmt: skip
        """Send one request; returns status, content type and body text."""

        async def send() -> tuple[int, str, str]:
            async with self.session.request(
                method, self.g.url + path, data=body, headers=headers, params=params
            ) as resp:
                return resp.status, resp.content_type, await resp.text(errors="replace")

        return self.run(send())

    def close(self) -> None:
        self.run(self.session.close())
        self.run(self._stop())
        self.run(self.rasa.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    gateway = LiveGateway(tmp_path_factory.mktemp("fuzz"))
    yield gateway
    gateway.close()


def assert_clear_answer(status: int, content_type: str, text: str, what: str) -> None:
    assert status < 500, f"{what}: {status} {text[:300]}"
    if status == 400 and text.startswith("Got more than"):
        return  # aiohttp's HTTP parser refused a request line or header over 8 KiB before any handler ran
    if status >= 400 and status not in (404, 405):
        assert content_type == "application/json", f"{what}: {status} {content_type} {text[:200]}"
        assert "error" in json.loads(text), f"{what}: {text[:200]}"


# ------------------------------------------------------------------------------------ HTTP endpoints


@FUZZ
@given(body=raw_bodies, content_type=content_types)
def test_web_messages(live: LiveGateway, body: bytes, content_type: str) -> None:
    status, ctype, text = live.request("POST", "/api/web/messages", body, {"Content-Type": content_type})
    assert_clear_answer(status, ctype, text, "POST /api/web/messages")


@FUZZ
@given(message=message_like)
def test_web_messages_json_objects(live: LiveGateway, message: dict[str, Any]) -> None:
    status, ctype, text = live.request(
        "POST", "/api/web/messages", json.dumps(message).encode(), {"Content-Type": "application/json"}
    )
    assert_clear_answer(status, ctype, text, f"POST /api/web/messages {message!r:.200}")


@FUZZ
@given(conversation_id=query_values)
def test_web_history(live: LiveGateway, conversation_id: str) -> None:
    status, ctype, text = live.request("GET", "/api/web/history", params={"conversation_id": conversation_id})
    assert_clear_answer(status, ctype, text, "GET /api/web/history")


@FUZZ
@given(path=st.sampled_from(["/api/tablet/messages", "/api/tablet/updates", "/api/tablet/session"]),
       body=st.one_of(raw_bodies, message_like.map(lambda m: json.dumps(m).encode())),
       authorised=st.booleans())  # fmt: skip
def test_tablet(live: LiveGateway, path: str, body: bytes, authorised: bool) -> None:
    headers = {"Content-Type": "application/json", **(live.g.tablet_headers() if authorised else {})}
    status, ctype, text = live.request("POST", path, body, headers)
    assert_clear_answer(status, ctype, text, f"POST {path}")


CONSOLE_GETS = ["/api/console/conversations", "/api/console/counts", "/api/console/handoffs", "/api/console/metrics",
                "/api/console/corrections", "/api/console/me", "/api/console/vocabulary"]  # fmt: skip
CONSOLE_PARAMS = ["limit", "cursor", "below", "channel", "from", "to", "intent", "fallback", "handoff", "verified",
                  "tag", "q", "order", "status"]  # fmt: skip


@FUZZ
@given(path=st.sampled_from(CONSOLE_GETS), params=st.dictionaries(st.sampled_from(CONSOLE_PARAMS), query_values))
def test_console_queries(live: LiveGateway, path: str, params: dict[str, str]) -> None:
    status, ctype, text = live.request("GET", path, headers=live.g.console_headers(), params=params)
    assert_clear_answer(status, ctype, text, f"GET {path} {params!r:.200}")


@FUZZ
@given(
    sender=st.text(min_size=1, max_size=80).filter(lambda s: "/" not in s),
    kind=st.sampled_from(["tags", "notes", "corrections", ""]),
    body=st.one_of(raw_bodies, message_like.map(lambda m: json.dumps(m).encode())),
    signed_in=st.booleans(),
)
def test_console_writes_and_transcripts(
    live: LiveGateway, sender: str, kind: str, body: bytes, signed_in: bool
) -> None:
    headers = {"Content-Type": "application/json", **(live.g.console_headers() if signed_in else {})}
    path = f"/api/console/conversations/{quote(sender, safe='')}" + (f"/{kind}" if kind else "")
    status, ctype, text = live.request("POST" if kind else "GET", path, body if kind else None, headers)
    assert_clear_answer(status, ctype, text, f"{path} {body[:80]!r}")


@FUZZ
@given(body=raw_bodies, content_type=content_types)
def test_console_login(live: LiveGateway, body: bytes, content_type: str) -> None:
    status, ctype, text = live.request("POST", "/api/console/login", body, {"Content-Type": content_type})
    assert_clear_answer(status, ctype, text, "POST /api/console/login")


@FUZZ
@given(body=st.one_of(raw_bodies, message_like.map(lambda m: json.dumps(m).encode())), signed=st.booleans())
def test_carrier_events(live: LiveGateway, body: bytes, signed: bool) -> None:
    headers = live.g.carrier_headers(body) if signed else {"Content-Type": "application/json"}
    status, ctype, text = live.request("POST", "/api/carrier/events", body, headers)
    assert_clear_answer(status, ctype, text, "POST /api/carrier/events")


@FUZZ
@given(body=st.one_of(raw_bodies, message_like.map(lambda m: json.dumps(m).encode())), secret=st.booleans())
def test_telegram_webhook(live: LiveGateway, body: bytes, secret: bool) -> None:
    headers = live.g.telegram_headers() if secret else {"Content-Type": "application/json"}
    status, ctype, text = live.request("POST", "/telegram/webhook", body, headers)
    assert_clear_answer(status, ctype, text, "POST /telegram/webhook")


@FUZZ
@given(body=st.one_of(raw_bodies, message_like.map(lambda m: json.dumps(m).encode())), signed=st.booleans(),
       form=st.booleans())  # fmt: skip
def test_slack_events(live: LiveGateway, body: bytes, signed: bool, form: bool) -> None:
    if form:
        body = b"payload=" + quote(body.decode("utf-8", "replace")).encode()
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    headers = live.g.slack_headers(body) if signed else {}
    headers["Content-Type"] = content_type
    status, ctype, text = live.request("POST", "/slack/events", body, headers)
    assert status < 500, f"POST /slack/events: {status} {text[:300]}"


# ---------------------------------------------------------------------------------------- WebSocket


@FUZZ
@given(frames=st.lists(st.one_of(raw_bodies, message_like.map(lambda m: json.dumps(m).encode())), min_size=1,
                       max_size=5))  # fmt: skip
def test_websocket_answers_every_frame_and_stays_open(live: LiveGateway, frames: list[bytes]) -> None:
    async def talk() -> None:
        async with live.session.ws_connect(live.g.url + "/api/web/ws?conversation_id=fuzzsocket01") as ws:
            for frame in frames:
                if frame and frame[:1] in b"{[" or not frame:
                    await ws.send_str(frame.decode("utf-8", "replace"))
                else:
                    await ws.send_bytes(frame)
                answer = await ws.receive(timeout=10)
                assert answer.type == aiohttp.WSMsgType.TEXT, f"socket lost after {frame[:100]!r}: {answer}"
                kind = json.loads(answer.data)["type"]
                while kind == "typing":
                    kind = json.loads((await ws.receive(timeout=10)).data)["type"]
                assert kind in ("error", "bot", "history"), kind
            await ws.send_json({"text": "still there?"})
            while (reply := await ws.receive_json(timeout=10))["type"] != "bot":
                assert reply["type"] in ("typing", "error"), reply
                if reply["type"] == "error":  # rate limited: the socket still answered
                    return
            assert reply["messages"][0]["text"] == "echo: still there?"

    live.run(talk())


# ------------------------------------------------------------------------------------- pure parsers


@FUZZ
@given(raw=st.one_of(raw_bodies, st.text(max_size=200)), conversation=st.one_of(st.none(), query_values))
def test_web_parsers_raise_only_web_input_errors(raw: bytes | str, conversation: str | None) -> None:
    try:
        value = safejson.loads(raw)
    except safejson.JsonRejected:
        return
    for parse in (
        lambda: parse_web_message(value, WebLimits()),
        lambda: frame_type(value),
        lambda: parse_conversation_id(conversation),
        lambda: parse_event(raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")),
    ):
        try:
            parse()
        except WebInputError as exc:
            assert 400 <= exc.status < 500


SEEDED_SENDER = "web:0123456789abcdef0123456789abcdef"


@dataclass
class CursorDb:
    """A gateway database holding one indexed conversation, so a cursor can name a real row."""

    sessions: sessionmaker[Session]
    public_id: str


@pytest.fixture(scope="module")
def cursor_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CursorDb]:
    engine = gateway_engine(f"sqlite:///{tmp_path_factory.mktemp('cursor') / 'gateway.db'}")
    create_schema(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    public = Pseudonyms(sessions).of(SEEDED_SENDER)
    with sessions() as session, session.begin():
        session.add(ConsoleConversation(sender_id=SEEDED_SENDER, channel="web", first_ts=1.0, last_ts=2.0))
        session.flush()
        session.add(ConsoleConversationCard(sender_id=SEEDED_SENDER, public_id=public))
    yield CursorDb(sessions, public)
    engine.dispose()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursors(public_id: str) -> st.SearchStrategy[str]:
    """Cursors as a hostile client shapes them: free text, base64 of any bytes or JSON, and base64 of a
    well-formed pair whose parts are wrong (a raw sender id, a NUL byte, a nested value) or right."""
    ids = st.one_of(
        st.just(public_id), st.just(SEEDED_SENDER), st.just(public_id + "\x00"), st.just("web-" + "a" * 20),
        st.text(max_size=40), json_values,
    )  # fmt: skip
    pairs = st.lists(st.one_of(json_values, st.just(1795841274.5)), max_size=3) | st.tuples(json_values, ids)
    return st.one_of(
        st.text(max_size=300),
        st.binary(max_size=300).map(_b64),
        json_values.map(lambda v: _b64(json.dumps(v).encode())),
        pairs.map(lambda v: _b64(json.dumps(list(v)).encode())),
        st.integers(1, 3000).map(lambda n: _b64(("[" * n + "]" * n).encode())),
    )


@FUZZ
@given(params=st.dictionaries(st.sampled_from(CONSOLE_PARAMS), query_values), data=st.data())
def test_console_parsers_raise_only_console_errors(
    params: dict[str, str], data: st.DataObject, cursor_db: CursorDb
) -> None:
    cursor = data.draw(cursors(cursor_db.public_id), label="cursor")
    for parse in (lambda: Filters.parse(params), lambda: QueueQuery.parse(params)):
        try:
            parse()
        except ConsoleError as exc:
            assert exc.status == 400
    with cursor_db.sessions() as session:
        try:
            last_ts, sender = decode_cursor(session, cursor)
        except BadInput as exc:
            assert exc.status == 400 and exc.field == "cursor"
        else:  # only a cursor naming the seeded row by its console id opens it
            assert sender == SEEDED_SENDER and isinstance(last_ts, float)
            assert cursor_db.public_id in base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()


def test_a_cursor_the_server_gave_out_opens_its_row(cursor_db: CursorDb) -> None:
    """The fuzz above would pass with a parser that refuses everything: the real cursor must still work."""
    with cursor_db.sessions() as session:
        assert decode_cursor(session, encode_cursor(1795841274.5, cursor_db.public_id)) == (
            1795841274.5, SEEDED_SENDER,
        )  # fmt: skip
        with pytest.raises(BadInput, match="cursor"):
            decode_cursor(session, encode_cursor(1795841274.5, SEEDED_SENDER))  # a sender id is not a cursor
