"""Console sign-in: wrong passwords slow a guesser down with growing delays and never lock staff out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from ipaddress import ip_network
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from connectors.db import create_schema, gateway_engine
from console import models as _models  # noqa: F401  (declares the console tables)
from console.auth import Auth, add_user
from console.errors import NotSignedIn, TooManyAttempts
from console.settings import ConsoleSettings
from console.web import STATE_KEY
from tests.security.conftest import LEAD_PASSWORD, Gateway

STAFF = "lead@example.com"
ATTACKER, OFFICE = "203.0.113.9", "198.51.100.7"


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 12, 1, 9, 0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def auth(tmp_path: Path) -> tuple[Auth, Clock]:
    engine = gateway_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    create_schema(engine)
    sessions: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)
    add_user(sessions, STAFF, "lead", LEAD_PASSWORD)
    clock = Clock()
    return Auth(sessions, ConsoleSettings(), clock=clock), clock


def guess(auth: Auth, client: str = ATTACKER, email: str = STAFF) -> str:
    """One wrong password; returns "401" or "429:<seconds>"."""
    try:
        auth.sign_in(email, "not-the-password", client)
    except NotSignedIn:
        return "401"
    except TooManyAttempts as exc:
        return f"429:{exc.retry_after}"
    raise AssertionError("a wrong password signed in")


def test_an_attacker_cannot_keep_staff_out(auth: tuple[Auth, Clock]) -> None:
    service, clock = auth
    # For an hour the attacker sends a wrong password every 10 seconds, whatever the answer; every five
    # minutes the member of staff signs in from the office: at once, never told to wait, never locked out.
    for minute in range(60):
        for _ in range(6):
            guess(service)
            clock.advance(10)
        if minute % 5 == 4:
            service.sign_in(STAFF, LEAD_PASSWORD, OFFICE)


def test_failures_from_many_addresses_do_not_delay_the_account_elsewhere(auth: tuple[Auth, Clock]) -> None:
    # Red-team round 3: an account-wide delay (30 s at most) refused the correct password too, so a stranger
    # failing now and then from anywhere kept that member of staff out. Only the failing sources wait.
    service, _clock = auth
    strangers = [f"203.0.113.{i}" for i in range(1, 21)]
    for address in strangers:
        for _ in range(4):
            guess(service, client=address)
    assert all(guess(service, client=a).startswith("429") for a in strangers)  # each source is slowed ...
    service.sign_in(STAFF, LEAD_PASSWORD, OFFICE)  # ... and the account is not, from elsewhere
    service.sign_in(STAFF, LEAD_PASSWORD, OFFICE)


def test_the_guessers_delay_grows_and_is_capped(auth: tuple[Auth, Clock]) -> None:
    service, clock = auth
    waits = []
    for _ in range(16):
        answer = guess(service)
        while answer.startswith("429"):
            seconds = int(answer.split(":")[1])
            waits.append(seconds)
            clock.advance(seconds)
            answer = guess(service)
        assert answer == "401"
    assert waits[:6] == [1, 2, 4, 8, 16, 32]
    assert max(waits) == ConsoleSettings().login_max_delay_seconds
    # Trying again before the delay ran out is refused without checking the password (and without counting).
    assert guess(service).startswith("429")
    assert guess(service) == guess(service)


def test_one_address_trying_many_accounts_is_slowed_too(auth: tuple[Auth, Clock]) -> None:
    service, _clock = auth
    answers = [guess(service, email=f"user{i}@example.com") for i in range(14)]
    assert answers[:12] == ["401"] * 12 and answers[12].startswith("429")


def test_the_real_user_signing_in_does_not_reset_the_guessers_delay(auth: tuple[Auth, Clock]) -> None:
    service, clock = auth
    for _ in range(5):
        answer = guess(service)
        clock.advance(int(answer.split(":")[1]) if answer.startswith("429") else 0)
    service.sign_in(STAFF, LEAD_PASSWORD, OFFICE)
    assert guess(service).startswith("429")


async def test_a_source_is_counted_as_the_web_channel_counts_it(all_channels: Gateway) -> None:
    # Without a trusted proxy a client's own X-Forwarded-For is not believed: rotating it is one source.
    client = all_channels.client
    for i in range(3):
        headers = {"X-Forwarded-For": f"198.51.100.{i}"}
        resp = await client.post("/api/console/login", json={"email": STAFF, "password": "wrong-1"}, headers=headers)
        assert resp.status == 401
    resp = await client.post(
        "/api/console/login", json={"email": STAFF, "password": "wrong-1"}, headers={"X-Forwarded-For": "192.0.2.1"}
    )
    assert resp.status == 429


async def test_behind_a_trusted_proxy_a_stranger_does_not_keep_staff_out(all_channels: Gateway) -> None:
    # Behind the shop's reverse proxy every sign-in came from the proxy's address, so the stranger's failures
    # and the staff member's correct password shared one (account, source) pair: 429 for both.
    state = all_channels.client.server.app[STATE_KEY]
    state.settings = state.auth.settings = ConsoleSettings(trusted_proxies=(ip_network("127.0.0.0/8"),))
    client, stranger = all_channels.client, {"X-Forwarded-For": ATTACKER}
    for _ in range(5):
        await client.post("/api/console/login", json={"email": STAFF, "password": "wrong-1"}, headers=stranger)
    resp = await client.post("/api/console/login", json={"email": STAFF, "password": "wrong-1"}, headers=stranger)
    assert resp.status == 429  # the stranger's source is slowed
    resp = await client.post(
        "/api/console/login", json={"email": STAFF, "password": LEAD_PASSWORD}, headers={"X-Forwarded-For": OFFICE}
    )
    assert resp.status == 200, await resp.text()


async def test_the_http_answer_says_when_to_retry(all_channels: Gateway) -> None:
    client = all_channels.client
    for _ in range(3):
        resp = await client.post("/api/console/login", json={"email": STAFF, "password": "wrong-password-1"})
        assert resp.status == 401
    resp = await client.post("/api/console/login", json={"email": STAFF, "password": LEAD_PASSWORD})
    assert resp.status == 429 and resp.headers["Retry-After"] == "1"
    assert "try again in 1 second" in (await resp.json())["error"]
