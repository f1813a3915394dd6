"""Red-team finding F4: one known e-mail (or postcode) tried against every order number, from fresh conversations
and rotating sources, must not find the customer's order.

Each order only ever saw one failure and each source a handful, so on main before this change the per-order and
per-source pauses never tripped and the e-mail found its order. Failures now count per proof value as well (a
keyed hash of the normalised e-mail or postcode, across orders, conversations and sources), and every loopback
address is one source. Runs on SQLite and PostgreSQL (the order store's fixtures).
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from connectors.claims import CLAIM_KEY, verify_claim
from connectors.rasa_client import RasaClient
from connectors.source import client_address, parse_trusted_proxies
from connectors.web import WebChannel
from connectors.web.settings import WebSettings
from console.checks import paused_checks
from gateway import create_app
from store import models as m
from store.errors import VerificationFailed, VerificationPaused
from store.proofs import Candidate, ProofHasher, ProofLimits
from store.service import OrderStore
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, make_settings
from tests.store.conftest import NOW

CLAIMS = "claims-secret-for-the-source-tests-0123"


class Clock:
    """A store clock the test moves."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> Any:
        return self.now


def _order(db: Session, number: str) -> m.Order:
    return db.execute(select(m.Order).where(m.Order.number == number)).scalar_one()


def _not_theirs(db: Session, customer_id: int, count: int) -> list[str]:
    """Order numbers of other customers."""
    stmt = select(m.Order.number).where(m.Order.customer_id != customer_id).order_by(m.Order.number).limit(count)
    return list(db.execute(stmt).scalars())


def _enumerate(store: OrderStore, proof: str, numbers: list[str]) -> tuple[list[str], dict[str, int]]:
    """The attack: ``proof`` against each order number, every try from a new conversation and a new source."""
    opened: list[str] = []
    outcomes = {"failed": 0, "paused": 0}
    for i, number in enumerate(numbers):
        try:
            store.verify(f"web:enum-{uuid.uuid4().hex}", number, proof, source=f"web:ip:198.18.{i // 250}.{i % 250}")
        except VerificationFailed:
            outcomes["failed"] += 1
        except VerificationPaused as paused:
            assert paused.scope == "proof"
            outcomes["paused"] += 1
        else:
            opened.append(number)
    return opened, outcomes


@pytest.mark.parametrize("kind", ["email", "postcode"])
def test_one_proof_against_every_order_finds_nothing(store: OrderStore, db: Session, kind: str) -> None:
    victim = _order(db, "ORD-100270")
    proof = victim.customer.email if kind == "email" else victim.ship_postcode
    # every order number of the shop, the victim's near the end (as in the finding: 100250..100280 found it)
    numbers = [f"ORD-{n}" for n in range(100001, 100301) if n != 100270] + [victim.number]
    opened, outcomes = _enumerate(store, proof, numbers)
    assert opened == []
    # three free failures (a customer who mistypes the order number twice still gets in), then nothing is checked
    assert outcomes["failed"] == store.limits.per_proof
    assert outcomes["paused"] == len(numbers) - store.limits.per_proof


def test_spellings_of_one_proof_share_its_count(store: OrderStore, db: Session) -> None:
    """Case of an e-mail, spaces and dashes of a postcode: what the proof reader folds together counts as one."""
    victim = _order(db, "ORD-100188")
    spaced = victim.ship_postcode
    compact = spaced.replace(" ", "")
    spellings = [spaced.lower(), compact, compact[:-3] + "-" + compact[-3:]]
    others = _not_theirs(db, victim.customer_id, 6)
    for i, spelling in enumerate(spellings):
        with pytest.raises(VerificationFailed):
            store.verify(f"web:spell-{i}", others[i], spelling, source=f"web:ip:198.18.9.{i}")
    with pytest.raises(VerificationPaused) as paused:
        store.verify("web:spell-x", victim.number, spaced.upper(), source="web:ip:198.18.9.99")
    assert paused.value.scope == "proof"
    email = victim.customer.email
    for i, spelling in enumerate([email.upper(), f" {email} ", f"mailto:{email}"]):
        with pytest.raises(VerificationFailed):
            store.verify(f"web:mail-{i}", others[3 + i], spelling, source=f"web:ip:198.18.8.{i}")
    with pytest.raises(VerificationPaused):
        store.verify("web:mail-x", victim.number, email.title(), source="web:ip:198.18.8.99")


def test_a_customer_who_mistypes_the_order_number_twice_still_gets_in(store: OrderStore, db: Session) -> None:
    order = _order(db, "ORD-100150")
    email = order.customer.email
    wrong = _not_theirs(db, order.customer_id, 2)
    for typo in wrong:  # their own e-mail, the wrong order number
        with pytest.raises(VerificationFailed):
            store.verify("web:owner-typos", typo, email, source="web:ip:192.0.2.30")
    verified = store.verify("web:owner-typos", order.number, email, source="web:ip:192.0.2.30")
    assert verified.order_number == order.number and verified.scope == "customer"
    # the match forgives the proof's failures: another typo later starts from a clean count
    for i in range(store.limits.per_proof - 1):
        with pytest.raises(VerificationFailed):
            store.verify(f"web:owner-later-{i}", wrong[0], email, source="web:ip:192.0.2.31")
    assert store.verify("web:owner-later-ok", order.number, email).order_number == order.number


