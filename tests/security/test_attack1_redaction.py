"""Red-team finding F3: no proof the bot accepts survives the console's redaction.

The property is checked with the bot's own proof reader (``store.proofs``): for every order of a seeded shop,
its postcode in the spellings the reader forgives (dashes, dots, no space, lower case, alone or in a sentence)
and its customer's e-mail are redacted, then read again as a proof; nothing that is left may match the order.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import selectinload, sessionmaker

from console import shop_names_reader
from console.redact import Redactor
from store import models as shop_models
from store.db import make_engine
from store.migrate import upgrade
from store.proofs import matches, proof_candidates
from store.seed import seed


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('shop') / 'shop.db'}")
    upgrade(engine)
    with sessionmaker(engine)() as session:
        seed(session, seed=42, anchor=datetime(2025, 3, 3, tzinfo=UTC))
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def redactor(shop: Engine) -> Redactor:
    names, words = shop_names_reader(shop)()
    return Redactor(names, words)


@pytest.fixture(scope="module")
def orders(shop: Engine) -> list[tuple[str, str, str]]:
    """(e-mail, postcode, customer name) of every order."""
    with sessionmaker(shop)() as session:
        rows = session.execute(
            select(shop_models.Order).options(selectinload(shop_models.Order.customer))
        ).scalars()
        return [
            (o.customer.email, o.ship_postcode, o.customer.name)
            for o in rows
        ]


def spellings(postcode: str) -> list[str]:
    """The postcode as customers type it and as the proof reader still accepts it."""
    compact = postcode.replace(" ", "")
    found = {postcode, postcode.lower(), compact, compact.lower()}
    if " " in postcode:
        out, inward = postcode.split(" ", 1)
        found |= {f"{out}-{inward}", f"{out}-{inward}".lower(), f"{out}.{inward}", f"{out}  {inward}"}
    return sorted(found)


def test_no_accepted_proof_of_any_order_survives_redaction(
    redactor: Redactor, orders: list[tuple[str, str, str]]
) -> None:
    assert len(orders) >= 100
    leaks: list[str] = []
    for email, postcode, _name in orders:
        typed = [email, email.upper(), f"my email is {email}"]
        for spelling in spellings(postcode):
            typed += [spelling, f"my postcode is {spelling}", f"it's {spelling} thanks", f"  {spelling}  "]
        for text in typed:
            # anywhere in a conversation, and (bare 4-digit postcodes too) as the answer to the proof question
            views = [redactor.redact(text, proof_answer=True)]
            if not (postcode.isdigit() and len(postcode) == 4) or text.strip() == postcode or "postcode" in text:
                # a bare 4-digit postcode in a sentence that answers nothing is left (a year, a quantity)
                views.append(redactor.redact(text))
            for shown in views:
                if any(matches(c, email, postcode) for c in proof_candidates(shown)):
                    leaks.append(f"{text!r} -> {shown!r}")
    assert not leaks, f"{len(leaks)} proofs visible to staff, e.g. {leaks[:5]}"


def test_the_reported_leaks_are_gone(redactor: Redactor) -> None:
    for text in ("31300", "10115", "1012 AB", "90210", "W1F-9XX", "w1f-9xx", "my postcode is 2000"):
        assert "[postcode]" in redactor.redact(text), text
    assert redactor.redact("Thanks, Harry, that matches order ORD-100270.") == (
        "Thanks, [name], that matches order ORD-100270."
    )
    assert "Jonas" not in redactor.redact("billed to Jonas Garcia, Voltaire, Toulouse 31300, FR")


def test_customer_names_are_hidden_in_bot_replies(redactor: Redactor, orders: list[tuple[str, str, str]]) -> None:
    for _email, _postcode, name in orders[:50]:
        shown = redactor.redact(f"Invoice billed to {name}, 1 High Street")
        assert name not in shown and name.split()[-1] not in shown, shown


def test_ordinary_numbers_stay_readable(redactor: Redactor) -> None:
    for text in ("I ordered 2 in 2024", "it costs 1299", "order ORD-100188", "RMA-500001", "3 items"):
        assert "[" not in redactor.redact(text), text
