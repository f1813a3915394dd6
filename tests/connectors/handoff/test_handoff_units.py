"""Pure parts of the hand-off: settings, opening hours, payload parsing, the state's one-winner claim."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import sessionmaker

from connectors.db import create_schema, gateway_engine
from connectors.errors import SettingsError
from connectors.handoff.settings import HandoffSettings, OpeningHours
from connectors.handoff.state import HandoffState
from connectors.handoff.translate import (
    CLAIM_ACTION,
    agent_message,
    handoff_of,
    is_resolve_command,
    notice_message,
    ticket_post,
    without_handoff,
)
from connectors.models import OutboundMessage

AT = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # a Monday


def test_opening_hours_parse_and_decide_in_the_shops_time_zone() -> None:
    hours = OpeningHours.parse("Mon-Fri 09:00-18:00; Sat 10:00-14:00", "Europe/London")
    assert hours.is_open(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))  # Monday 09:00 in London (GMT)
    assert not hours.is_open(datetime(2026, 11, 30, 18, 0, tzinfo=UTC))  # closes at 18:00
    assert hours.is_open(datetime(2026, 11, 28, 13, 59, tzinfo=UTC))  # Saturday
    assert not hours.is_open(datetime(2026, 11, 29, 12, 0, tzinfo=UTC))  # Sunday
    summer = datetime(2026, 7, 6, 8, 30, tzinfo=UTC)  # 09:30 BST on a Monday
    assert hours.is_open(summer)
    assert OpeningHours.parse("Fri-Mon 10:00-12:00").is_open(datetime(2026, 11, 29, 11, 0, tzinfo=UTC))  # wraps
    assert OpeningHours.parse("always").is_open(datetime(2026, 11, 29, 3, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HANDOFF_CLAIM_TIMEOUT_MINUTES": "soon"}, "HANDOFF_CLAIM_TIMEOUT_MINUTES must be a number"),
        ({"HANDOFF_CLAIM_TIMEOUT_MINUTES": "0"}, "greater than 0"),
        ({"HANDOFF_SWEEP_SECONDS": "nan"}, "greater than 0"),
        ({"HANDOFF_OPENING_HOURS": "weekdays 9-5"}, "cannot read"),
        ({"HANDOFF_OPENING_HOURS": "Mon-Fry 09:00-18:00"}, "unknown day"),
        ({"HANDOFF_OPENING_HOURS": "Mon 18:00-09:00"}, "closes before it opens"),
        ({"HANDOFF_OPENING_HOURS": "Mon 25:00-26:00"}, "impossible time"),
        ({"HANDOFF_TIMEZONE": "Mars/Olympus"}, "unknown time zone"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        HandoffSettings.from_env(env)


def test_settings_defaults() -> None:
    settings = HandoffSettings.from_env({})
    assert settings.claim_timeout_minutes == 10 and settings.sweep_seconds == 30
    assert settings.opening_hours.text == "Mon-Fri 09:00-18:00"  # what actions/handoff.py promises
    assert settings.opening_hours.timezone == "Europe/London"
    assert HandoffSettings.from_env({"HANDOFF_OPENING_HOURS": ""}).opening_hours.windows == ()  # empty: always
    assert HandoffSettings.from_env({"HANDOFF_CLAIM_TIMEOUT_MINUTES": "0.5"}).claim_timeout_minutes == 0.5


def test_handoff_payloads_are_read_and_kept_from_customers() -> None:
    payload = OutboundMessage(
        custom={"type": "handoff", "ticket": " HO-000007 ", "reason": "lost parcel", "summary": 3}
    )
    request = handoff_of(payload)
    assert request is not None and request.ticket == "HO-000007" and request.reason == "lost parcel"
    assert request.summary == "" and request.order_number is None
    assert handoff_of(OutboundMessage(custom={"type": "handoff"})) is None  # no ticket: not a hand-off
    assert handoff_of(OutboundMessage(custom={"type": "product_cards"})) is None
    text = OutboundMessage(text="hi")
    assert without_handoff([text, payload]) == [text]


def test_ticket_post_escapes_what_customers_typed() -> None:
    state = new_state()
    case, _ = state.open_case(
        ticket="HO-000001", conversation_id="web:a", channel="web", reason="asked", summary="<@U1> & <!here>", at=AT
    )
    post = ticket_post(case)
    assert "<!here>" not in str(post["blocks"]) and "&lt;!here&gt;" in str(post["blocks"])
    assert post["blocks"][-2]["elements"][0]["action_id"] == CLAIM_ACTION


def test_resolve_commands_and_attribution() -> None:
    words = HandoffSettings().resolve_words
    assert is_resolve_command(" Resolve. ", words) and is_resolve_command("!resolve", words)
    assert not is_resolve_command("I will resolve it tomorrow", words)
    message = agent_message("Sam", "Hello")
    assert message.text == "Sam (staff): Hello" and message.custom == {
        "type": "agent_message",
        "agent": "Sam",
        "text": "Hello",
    }


def test_notice_on_a_tablet_sends_the_shopper_to_the_till() -> None:
    state = new_state()
    case, _ = state.open_case(
        ticket="HO-1", conversation_id="tablet:s", channel="tablet", reason="r", summary="", at=AT
    )
    text = notice_message(case, out_of_hours=False, hours="always").text or ""
    assert "ask at the till" in text and "HO-1 stays open" in text


def new_state() -> HandoffState:
    engine = gateway_engine(f"sqlite:///{tempfile.mkdtemp(prefix='handoff-state-')}/gateway.db")
    create_schema(engine)
    return HandoffState(sessionmaker(engine, expire_on_commit=False))


def test_state_machine_open_assigned_closed() -> None:
    state = new_state()
    case, created = state.open_case(
        ticket="HO-9", conversation_id="web:c", channel="web", reason="r", summary="", at=AT
    )
    assert created and case.status == "open" and state.held_by_person("web:c") is None
    assert (
        state.open_case(ticket="HO-9", conversation_id="web:c", channel="web", reason="r", summary="", at=AT)[1]
        is False
    )
    won, case = state.claim("HO-9", "U1", "Sam", AT)
    assert won and case is not None and case.status == "assigned" and state.held_by_person("web:c") == case
    closed, case = state.close("HO-9", "U1", AT)
    assert closed and case is not None and case.status == "closed" and state.held_by_person("web:c") is None
    assert state.claim("HO-9", "U2", "Alex", AT)[0] is False  # closed tickets cannot be claimed
    assert state.close("HO-9", "U1", AT)[0] is False
    assert state.claim("HO-404", "U1", "Sam", AT) == (False, None)


async def test_two_staff_claiming_at_once_one_wins() -> None:
    state = new_state()
    state.open_case(ticket="HO-2", conversation_id="web:c", channel="web", reason="r", summary="", at=AT)
    results = await asyncio.gather(
        *(asyncio.to_thread(state.claim, "HO-2", f"U{i}", f"Staff {i}", AT) for i in range(8))
    )
    winners = [case.claimed_by for won, case in results if won and case]
    assert len(winners) == 1
    assert state.get("HO-2").claimed_by == winners[0]  # type: ignore[union-attr]


def test_a_ticket_claimed_while_the_sweep_runs_gets_no_nobody_claimed_notice() -> None:
    # The sweep reads the due tickets, then marks each before telling its customer: a claim in between must
    # win, or the customer would read "nobody has picked up your ticket" right after "Sam has picked it up".
    state = new_state()
    state.open_case(ticket="HO-3", conversation_id="web:c", channel="web", reason="r", summary="", at=AT)
    state.open_case(ticket="HO-4", conversation_id="web:d", channel="web", reason="r", summary="", at=AT)
    due = [case.ticket for case in state.due_for_notice(AT)]
    assert sorted(due) == ["HO-3", "HO-4"]
    state.claim("HO-3", "U1", "Sam", AT)
    assert state.mark_notice("HO-3", AT) is False
    assert state.mark_notice("HO-4", AT) is True
    assert state.mark_notice("HO-4", AT) is False  # once
    assert state.get("HO-3").notice_at is None  # type: ignore[union-attr]
