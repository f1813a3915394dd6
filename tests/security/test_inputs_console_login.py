"""Console sign-in: wrong passwords slow a guesser down with growing delays and never lock staff out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from connectors.db import create_schema, gateway_engine
from console import models as _models  # noqa: F401  (declares the console tables)
from console.auth import ACCOUNT_MAX_DELAY, Auth, add_user
from console.errors import NotSignedIn, TooManyAttempts
from console.settings import ConsoleSettings
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
    # minutes the member of staff signs in from the office: at worst after a short wait, never locked out.
    for minute in range(60):
        for _ in range(6):
            guess(service)
            clock.advance(10)
        if minute % 5 == 4:
            try:
                service.sign_in(STAFF, LEAD_PASSWORD, OFFICE)
            except TooManyAttempts as exc:
                assert exc.retry_after <= ACCOUNT_MAX_DELAY, f"staff told to wait {exc.retry_after} s"
                clock.advance(exc.retry_after)
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


async def test_the_http_answer_says_when_to_retry(all_channels: Gateway) -> None:
    client = all_channels.client
    for _ in range(3):
        resp = await client.post("/api/console/login", json={"email": STAFF, "password": "wrong-password-1"})
        assert resp.status == 401
    resp = await client.post("/api/console/login", json={"email": STAFF, "password": LEAD_PASSWORD})
    assert resp.status == 429 and resp.headers["Retry-After"] == "1"
    assert "try again in 1 second" in (await resp.json())["error"]
