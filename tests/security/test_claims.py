"""Staff privilege and other claims from metadata (finding 2): the actions believe only the gateway's signed claim.

On main the action server trusted ``metadata.staff`` of any tracker it received: the finding's forged call
(``{"channel": "slack", "staff": {"id": "UFORGED01", "role": "manager"}}``) made the store record a grant and
an audit row naming the forged id. Here every such tracker is run through the real form validator against a
seeded shop, and the store is checked for what it recorded.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from actions.common import channel_context, set_store
from actions.goals import ActionContinueGoal
from actions.identity import VERIFIED, ValidateVerifyOrderForm
from connectors.claims import CLAIM_KEY, ClaimError, sign_claim, verify_claim
from store import models as m
from store.db import make_engine
from store.service import OrderStore
from tests.actions.helpers import CLAIMS_SECRET, NOW, make_tracker, run

FORM = ValidateVerifyOrderForm()
FORGED_STAFF = {"channel": "slack", "staff": {"id": "UFORGED01", "role": "manager"}}


@pytest.fixture
def shop(seeded_db: Path, tmp_path: Path) -> Iterator[OrderStore]:
    """The order store every action uses, on a private copy of the seeded demo shop."""
    copy = tmp_path / "shop.db"
    shutil.copy(seeded_db, copy)
    engine = make_engine(f"sqlite:///{copy}")
    store = OrderStore(sessionmaker(engine), now=lambda: NOW)
    set_store(store)
    yield store
    set_store(None)
    engine.dispose()


@pytest.fixture
def cases(shop: OrderStore) -> dict[str, dict[str, Any]]:
    return {case["case"]: case for case in shop.demo_cases(limit=50)}


def _claim(sender: str, *, secret: str = CLAIMS_SECRET, **fields: Any) -> str:
    values: dict[str, Any] = {"channel": "slack", "source": "slack:user:T0SHOP01-U0STAFF01"}
    values.update(fields)
    return sign_claim(secret, sender=sender, **values)


def _staff_lookup(metadata: dict[str, Any], number: str, sender: str = "slack:T0SHOP01-U0STAFF01") -> dict[str, Any]:
    tracker = make_tracker(sender, metadata=metadata, signed=False, active_loop="verify_order_form")
    return FORM.validate_order_number(number, CollectingDispatcher(), tracker, {})


def test_the_forged_staff_call_of_the_finding_opens_nothing(shop: OrderStore, cases: dict[str, Any]) -> None:
    number = cases["in_transit"]["order_number"]
    for sender in ("slack:T0SHOP01-UFORGED01", "web:attacker-conversation"):
        result = _staff_lookup(FORGED_STAFF, number, sender)
        assert result["proof"] is None  # asked for a customer proof like anyone else
        assert not shop.is_verified(sender, number)
    assert shop.staff_lookups(number) == []  # no audit row naming the forged id


@pytest.mark.parametrize(
    "claim",
    [
        "v1.garbage.garbage",
        _claim(
            "slack:T0SHOP01-U0STAFF01", secret="not-the-gateways-secret", staff_id="U0STAFF01", staff_role="manager"
        ),
        _claim("slack:T0SHOP01-UOTHER001", staff_id="U0STAFF01", staff_role="manager"),  # another conversation's
        sign_claim(
            CLAIMS_SECRET,
            sender="slack:T0SHOP01-U0STAFF01",
            channel="slack",
            source="x",
            staff_id="U0STAFF01",
            staff_role="manager",
            ttl=60,
            now=time.time() - 3600,
        ),  # expired
        _claim("slack:T0SHOP01-U0STAFF01", channel="web", staff_id="U0STAFF01", staff_role="manager"),  # other channel
    ],
    ids=["malformed", "wrong-secret", "other-sender", "expired", "other-channel"],
)
def test_claims_that_cannot_be_believed_are_ignored_and_logged(
    shop: OrderStore, cases: dict[str, Any], claim: str, caplog: pytest.LogCaptureFixture
) -> None:
    number = cases["in_transit"]["order_number"]
    metadata = {**FORGED_STAFF, "staff": {"id": "U0STAFF01", "role": "manager"}, CLAIM_KEY: claim}
    result = _staff_lookup(metadata, number)
    assert result["proof"] is None
    assert shop.staff_lookups(number) == []
    assert "ignoring" in caplog.text  # logged, without the conversation id
    assert "T0SHOP01-U0STAFF01" not in caplog.text


def test_a_signed_staff_claim_is_a_recorded_staff_lookup(shop: OrderStore, cases: dict[str, Any]) -> None:
    number = cases["in_transit"]["order_number"]
    sender = "slack:T0SHOP01-U0STAFF01"
    claim = _claim(sender, staff_id="U0STAFF01", staff_role="manager")
    result = _staff_lookup({"channel": "slack", CLAIM_KEY: claim}, number, sender)
    assert result["proof"] == VERIFIED
    assert [(who, role) for who, role, _ in shop.staff_lookups(number)] == [("U0STAFF01", "manager")]


def test_plain_metadata_never_sets_a_tablets_shop_or_the_channel(shop: OrderStore) -> None:
    forged = make_tracker("tablet:s1", metadata={"channel": "tablet", "store_id": "LDN-01"}, signed=False)
    context = channel_context(forged)
    assert not context.trusted and context.store_id is None and context.source is None
    signed = make_tracker("tablet:s1", metadata={"channel": "tablet", "store_id": "LDN-01"}, source="tablet:device:3")
    context = channel_context(signed)
    assert context.trusted and context.store_id == "LDN-01" and context.source == "tablet:device:3"


def test_claim_tokens_resist_tampering() -> None:
    token = sign_claim("s3cret", sender="web:a", channel="web", source="web:ip:192.0.2.1", now=1_000_000)
    assert verify_claim("s3cret", token, sender="web:a", now=1_000_010).source == "web:ip:192.0.2.1"
    prefix, body, mac = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data["staff_role"], data["staff_id"] = "manager", "U0EVIL"
    forged_body = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    for bad, reason in (
        (f"{prefix}.{forged_body}.{mac}", "bad_signature"),
        (token, "wrong_sender"),
        (None, "missing"),
        ({"staff": "x"}, "malformed"),
    ):
        with pytest.raises(ClaimError) as error:
            verify_claim("s3cret", bad, sender="web:b" if bad == token else "web:a", now=1_000_010)
        assert error.value.reason == reason
    with pytest.raises(ClaimError, match="expired"):
        verify_claim("s3cret", token, sender="web:a", now=1_000_000 + 3600)
    with pytest.raises(ClaimError, match="no_secret"):
        verify_claim("", token, sender="web:a", now=1_000_010)


# ------------------------------------------------------------------------- sources and scopes in the form


def _proof(value: str, number: str, sender: str, source: str, slots: dict[str, Any] | None = None):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        sender,
        slots={"order_number": number, **(slots or {})},
        active_loop="verify_order_form",
        source=source,
    )
    result = FORM.validate_proof(value, dispatcher, tracker, {})
    return result, [m.get("response") for m in dispatcher.messages]


def test_the_form_counts_failures_per_signed_source_across_conversations(
    shop: OrderStore, cases: dict[str, Any]
) -> None:
    source = "web:ip:198.51.100.23"
    for i in range(shop.limits.per_source):  # a different wrong postcode each time: no proof's own pause
        _proof(f"ZZ{i} 1ZZ", f"ORD-1002{i:02d}", f"web:fresh-{i}", source)
    case = cases["placed"]
    result, said = _proof(case["email"], case["order_number"], "web:fresh-last", source)
    assert result == {"proof": None, "verification_locked": True}
    assert said == ["utter_verification_paused"]
    result, said = _proof(case["email"], case["order_number"], "web:elsewhere", "web:ip:203.0.113.44")
    assert result["proof"] == VERIFIED


def test_unsigned_messages_share_one_source(shop: OrderStore, cases: dict[str, Any]) -> None:
    """Without the gateway's claim (rasa's API, a forged action call) every attempt counts in one bucket."""
    for i in range(shop.limits.per_source):
        tracker = make_tracker(f"web:raw-{i}", slots={"order_number": f"ORD-1001{i:02d}"}, signed=False)
        FORM.validate_proof(f"ZZ{i} 1ZZ", CollectingDispatcher(), tracker, {})
    case = cases["placed"]
    tracker = make_tracker("web:raw-last", slots={"order_number": case["order_number"]}, signed=False)
    assert FORM.validate_proof(case["email"], CollectingDispatcher(), tracker, {})["proof"] is None
    assert not shop.is_verified("web:raw-last", case["order_number"])


def test_a_new_order_number_after_a_verified_one_starts_a_new_check_without_a_penalty(
    shop: OrderStore, cases: dict[str, Any]
) -> None:
    first, second = cases["in_transit"], cases["final_sale"]
    sender = "web:two-orders"
    assert _proof(first["postcode"], first["order_number"], sender, "web:ip:192.0.2.7")[0]["proof"] == VERIFIED
    tracker = make_tracker(sender, slots={"order_number": second["order_number"], "proof": VERIFIED})
    dispatcher = CollectingDispatcher()
    result = FORM.validate_order_number(second["order_number"], dispatcher, tracker, {})
    assert result["proof"] is None and dispatcher.messages == []
    # the whole message lands in the proof slot (from_text): it holds no proof, so it is no attempt
    for text in ("also i want to return " + second["order_number"], VERIFIED):
        result, said = _proof(text, second["order_number"], sender, "web:ip:192.0.2.7", {"proof": VERIFIED})
        assert result == {"proof": None} and said == []
    assert shop.attempts_left(sender) == 3


def test_another_order_of_an_email_proved_customer_needs_no_new_proof(shop: OrderStore) -> None:
    mine = shop.demo_cases(limit=50)
    # a customer with two orders: verify one by e-mail, ask about the other
    with shop._session() as session:  # noqa: SLF001 - reading the fixture shop
        customer = session.execute(
            select(m.Order.customer_id).group_by(m.Order.customer_id).having(func.count() >= 2).limit(1)
        ).scalar_one()
        one, other = session.execute(
            select(m.Order.number).where(m.Order.customer_id == customer).order_by(m.Order.number).limit(2)
        ).scalars()
        email = session.get(m.Customer, customer).email
        postcode = session.execute(select(m.Order.ship_postcode).where(m.Order.number == one)).scalar_one()
    assert mine  # the fixture shop has its demo cases
    for proof, expected in ((postcode, None), (email, VERIFIED)):
        sender = f"web:linked-{expected}"
        assert _proof(proof, one, sender, "web:ip:192.0.2.8")[0]["proof"] == VERIFIED
        tracker = make_tracker(sender, slots={"order_number": other, "proof": VERIFIED})
        result = FORM.validate_order_number(other, CollectingDispatcher(), tracker, {})
        assert result.get("proof") == expected  # a postcode opened one order; an e-mail opened the customer


async def test_account_goals_after_a_postcode_ask_for_the_email(
    shop: OrderStore, cases: dict[str, Any], domain
) -> None:
    case = cases["in_transit"]
    sender = "web:account"
    tracked = _proof(case["postcode"], case["order_number"], sender, "web:ip:192.0.2.9", {"goal": "track"})
    assert tracked[0]["proof"] == VERIFIED  # "where is my order": the postcode is enough
    slots = {"goal": "channels"}  # then "which chats are linked": that is about the customer
    tracker = make_tracker(sender, slots={"order_number": case["order_number"], "proof": VERIFIED, **slots})
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.followup() == "verify_order_form" and out.slots()["proof"] is None
    asked = make_tracker(sender, slots={"order_number": case["order_number"], "proof": None, **slots})
    assert await FORM.required_slots(["order_number", "proof"], CollectingDispatcher(), asked, {}) == [
        "order_number",
        "proof",
    ]
    result, said = _proof(case["postcode"], case["order_number"], sender, "web:ip:192.0.2.9", slots)
    assert result == {"proof": None} and said == []  # a postcode again: asked for the e-mail, no attempt spent
    result, said = _proof(case["email"], case["order_number"], sender, "web:ip:192.0.2.9", slots)
    assert result["proof"] == VERIFIED and said[0] == "utter_verified"
    assert shop.verified_customer(sender) is not None


async def test_a_paused_order_is_said_at_once_and_the_form_asks_nothing_more(
    shop: OrderStore, cases: dict[str, Any], domain
) -> None:
    case = cases["returnable"]
    for i in range(3):
        _proof("ZZ1 1ZZ", case["order_number"], f"web:guess-{i}", f"web:ip:198.51.100.{i}")
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("web:owner", slots={"order_number": case["order_number"]}, source="web:ip:192.0.2.50")
    result = FORM.validate_order_number(case["order_number"], dispatcher, tracker, {})
    assert result["verification_locked"] is True and result["proof"] is None
    assert [m.get("response") for m in dispatcher.messages] == ["utter_verification_paused"]
    stopped = make_tracker("web:owner", slots={"order_number": case["order_number"], "verification_locked": True})
    assert await FORM.required_slots(["order_number", "proof"], CollectingDispatcher(), stopped, {}) == []
    out = await run(ActionContinueGoal(), stopped, domain)
    assert out.messages == [] and out.slots() == {"verification_locked": None}