def test_proof_pauses_grow_like_the_others(session_factory: sessionmaker[Session], db: Session) -> None:
    clock = Clock()
    store = OrderStore(session_factory, now=clock, limits=ProofLimits())
    victim = _order(db, "ORD-100201")
    email = victim.customer.email
    others = _not_theirs(db, victim.customer_id, 6)
    for i in range(3):
        with pytest.raises(VerificationFailed):
            store.verify(f"web:g{i}", others[i], email, source=f"web:ip:10.1.0.{i}")
    waits = []
    for step in range(3):
        with pytest.raises(VerificationPaused) as paused:
            store.verify(f"web:p{step}", victim.number, email, source=f"web:ip:10.1.1.{step}")
        waits.append(paused.value.retry_after_seconds)
        clock.now += timedelta(seconds=paused.value.retry_after_seconds + 1)
        with pytest.raises(VerificationFailed):  # one more wrong order once the pause is over: a longer pause
            store.verify(f"web:q{step}", others[3 + step], email, source=f"web:ip:10.1.2.{step}")
    assert waits == [300, 600, 1200]


def test_the_typed_proof_is_never_stored(session_factory: sessionmaker[Session], db: Session) -> None:
    victim = _order(db, "ORD-100222")
    email = victim.customer.email
    store = OrderStore(session_factory, now=lambda: NOW, proof_hasher=ProofHasher("key-one"))
    with pytest.raises(VerificationFailed):
        store.verify("web:stored", "ORD-100001", email, source="web:ip:198.51.100.3")
    with session_factory() as session:
        rows = session.execute(text("SELECT * FROM verification_attempts WHERE conversation_id = 'web:stored'")).all()
    assert len(rows) == 1
    stored = " ".join(str(v) for v in rows[0])
    assert email.lower() not in stored.lower() and email.split("@")[0].lower() not in stored.lower()
    key = rows[0]._mapping["proof_key"]
    assert key == ProofHasher("key-one")(Candidate("email", email.lower()))
    assert key != ProofHasher("key-two")(Candidate("email", email.lower()))  # keyed: no key, no dictionary


def test_staff_see_paused_proofs_only_as_fingerprints(store: OrderStore, db: Session) -> None:
    victim = _order(db, "ORD-100233")
    email = victim.customer.email
    for i, number in enumerate(_not_theirs(db, victim.customer_id, 4)):
        with contextlib.suppress(VerificationFailed, VerificationPaused):
            store.verify(f"web:staff-{i}", number, email, source=f"web:ip:198.18.7.{i}")
    [row] = [c for c in store.paused_checks() if c.scope == "proof"]
    assert (row.failures, row.refused, row.paused_now) == (3, 1, True)
    for raw in (False, True):
        shown = paused_checks(store, raw=raw, secret="console-secret-for-tests")
        [proof_row] = [r for r in shown["checks"] if r["scope"] == "proof"]
        assert email.lower() not in str(shown).lower()
        assert proof_row["key"].startswith("proof:#") and row.key not in proof_row["key"]
        assert shown["limits"]["free_failures_per_proof"] == store.limits.per_proof


# ------------------------------------------------------------------------------------------ loopback sources


def test_every_loopback_address_is_one_source() -> None:
    sources = {client_address(f"127.{a}.{b}.{c}", None, ()) for a, b, c in ((0, 0, 1), (0, 0, 77), (9, 8, 7))}
    assert sources == {"127.0.0.0/8"}
    assert client_address("::ffff:127.3.2.1", None, ()) == "127.0.0.0/8"
    assert client_address("169.254.10.20", None, ()) == client_address("169.254.99.1", None, ()) == "169.254.0.0/16"
    # behind a trusted proxy on loopback, forwarded addresses are still told apart
    proxies = parse_trusted_proxies("127.0.0.1")
    assert client_address("127.0.0.1", "203.0.113.7", proxies) == "203.0.113.7"
    assert client_address("127.0.0.1", "127.0.0.9", proxies) == "127.0.0.0/8"


async def test_local_processes_on_many_loopback_addresses_share_one_limit(fake_rasa: FakeRasa) -> None:
    """The finding's local attacker bound each connection to another 127.x.y.z: same source, same budget."""
    settings = make_settings(fake_rasa.url, claims_secret=CLAIMS)
    rasa = RasaClient(settings.rasa_url, TOKEN, settings.rasa_timeout, claims_secret=CLAIMS)
    channel = WebChannel(settings=WebSettings(rate_per_address=3, rate_per_conversation=100))
    app = create_app(settings, rasa, [channel])
    async with TestServer(app, host="127.0.0.1", port=0) as server:
        statuses = []
        for i in range(4):
            connector = aiohttp.TCPConnector(local_addr=(f"127.0.{i}.{i + 2}", 0))
            async with aiohttp.ClientSession(connector=connector) as session, session.post(
                f"http://127.0.0.1:{server.port}/api/web/messages",
                json={"conversation_id": uuid.uuid4().hex, "text": "hi"},
            ) as resp:
                statuses.append(resp.status)
        assert statuses == [200, 200, 200, 429]
        sources = {
            verify_claim(CLAIMS, body["metadata"][CLAIM_KEY], sender=body["sender"]).source
            for body in fake_rasa.received
        }
        assert sources == {"web:ip:127.0.0.0/8"}

