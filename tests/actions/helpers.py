"""Fixtures of the action tests: a seeded SQLite order store per test and a tracker builder."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import sessionmaker

from actions.common import set_claims_secret, set_store
from connectors.claims import CLAIM_KEY, sign_claim
from store.db import make_engine
from store.migrate import upgrade
from store.seed import seed
from store.service import OrderStore

ROOT = Path(__file__).resolve().parents[2]
ANCHOR = datetime(2025, 3, 3, tzinfo=UTC)
NOW = ANCHOR + timedelta(hours=9)
#: The gateway <-> action server secret of the action tests (`make_tracker` signs claims with it).
CLAIMS_SECRET = "action-tests-claims-secret-0123456789"


@pytest.fixture(autouse=True)
def claims_secret() -> Iterator[str]:
    """The action server checks claims with `CLAIMS_SECRET` during every action test."""
    set_claims_secret(CLAIMS_SECRET)
    yield CLAIMS_SECRET
    set_claims_secret(None)


def signed_metadata(
    sender: str, metadata: dict[str, Any], source: str | None = None, secret: str = CLAIMS_SECRET
) -> dict[str, Any]:
    """``metadata`` plus the claim the gateway would sign for it (channel, staff, tablet shop, source)."""
    channel = str(metadata.get("channel") or "web")
    staff = metadata.get("staff") if isinstance(metadata.get("staff"), dict) else {}
    claim = sign_claim(
        secret,
        sender=sender,
        channel=channel,
        source=source or f"{channel}:test-source",
        staff_id=staff.get("id"),
        staff_role=staff.get("role"),
        store_id=metadata.get("store_id"),
    )
    return {**metadata, CLAIM_KEY: claim}


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One seeded demo shop file; each test works on its own copy."""
    path = tmp_path_factory.mktemp("shop") / "shop.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with sessionmaker(engine)() as session:
        seed(session, seed=42, anchor=ANCHOR)
        session.commit()
    engine.dispose()
    return path


@pytest.fixture
def store(seeded_db: Path, tmp_path: Path) -> Iterator[OrderStore]:
    """The order store every action uses during the test, on a private copy of the demo shop."""
    copy = tmp_path / "shop.db"
    shutil.copy(seeded_db, copy)
    engine = make_engine(f"sqlite:///{copy}")
    shop = OrderStore(sessionmaker(engine), now=lambda: NOW)
    set_store(shop)
    yield shop
    set_store(None)
    engine.dispose()


@pytest.fixture
def cases(store: OrderStore) -> dict[str, dict[str, Any]]:
    """The demo cases by name (in_transit, delayed, lost_parcel, returnable, placed, ...)."""
    return {case["case"]: case for case in store.demo_cases(limit=50)}


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    """domain.yml as the action server receives it."""
    return yaml.safe_load((ROOT / "domain.yml").read_text())


def make_tracker(
    sender: str = "web:test-conversation",
    *,
    slots: dict[str, Any] | None = None,
    intent: str = "inform",
    text: str = "",
    entities: list[dict[str, Any]] | None = None,
    events: list[dict[str, Any]] | None = None,
    active_loop: str | None = None,
    metadata: dict[str, Any] | None = None,
    input_channel: str | None = None,
    signed: bool = True,
    source: str | None = None,
) -> Tracker:
    """A tracker as rasa would send it: slots, the latest message and optionally earlier events.

    ``input_channel`` defaults to the metadata's channel, as when the gateway delivered the message;
    pass ``"rest"`` to stand for a caller of Rasa's own REST channel. The metadata carries the claim
    the gateway signs for it (``signed=False``: plain metadata, as anyone could write it).
    """
    metadata = metadata or {"channel": "web"}
    if signed and CLAIM_KEY not in metadata:
        metadata = signed_metadata(sender, metadata, source)
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": entities or [],
        "metadata": metadata,
    }
    channel = input_channel or str(metadata.get("channel") or "rest")
    return Tracker(
        sender_id=sender,
        slots=dict(slots or {}),
        latest_message=latest,
        events=list(events or []) + [
            {"event": "user", "text": text, "parse_data": latest, "input_channel": channel}
        ],
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


@dataclass
class Outcome:
    """What one action run produced."""

    messages: list[dict[str, Any]]
    events: list[dict[str, Any]]

    @property
    def responses(self) -> list[str | None]:
        """The response names chosen, in order."""
        return [m.get("response") for m in self.messages]

    def message(self, response: str) -> dict[str, Any]:
        """The first message that used `response` (fails the test when none did)."""
        for m in self.messages:
            if m.get("response") == response:
                return m
        raise AssertionError(f"{response} not uttered; got {self.responses}")

    def slots(self) -> dict[str, Any]:
        """Slot values the action set."""
        return {e["name"]: e["value"] for e in self.events if e.get("event") == "slot"}

    def followup(self) -> str | None:
        """The follow-up action the action asked for, if any."""
        return next((e["name"] for e in self.events if e.get("event") == "followup"), None)


async def run(action: Action, tracker: Tracker, domain: dict[str, Any]) -> Outcome:
    """Run a custom action the way the SDK does and collect its messages and events."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain)
    return Outcome(dispatcher.messages, list(events or []))


def grant(store: OrderStore, case: dict[str, Any], sender: str = "web:test-conversation") -> str:
    """Verify `case`'s order in conversation `sender` (as the form would) and return its number."""
    store.verify(sender, case["order_number"], case["email"])
    return case["order_number"]


def bot(response: str, text: str = "...") -> dict[str, Any]:
    """An earlier bot message as rasa records it (the response it used)."""
    return {"event": "bot", "text": text, "metadata": {"utter_action": response}}


def user(text: str = "earlier", intent: str = "inform") -> dict[str, Any]:
    """An earlier customer message as rasa records it."""
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}, "entities": []}}


def said(out: Outcome) -> str:
    """Everything the action said (texts, response names and their values), lower-cased."""
    return " ".join(str(v) for m in out.messages for v in m.values() if v).lower()
