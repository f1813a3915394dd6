"""Whole conversations through the running stack: a representative part of tests/conversations/ (the blind
batches and issue 13's reports), each a test, sharing the e2e stack. `make bench-conversations` runs them all."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from scripts.conversations import (
    Conversation,
    Shop,
    TabletClient,
    WebClient,
    load_conversations,
    register_tablet,
    run_conversation,
    shop_file,
    transcript,
)
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parents[1] / "conversations"
#: One or more per area and per kind of follow-up (the rest run in `make bench-conversations`). Not mix-04: it
#: expects "nah forget the address. yes, cancel it" to cancel at once, and a yes with a "nah" in it is not a
#: clear yes (the question is asked again: actions/confirm.py, red-team round 3 NEW-1); tests/e2e/
#: test_confirmations.py covers the confirmations instead.
CHOSEN = {
    "blind_a.yml": [
        "trk-02", "trk-06", "trk-13", "ret-02", "ret-10", "ret-11", "ret-15", "shp-02", "shp-08", "pay-02",
        "pay-07", "ord-05", "ord-06", "hof-05", "hof-06", "prd-08", "prd-11", "prv-03", "prv-09",
        "tab-04", "tab-10", "chat-09", "acc-02",
    ],
    "blind_f.yml": ["f-track-02", "f-mix-05"],
    "blind_g.yml": ["g-mix-02", "g-tab-07"],
    "blind_h.yml": ["h-hand-03", "h-mix-01"],
    "blind_i.yml": ["i-prv-02", "i-ord-08"],
    "blind_j.yml": ["j-ret-01", "j-trk-02"],
    "issue13.yml": [
        "i13-question-not-executed", "i13-invoice-after-failed-payment", "i13-stock-of-the-product-named-now",
        "i13-one-ticket", "i13-two-questions", "i13-tablet-argan-shampoo",
    ],
}  # fmt: skip


def chosen() -> list[Conversation]:
    picked: list[Conversation] = []
    for name, ids in CHOSEN.items():
        by_id = {c.id: c for c in load_conversations(HERE / name)}
        missing = [i for i in ids if i not in by_id]
        assert not missing, f"{name} has no conversation {missing}"
        picked += [by_id[i] for i in ids]
    return picked


@pytest.fixture(scope="module")
def shop(stack: RunningStack) -> Shop:
    """The e2e shop, reset to its seeded state from the copy taken before any test ran."""
    assert stack.seeded is not None
    return Shop(shop_file(stack.shop_db_url), pristine=stack.seeded)


@pytest.fixture(scope="module")
def tablet_token(stack: RunningStack) -> str:
    return register_tablet(stack.config.gateway_db_url, stack.shop_db_url)


@pytest.mark.parametrize("conversation", chosen(), ids=lambda c: c.id)
async def test_conversation(conversation: Conversation, stack: RunningStack, shop: Shop, tablet_token: str) -> None:
    shop.reset()  # every conversation meets the demo shop as seeded, whatever ran before
    gateway = stack.config.gateway_url
    client = TabletClient(gateway, tablet_token) if conversation.channel == "tablet" else WebClient(gateway)
    async with aiohttp.ClientSession() as session:
        result = await run_conversation(
            conversation, client, stack.cases, shop, session, stack.config.rasa_url, stack.config.api_token
        )
    shop.reset()
    assert result.passed, transcript(result)
