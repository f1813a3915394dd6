"""Runs a fixed set of conversations through the real stack to seed a tracker store for the console tests.

Used by the session fixture in tests/console/conftest.py (and by bench/console_bench.py). Web conversations
go through the gateway's web API; Telegram, Slack and tablet conversations are posted to rasa's ``gateway``
input channel with the metadata those channels' gateways set (sender ``"{channel}:{id}"``), so the tracker
holds exactly what the real channels would produce.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from connectors.claims import CLAIM_KEY, sign_claim
from scripts.stack import ROOT, Stack, StackConfig, StackError, free_port

MODEL = ROOT / "models" / "current.tar.gz"
PYTHON = str(ROOT / ".venv" / "bin" / "python")


@dataclass
class SeededConversation:
    """One conversation that was run: its tracker sender id and what it is meant to show."""

    name: str
    sender_id: str
    channel: str
    said: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)


@dataclass
class SeededStore:
    """The databases the real stack wrote, and the conversations in them by name."""

    tracker_db_url: str
    shop_db_url: str
    cases: dict[str, dict[str, Any]]
    conversations: dict[str, SeededConversation]

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form (written next to the databases so a run can be reused while developing)."""
        return {
            "tracker_db_url": self.tracker_db_url,
            "shop_db_url": self.shop_db_url,
            "cases": self.cases,
            "conversations": {k: vars(v) for k, v in self.conversations.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SeededStore:
        """Inverse of :meth:`to_json`."""
        return cls(
            data["tracker_db_url"],
            data["shop_db_url"],
            data["cases"],
            {k: SeededConversation(**v) for k, v in data["conversations"].items()},
        )


class _Talker:
    def __init__(self, session: aiohttp.ClientSession, config: StackConfig) -> None:
        self.session = session
        self.config = config

    async def web(self, conv: SeededConversation, text: str) -> str:
        if text.startswith("/"):
            # A forced intent no reply offered as a button: the gateway reads such a press as its title (F9), so
            # it goes to rasa the way the gateway would forward an offered one.
            return await self.rasa(conv, text, {})
        body = {"conversation_id": conv.sender_id.removeprefix("web:"), "text": text}
        async with self.session.post(f"{self.config.gateway_url}/api/web/messages", json=body) as resp:
            payload = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"gateway answered {resp.status}: {payload}")
        return "\n".join(m.get("text") or "" for m in payload["messages"])

    async def rasa(self, conv: SeededConversation, text: str, metadata: dict[str, Any]) -> str:
        # Standing in for the gateway's channels, so it signs the claim the action server believes as they do.
        staff = metadata.get("staff") or {}
        claim = sign_claim(
            self.config.claims_secret,
            sender=conv.sender_id,
            channel=conv.channel,
            source=f"{conv.channel}:console-test",
            staff_id=staff.get("id"),
            staff_role=staff.get("role"),
            store_id=metadata.get("store_id"),
        )
        body = {
            "sender": conv.sender_id,
            "message": text,
            "metadata": {**metadata, "channel": conv.channel, CLAIM_KEY: claim},
        }
        headers = {"Authorization": f"Bearer {self.config.token}"}
        url = f"{self.config.rasa_url}/webhooks/gateway/webhook"
        async with self.session.post(url, json=body, headers=headers) as resp:
            payload = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"rasa answered {resp.status}: {payload}")
        return "\n".join(m.get("text") or "" for m in payload)


def _script(cases: dict[str, dict[str, Any]]) -> list[tuple[str, str, list[str], dict[str, Any]]]:
    """(name, channel, messages, extra metadata) of every seeded conversation."""
    transit, delayed, returnable = cases["in_transit"], cases["delayed"], cases["returnable"]
    return [
        (
            "verified_tracking",
            "web",
            ["hi, where is my order?", transit["order_number"].replace("ORD-", "#"), transit["email"]],
            {},
        ),
        (
            "fallback_handoff",
            "web",
            ["/nlu_fallback", "/nlu_fallback", "/human_handoff"],
            {},
        ),
        ("low_confidence", "web", ["blorf quibble zanzibar wug", "hello"], {}),
        (
            "failed_verification",
            "web",
            ["where is my order", transit["order_number"], "someone@example.com"],
            {},
        ),
        (
            "telegram_delayed_handoff",
            "telegram",
            [
                "my parcel still hasn't arrived, where is it",
                delayed["order_number"],
                delayed["email"],
                "/human_handoff",
            ],
            {"display_name": "Camille"},
        ),
        (
            "slack_staff_shipping",
            "slack",
            ["how much is shipping to Germany for a £40 order?", "thanks a lot"],
            {"staff": {"id": "U0STAFF01", "role": "staff"}},
        ),
        (
            "tablet_postcode",
            "tablet",
            [f"can you track order {returnable['order_number']} please", returnable["postcode"].lower(), "bye"],
            {"store_id": "1"},
        ),
        (
            "address_and_phone",
            "web",
            [
                "I want to speak to a real person, call me on 07700 900123 or write to jo.bloggs@example.com",
                "I live at 12 Baker Street, London NW1 6XE and paid with 4111 1111 1111 1111",
            ],
            {},
        ),
    ]


