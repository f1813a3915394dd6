"""End-to-end fixtures: the real rasa server, action server and gateway on free ports, on a fresh demo shop."""

from __future__ import annotations

import json
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectors.claims import CLAIM_KEY, sign_claim
from scripts.demo_stack import MODEL, DemoSetupError, local_stack_config, seed_demo_shop, train_recommender
from scripts.stack import Stack, StackConfig, StackError


@dataclass
class RunningStack:
    """URLs of the running processes and the demo cases of their shop.

    Attributes:
        seeded: a copy of the shop as seeded, before any test changed it (to reset orders from).
    """

    config: StackConfig
    cases: dict[str, dict[str, Any]]
    shop_db_url: str
    seeded: Path | None = None


@contextmanager
def launch(var: Path, extra_env: dict[str, str] | None = None, *, recommender: bool = False) -> Iterator[RunningStack]:
    """Seed a demo shop under ``var``, start rasa, actions and a gateway on free ports, and stop them after.

    Args:
        var: a fresh folder for the shop, tracker and gateway databases and the logs.
        extra_env: settings for these processes (channel tokens, fake API URLs...).
        recommender: also train recommender artifacts from the shop (for product answers).

    Yields:
        The running stack; fails the test if a process does not start or dies meanwhile.
    """
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run the tests with `make test`, which trains it once")
    settings = dict(extra_env or {})
    try:
        shop = seed_demo_shop(var)
        seeded = var / "shop.seeded.db"
        with sqlite3.connect(shop.path) as src, sqlite3.connect(seeded) as dst:
            src.backup(dst)
        if recommender:
            settings["RECOMMENDER_ARTIFACTS"] = str(train_recommender(var, shop))
    except DemoSetupError as error:
        pytest.fail(str(error))
    config = local_stack_config(var, shop, settings, model=MODEL)
    running = Stack(config)
    try:
        running.start(timeout=240, progress=sys.stderr)
    except StackError as error:
        pytest.fail(str(error))
    try:
        yield RunningStack(config, shop.cases, shop.db_url, seeded)
    finally:
        dead = running.dead()
        running.stop()
        assert not dead, f"{[s.name for s in dead]} died during the e2e tests; logs in {config.log_dir}"
        silent = silent_turns(config.log_dir / "gateway.log")
        # every customer message gets an answer: the gateway's guard logs each turn rasa left empty
        assert not silent, f"{len(silent)} customer message(s) got no answer from rasa: {silent[:3]}"


def silent_turns(gateway_log: Path) -> list[str]:
    """The gateway's "rasa answered nothing" warnings (connectors/dispatch.py), one per silent turn."""
    if not gateway_log.exists():
        return []
    lines = gateway_log.read_text(errors="replace").splitlines()
    return [line for line in lines if "rasa answered nothing" in line]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """Start the three processes once for the whole e2e session (the model is trained by `make test`)."""
    # Every e2e conversation comes from 127.0.0.1 and many reuse the same demo orders: the per-address web
    # limit and the pauses after failed proofs (per source, per order) are not under test here but in
    # tests/security/test_stack.py, on a stack with the defaults.
    quiet = {
        "GATEWAY_WEB_RATE_PER_ADDRESS": "100000",
        "SHOP_PROOF_FAILURES_PER_SOURCE": "100000",
        "SHOP_PROOF_FAILURES_PER_ORDER": "100000",
        "SHOP_PROOF_FAILURES_PER_PROOF": "100000",
    }
    with launch(tmp_path_factory.mktemp("e2e"), quiet, recommender=True) as running:
        yield running


@dataclass
class Chat:
    """One customer conversation through the gateway's web API."""

    base_url: str
    conversation_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    transcript: list[tuple[str, str]] = field(default_factory=list)
    #: The stack, for intents a test forces that no reply offered (sent to rasa the way the gateway does).
    config: StackConfig | None = None
    #: Buttons of the latest reply: payload -> title.
    offered: dict[str, str] = field(default_factory=dict)

    async def _post(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.base_url}/api/web/messages", json=body) as resp,
        ):
            payload = await resp.json()
            assert resp.status == 200, payload
        return self._replied(payload["messages"], through_gateway=True)

    def _replied(self, messages: list[dict[str, Any]], *, through_gateway: bool) -> list[dict[str, Any]]:
        # buttons of a reply that bypassed the gateway were never offered by it: pressing them is forcing too
        buttons = [b for m in messages for b in m.get("buttons") or []] if through_gateway else []
        self.offered = {b["payload"]: b.get("title") or "" for b in buttons}
        for message in messages:
            self.transcript.append(("bot", message.get("text") or json.dumps(message)))
        return messages

    async def send_payload(self, payload: str) -> list[dict[str, Any]]:
        """Press a button the latest reply offered, or force an intent no reply offered.

        The gateway forwards only offered payloads (connectors/offers.py); a forced one (``/nlu_fallback``,
        a recommendation with entities) goes to rasa's gateway channel with the claim the gateway would sign.
        """
        self.transcript.append(("user", payload))
        if payload in self.offered:
            body = {"conversation_id": self.conversation_id, "payload": payload, "title": self.offered[payload]}
            return await self._post(body)
        assert self.config is not None, f"{payload} was not offered and this chat cannot force it"
        sender = f"web:{self.conversation_id}"
        claim = sign_claim(self.config.claims_secret, sender=sender, channel="web", source="web:ip:127.0.0.0/8")
        body = {"sender": sender, "message": payload, "metadata": {"channel": "web", CLAIM_KEY: claim}}
        headers = {"Authorization": f"Bearer {self.config.token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.config.rasa_url}/webhooks/gateway/webhook", json=body, headers=headers) as resp,
        ):
            replies = await resp.json()
            assert resp.status == 200, replies
        return self._replied(replies, through_gateway=False)

    async def say(self, text: str) -> str:
        """Send `text`; return the bot's replies joined into one string."""
        self.transcript.append(("user", text))
        return self.text(await self._post({"conversation_id": self.conversation_id, "text": text}))

    async def press(self, payload: str) -> str:
        """Press a button (send its payload; see `send_payload`)."""
        return self.text(await self.send_payload(payload))

    async def buttons(self, text: str) -> tuple[str, list[dict[str, str]]]:
        """Send `text`; return the replies and every button offered."""
        self.transcript.append(("user", text))
        messages = await self._post({"conversation_id": self.conversation_id, "text": text})
        return self.text(messages), [b for m in messages for b in m.get("buttons") or []]

    @staticmethod
    def text(messages: list[dict[str, Any]]) -> str:
        """All text of the replies."""
        return "\n".join(m.get("text") or "" for m in messages)

    def dump(self) -> str:
        """The transcript, for assertion messages."""
        return "\n".join(f"{who}: {text}" for who, text in self.transcript)


@pytest.fixture
def chat(stack: RunningStack) -> Chat:
    """A new conversation."""
    return Chat(stack.config.gateway_url, config=stack.config)


@pytest.fixture
def cases(stack: RunningStack) -> dict[str, dict[str, Any]]:
    """The e2e shop's demo cases by name."""
    return stack.cases


def shop_path(stack: RunningStack) -> Path:
    """Path of the e2e shop's SQLite file."""
    return Path(stack.shop_db_url.removeprefix("sqlite:///"))