async def _run_all(config: StackConfig, cases: dict[str, dict[str, Any]]) -> dict[str, SeededConversation]:
    done: dict[str, SeededConversation] = {}
    async with aiohttp.ClientSession() as session:
        talker = _Talker(session, config)
        for name, channel, messages, metadata in _script(cases):
            external = uuid.uuid4().hex[:12] if channel in ("web", "tablet") else str(uuid.uuid4().int % 10**9)
            conv = SeededConversation(name, f"{channel}:{external}", channel)
            for text in messages:
                conv.said.append(text)
                if channel == "web":
                    reply = await talker.web(conv, text)
                else:
                    reply = await talker.rasa(conv, text, metadata)
                conv.replies.append(reply)
            done[name] = conv
    return done


def seed_real_tracker(var: Path, progress: Any = sys.stderr) -> SeededStore:
    """Start the real stack on a fresh shop and tracker under ``var``, run the conversations, stop it.

    Args:
        var: an empty directory for the databases, logs and recommender artifacts.
        progress: where the stack reports its start-up.

    Returns:
        Where the databases are and which sender id each scripted conversation got.

    Raises:
        RuntimeError: when there is no trained model or a process fails.
    """
    if not MODEL.exists():
        raise RuntimeError(f"no trained model at {MODEL}: run `make model` first")
    shop_db = f"sqlite:///{var / 'shop.db'}"
    env = {"SHOP_DATABASE_URL": shop_db, "PATH": "/usr/bin:/bin"}
    setup = subprocess.run([PYTHON, "-m", "store", "setup"], cwd=ROOT, env=env, capture_output=True, text=True)
    if setup.returncode != 0:
        raise RuntimeError(setup.stdout + setup.stderr)
    listed = subprocess.run(
        [PYTHON, "-m", "store", "demo-cases"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    cases = {case["case"]: case for case in json.loads(listed.stdout)}
    artifacts = var / "recommender"
    subprocess.run(
        [PYTHON, "-m", "recommender", "train", "--from-store", "--out", str(artifacts), "--quiet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    config = StackConfig(
        shop_db_url=shop_db,
        tracker_db_url=f"sqlite:///{var / 'tracker.db'}",
        gateway_db_url=f"sqlite:///{var / 'gateway.db'}",
        token=uuid.uuid4().hex,
        log_dir=var / "log",
        model=MODEL,
        rasa_port=free_port(),
        actions_port=free_port(),
        gateway_port=free_port(),
        extra_env={"RECOMMENDER_ARTIFACTS": str(artifacts)},
    )
    running = Stack(config)
    try:
        running.start(timeout=300, progress=progress)
        conversations = asyncio.run(_run_all(config, cases))
    except StackError as error:
        raise RuntimeError(str(error)) from error
    finally:
        running.stop()
    seeded = SeededStore(config.tracker_db_url, shop_db, cases, conversations)
    (var / "seeded.json").write_text(json.dumps(seeded.to_json(), indent=1))
    return seeded


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    print(json.dumps(seed_real_tracker(out).to_json(), indent=1))


def clone_conversations(
    source_url: str,
    target_url: str,
    count: int,
    *,
    start_ts: float,
    span_seconds: float,
    prefix: str = "clone",
    seed: int = 7,
) -> list[str]:
    """Copy real conversations under new sender ids and times (for benches and retention tests).

    Each clone is a whole conversation of the source store, round-robin, with every event shifted so that
    it starts at a random moment in ``[start_ts, start_ts + span_seconds]``; the JSON ``timestamp`` is
    shifted with the column, so the clone reads exactly like a conversation rasa stored.

    Args:
        source_url: tracker store holding real conversations.
        target_url: tracker store to add the clones to (may be the same; its ``events`` table is created if missing).
        count: how many conversations to add.
        start_ts: earliest start (UNIX time).
        span_seconds: spread of the start times.
        prefix: sender ids become ``"{channel}:{prefix}{n:06d}"``.
        seed: random seed for the start times.

    Returns:
        The new sender ids.
    """
    import random

    from sqlalchemy import insert, select

    from console.tracker import _tracker_metadata, events, tracker_engine

    source, target = tracker_engine(source_url), tracker_engine(target_url)
    try:
        with source.connect() as conn:
            rows = conn.execute(select(events).order_by(events.c.id)).all()
        by_sender: dict[str, list[Any]] = {}
        for row in rows:
            by_sender.setdefault(row.sender_id, []).append(row)
        originals = [by_sender[s] for s in sorted(by_sender)]
        rng = random.Random(seed)
        _tracker_metadata.create_all(target)
        senders = []
        batch: list[dict[str, Any]] = []
        with target.begin() as conn:
            for n in range(count):
                original = originals[n % len(originals)]
                channel = original[0].sender_id.split(":", 1)[0]
                sender = f"{channel}:{prefix}{n:06d}"
                senders.append(sender)
                shift = start_ts + rng.random() * span_seconds - (original[0].timestamp or 0.0)
                for row in original:
                    data = json.loads(row.data)
                    data["timestamp"] = (row.timestamp or 0.0) + shift
                    batch.append(
                        {
                            "sender_id": sender,
                            "type_name": row.type_name,
                            "timestamp": data["timestamp"],
                            "intent_name": row.intent_name,
                            "action_name": row.action_name,
                            "data": json.dumps(data),
                        }
                    )
                if len(batch) > 20_000:
                    conn.execute(insert(events), batch)
                    batch = []
            if batch:
                conn.execute(insert(events), batch)
        return senders
    finally:
        source.dispose()
        target.dispose()
