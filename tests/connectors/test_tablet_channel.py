"""The tablet channel against a fake rasa: devices, tokens, server-made sessions, the wipe, staff calls."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from connectors.errors import SettingsError
from connectors.keys import SETTINGS_KEY
from connectors.models import OutboundMessage
from connectors.push import PushFailed
from connectors.tablet import TabletSettings
from connectors.tablet.__main__ import main as tablet_command
from connectors.tablet.devices import TabletRegistry, hash_token
from connectors.tablet.translate import ALREADY_CALLED, CALLED, NOT_CALLED, TOO_MANY_CALLS, render_messages
from store.db import make_engine
from store.service import OrderStore
from tests.connectors.gateway_fakes import FakeRasa
from tests.connectors.tablet_fixtures import (
    RecordingAlerts,
    TabletGateway,
    auth,
    make_shop_db,
    seeded_shop_db,
    start_tablet_gateway,
)


@pytest_asyncio.fixture
async def tablet(fake_rasa: FakeRasa) -> AsyncIterator[TabletGateway]:
    gateway = await start_tablet_gateway(fake_rasa)
    yield gateway
    await gateway.client.close()


# ------------------------------------------------------------------------------ the device command


def test_register_list_revoke_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shop = make_shop_db(tmp_path)
    gateway_db = f"sqlite:///{tmp_path / 'gateway.db'}"
    urls = ["--gateway-database-url", gateway_db, "--shop-database-url", shop]

    assert tablet_command([*urls, "register", "--store", "XXX-99", "--name", "door"]) == 2
    assert "no store 'XXX-99' in the order store; known stores: LDN-01, MAN-01" in capsys.readouterr().err

    assert tablet_command([*urls, "register", "--store", "ldn-01", "--name", "  front   door "]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == 'Registered tablet 1 "front door" for LDN-01 Covent Garden.'
    token = out[-1]
    assert token.startswith("tab_") and len(token) > 40

    engine = create_engine(gateway_db)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT store_id, token_hash FROM tablet_devices")).all()
    assert [tuple(r) for r in stored] == [("LDN-01", hash_token(token))]  # only the hash is kept

    assert tablet_command([*urls, "list"]) == 0
    listed = capsys.readouterr().out
    assert "1\tLDN-01\tfront door\tregistered " in listed and "active" in listed and token not in listed

    assert tablet_command([*urls, "revoke", "1"]) == 0
    assert capsys.readouterr().out == 'Revoked tablet 1 "front door" (LDN-01).\n'
    assert tablet_command([*urls, "list"]) == 0
    assert "\trevoked " in capsys.readouterr().out
    assert tablet_command([*urls, "revoke", "7"]) == 2
    assert "no tablet with id 7" in capsys.readouterr().err
    engine.dispose()


def test_revoking_with_the_command_ends_what_the_open_session_proved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shop = seeded_shop_db(tmp_path)
    gateway_db = f"sqlite:///{tmp_path / 'gateway.db'}"
    urls = ["--gateway-database-url", gateway_db, "--shop-database-url", shop]
    assert tablet_command([*urls, "register", "--store", "LDN-01", "--name", "door"]) == 0
    token = capsys.readouterr().out.splitlines()[-1]
    gateway = create_engine(gateway_db)
    engine = make_engine(shop)
    try:
        registry = TabletRegistry(sessionmaker(gateway))
        session_id = registry.start_session(registry.authenticate(token))
        store = OrderStore(sessionmaker(engine))
        case = store.demo_cases(limit=1)[0]
        store.verify(f"tablet:{session_id}", case["order_number"], case["email"])
        assert store.verified_orders(f"tablet:{session_id}") == [case["order_number"]]
        assert tablet_command([*urls, "revoke", "1"]) == 0
        assert store.verified_orders(f"tablet:{session_id}") == []
    finally:
        gateway.dispose()
        engine.dispose()


async def test_a_token_from_the_command_opens_the_kiosk(
    tmp_path: Path, fake_rasa: FakeRasa, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway = await start_tablet_gateway(fake_rasa)
    try:
        url = gateway.client.app[SETTINGS_KEY].database_url
        shop = make_shop_db(tmp_path)
        assert tablet_command(["--gateway-database-url", url, "--shop-database-url", shop, "register",
                               "--store", "MAN-01", "--name", "till"]) == 0  # fmt: skip
        token = capsys.readouterr().out.splitlines()[-1]
        resp = await gateway.client.post("/api/tablet/session", headers=auth(token))
        body = await resp.json()
        assert resp.status == 200 and body["store"] == {"id": "MAN-01", "name": "King Street"}
        assert body["device"] == "till"
    finally:
        await gateway.client.close()


# ------------------------------------------------------------------------------------------ tokens


async def test_missing_unknown_and_revoked_tokens_are_refused(tablet: TabletGateway, fake_rasa: FakeRasa) -> None:
    device, token = tablet.register()
    session_id = await tablet.session(token)
    cases = [
        ({}, 401, "unknown_device"),
        (auth("tab_not-a-registered-token"), 401, "unknown_device"),
        ({"Authorization": "Basic Zm9vOmJhcg=="}, 401, "unknown_device"),
    ]
    for headers, status, code in cases:
        for path in ("/api/tablet/session", "/api/tablet/messages"):
            resp = await tablet.client.post(path, json={"session_id": session_id, "text": "hi"}, headers=headers)
            body = await resp.json()
            assert (resp.status, body["code"]) == (status, code), (path, headers)
            assert "not registered" in body["error"] and "python -m connectors.tablet register" in body["error"]

    tablet.registry.revoke(device.device_id)
    for path in ("/api/tablet/session", "/api/tablet/messages"):
        resp = await tablet.client.post(path, json={"session_id": session_id, "text": "hi"}, headers=auth(token))
        body = await resp.json()
        assert (resp.status, body["code"]) == (403, "device_revoked")
        assert body["error"] == "This tablet's registration was revoked. Ask a manager for a new device token."
    assert fake_rasa.received == []
    counts = tablet.channel.dispatcher.counts
    assert (counts["tablet.unknown_device"], counts["tablet.device_revoked"], counts["tablet.inbound"]) == (6, 2, 0)


async def test_the_page_is_served_without_any_token(tablet: TabletGateway) -> None:
    resp = await tablet.client.get("/tablet")
    assert resp.status == 200 and resp.content_type == "text/html"
    page = await resp.text()
    assert "Call a staff member" in page and "Is this in stock here?" in page and "Recommend something" in page
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'sha256-" in csp and "connect-src 'self'" in csp and "unsafe-inline" not in csp
    assert resp.headers["Cache-Control"] == "no-store"


# ---------------------------------------------------------------------------------------- sessions


async def test_messages_carry_the_devices_store_whatever_the_page_sends(
    tablet: TabletGateway, fake_rasa: FakeRasa
) -> None:
    _, token = tablet.register("LDN-01")
    resp = await tablet.client.post("/api/tablet/session", headers=auth(token), json={"store_id": "MAN-01"})
    started = await resp.json()
    assert started["store"] == {"id": "LDN-01", "name": "Covent Garden"}
    assert (started["idle_seconds"], started["countdown_seconds"]) == (60, 10)
    session_id = started["session_id"]
    status, body = await tablet.say(
        token,
        session_id,
        text="do you have the argan shampoo here?",
        store_id="MAN-01",
        channel="web",
        metadata={"store_id": "MAN-01", "staff": {"id": "U1", "role": "manager"}},
    )
    assert status == 200, body
    assert body == {"session_id": session_id, "messages": [{"text": "echo: do you have the argan shampoo here?"}]}
    assert fake_rasa.received == [
        {
            "sender": f"tablet:{session_id}",
            "message": "do you have the argan shampoo here?",
            "metadata": {"store_id": "LDN-01", "channel": "tablet"},
        }
    ]
    status, _ = await tablet.say(token, session_id, payload="/recommend_product")  # a fixed button of the kiosk
    assert status == 200 and fake_rasa.received[-1]["message"] == "/recommend_product"
    assert fake_rasa.received[-1]["metadata"] == {"store_id": "LDN-01", "channel": "tablet"}


async def test_session_ids_are_made_by_the_server(tablet: TabletGateway, fake_rasa: FakeRasa) -> None:
    _, token = tablet.register()
    first, second = await tablet.session(token), await tablet.session(token)
    assert first != second and len(first) >= 32
    for chosen in ("my-own-conversation-id", "x" * 64, first):
        status, body = await tablet.say(token, chosen, text="hello")
        assert (status, body["code"]) == (409, "session_ended")
    assert fake_rasa.received == []


async def test_a_new_shopper_ends_the_previous_session(tablet: TabletGateway, fake_rasa: FakeRasa) -> None:
    """The wipe: the page starts a new session; the old id is unreachable from then on."""
    _, token = tablet.register()
    old = await tablet.session(token)
    assert (await tablet.say(token, old, text="my name is Ann"))[0] == 200
    new = await tablet.session(token)
    status, body = await tablet.say(token, old, text="what did I say?")
    assert (status, body["code"]) == (409, "session_ended")
    status, body = await tablet.say(token, new, text="hi")
    assert status == 200
    assert [r["sender"] for r in fake_rasa.received] == [f"tablet:{old}", f"tablet:{new}"]


async def test_a_session_idle_past_the_wipe_time_is_ended_by_the_server(
    tablet: TabletGateway, fake_rasa: FakeRasa
) -> None:
    """NEW-5: the page wipes after idle 60 + countdown 10 s; the server ends the session at that moment too,
    whether or not the page wiped (a throttled, asleep or frozen tablet)."""
    _, token = tablet.register()
    session_id = await tablet.session(token)
    tablet.clock.advance(69)
    assert (await tablet.say(token, session_id, text="still here"))[0] == 200
    tablet.clock.advance(69)  # a message starts the wipe time again
    assert (await tablet.say(token, session_id, text="and now?"))[0] == 200
    tablet.clock.advance(70)
    status, body = await tablet.say(token, session_id, text="what is the tracking number of my order?")
    assert (status, body["code"]) == (409, "session_ended")
    tablet.clock.advance(-70)  # gone for good, not merely late
    assert (await tablet.say(token, session_id, text="hello?"))[0] == 409
    status, body = await tablet.updates(token, session_id)
    assert (status, body["code"]) == (409, "session_ended")
    assert [b["message"] for b in fake_rasa.received] == ["still here", "and now?"]
    assert tablet.channel.dispatcher.counts["tablet.sessions_ended"] == 1


async def test_the_wipe_time_counts_from_the_answer_like_the_pages(tablet: TabletGateway, fake_rasa: FakeRasa) -> None:
    """The page starts its countdown when the answer arrives: a slow turn must not end the session earlier."""

    def slow(body: dict[str, Any]) -> list[dict[str, Any]]:
        tablet.clock.advance(30)  # rasa took 30 s
        return [{"text": "Here you go."}]

    fake_rasa.replies = slow
    _, token = tablet.register()
    session_id = await tablet.session(token)
    assert (await tablet.say(token, session_id, text="hi"))[0] == 200
    tablet.clock.advance(69)  # 99 s after the question, 69 s after the answer
    fake_rasa.replies = None
    assert (await tablet.say(token, session_id, text="thanks"))[0] == 200


async def test_touches_keep_a_session_and_polls_and_staff_replies_do_not(
    tablet: TabletGateway, fake_rasa: FakeRasa
) -> None:
    _, token = tablet.register()
    session_id = await tablet.session(token)
    assert (await tablet.say(token, session_id, text="hi"))[0] == 200
    tablet.clock.advance(50)
    assert await tablet.updates(token, session_id) == (200, {"session_id": session_id, "messages": []})
    tablet.clock.advance(20)  # polling is not the shopper: 70 s since the message
    assert (await tablet.updates(token, session_id))[0] == 409

    # The shopper touching the screen (typing, "I'm still here") is, told with the page's next poll.
    session_id = await tablet.session(token)
    assert (await tablet.say(token, session_id, text="hi"))[0] == 200
    tablet.clock.advance(50)
    assert (await tablet.updates(token, session_id, active=True))[0] == 200
    tablet.clock.advance(50)  # 100 s since the message, 50 since the touch
    assert (await tablet.say(token, session_id, text="still deciding"))[0] == 200

    # A colleague's reply reaches the page but keeps nothing on screen: the shopper may have gone.
    tablet.clock.advance(40)
    await tablet.channel.push(session_id, [OutboundMessage(text="Sam (staff): on my way")])
    status, body = await tablet.updates(token, session_id)
    assert (status, body["messages"]) == (200, [{"text": "Sam (staff): on my way"}])
    tablet.clock.advance(20)
    await tablet.channel.push(session_id, [OutboundMessage(text="Sam (staff): are you still there?")])
    tablet.clock.advance(10)  # 70 s since the shopper's last message, 10 since the push
    with pytest.raises(PushFailed, match="session has ended"):
        await tablet.channel.push(session_id, [OutboundMessage(text="Sam (staff): hello?")])
    status, body = await tablet.updates(token, session_id)
    assert (status, body["code"]) == (409, "session_ended")  # the waiting message went with the session

    for bad in ("yes", 1, None):
        resp = await tablet.client.post(
            "/api/tablet/updates", json={"session_id": session_id, "active": bad}, headers=auth(token)
        )
        assert (resp.status, (await resp.json())["code"]) == (400, "invalid_field")


async def test_what_an_ended_session_proved_ends_with_it(fake_rasa: FakeRasa, tmp_path: Path) -> None:
    """Grants of a tablet conversation end with its session: idle past the wipe time (at the next call, or by
    the sweep when the tablet never calls again), replaced by the next shopper, or the device revoked."""
    shop_url = seeded_shop_db(tmp_path)
    engine = make_engine(shop_url)
    store = OrderStore(sessionmaker(engine))
    case = store.demo_cases(limit=1)[0]
    order, email = case["order_number"], case["email"]
    tablet = await start_tablet_gateway(fake_rasa, shop_db_url=shop_url)

    def proving(body: dict[str, Any]) -> list[dict[str, Any]]:
        store.verify(body["sender"], order, email, source="tablet:device:1")  # what the action does
        return [{"text": f"Thanks, that matches order {order}."}]

    try:
        device, token = tablet.register()

        async def proved_session() -> str:
            session_id = await tablet.session(token)
            fake_rasa.replies = proving
            assert (await tablet.say(token, session_id, text=email))[0] == 200
            fake_rasa.replies = None
            assert store.verified_orders(f"tablet:{session_id}") == [order]
            return session_id

        # Idle past the wipe time: the next message is refused and the grant is gone.
        first = await proved_session()
        tablet.clock.advance(70)
        assert (await tablet.say(token, first, text="what is the tracking number of my order?"))[0] == 409
        assert store.verified_orders(f"tablet:{first}") == [] and not store.is_verified(f"tablet:{first}", order)
        second = await tablet.session(token)
        assert second != first and store.verified_orders(f"tablet:{second}") == []
        assert {b["sender"] for b in fake_rasa.received} == {f"tablet:{first}"}

        # The next shopper's session ends the previous one's grants.
        second = await proved_session()
        third = await tablet.session(token)
        assert store.verified_orders(f"tablet:{second}") == []

        # A tablet that goes dark never calls again: the sweep ends its session at the wipe time.
        fake_rasa.replies = proving
        assert (await tablet.say(token, third, text=email))[0] == 200
        tablet.clock.advance(69)
        assert await tablet.channel.sweep() == []
        assert store.verified_orders(f"tablet:{third}") == [order]
        tablet.clock.advance(1)
        assert await tablet.channel.sweep() == [third]
        assert store.verified_orders(f"tablet:{third}") == []
        assert (await tablet.say(token, third, text="hello?"))[0] == 409

        # Revoking the device ends its open session's grants.
        fourth = await proved_session()
        tablet.registry.revoke(device.device_id)
        assert store.verified_orders(f"tablet:{fourth}") == []
        counts = tablet.channel.dispatcher.counts
        assert (counts["tablet.sessions_ended"], counts["tablet.grants_ended"]) == (5, 4)  # one ended unproved
    finally:
        await tablet.client.close()
        engine.dispose()


async def test_grants_that_cannot_be_ended_are_counted_and_the_session_still_ends(
    tablet: TabletGateway, fake_rasa: FakeRasa, caplog: pytest.LogCaptureFixture
) -> None:
    def down(conversation_ids: Any) -> int:
        raise OperationalError("DELETE FROM access_grants", {}, Exception("the order store is down"))

    tablet.channel.shop.end_grants = down  # type: ignore[method-assign]
    _, token = tablet.register()
    session_id = await tablet.session(token)
    tablet.clock.advance(70)
    assert (await tablet.say(token, session_id, text="hi"))[0] == 409
    assert tablet.channel.dispatcher.counts["tablet.grants_not_ended"] == 1
    assert "could not end the grants of 1 ended tablet session(s)" in caplog.text
    assert (await tablet.say(token, await tablet.session(token), text="hi"))[0] == 200


async def test_a_tablet_cannot_use_another_tablets_session(tablet: TabletGateway, fake_rasa: FakeRasa) -> None:
    _, ldn = tablet.register("LDN-01", "front door")
    _, man = tablet.register("MAN-01", "till")
    session_id = await tablet.session(ldn)
    status, body = await tablet.say(man, session_id, text="hi")
    assert (status, body["code"]) == (409, "session_ended")
    assert (await tablet.say(ldn, session_id, text="hi"))[0] == 200  # the owner's session is untouched
    assert len(fake_rasa.received) == 1


# -------------------------------------------------------------------------------------- staff calls


def staff_call(body: dict[str, Any]) -> list[dict[str, Any]]:
    summary = "customer: do you have argan shampoo here [check_stock]"
    return [
        {"recipient_id": body["sender"], "text": "Here you go."},
        {"custom": {"type": "staff_call", "store_id": "LDN-01", "ticket": "HO-000042", "summary": summary}},
    ]


async def test_staff_call_is_posted_and_the_shopper_told_someone_is_coming(
    tablet: TabletGateway, fake_rasa: FakeRasa
) -> None:
    _, token = tablet.register("LDN-01", "front door")
    session_id = await tablet.session(token)
    fake_rasa.replies = staff_call
    status, body = await tablet.say(token, session_id, payload="/human_handoff")
    assert status == 200
    assert body["messages"] == [
        {"text": "Here you go."},
        {
            "text": CALLED.format(ticket="HO-000042"),
            "custom": {"type": "staff_call_status", "delivered": True, "queued": False, "ticket": "HO-000042"},
        },
    ]
    assert "argan" not in json.dumps(body)  # the summary is for staff, not for the screen
    [alert] = tablet.alerts.alerts
    assert alert.store_id == "LDN-01" and alert.ticket == "HO-000042"
    assert alert.conversation_id == f"tablet:{session_id}"
    assert alert.text == (
        'A shopper at the "front door" tablet in Covent Garden (LDN-01) asks for a staff member.\n'
        "So far:\ncustomer: do you have argan shampoo here [check_stock]"
    )


async def test_staff_call_uses_the_tablets_own_shop(tablet: TabletGateway, fake_rasa: FakeRasa) -> None:
    _, token = tablet.register("MAN-01", "till")
    session_id = await tablet.session(token)
    fake_rasa.replies = staff_call  # says LDN-01
    assert (await tablet.say(token, session_id, payload="/human_handoff"))[0] == 200
    assert [a.store_id for a in tablet.alerts.alerts] == ["MAN-01"]
    assert "King Street (MAN-01)" in tablet.alerts.alerts[0].text


async def test_undelivered_staff_call_sends_the_shopper_to_the_till(fake_rasa: FakeRasa) -> None:
    gateway = await start_tablet_gateway(fake_rasa, alerts=RecordingAlerts(fail=True))
    try:
        _, token = gateway.register()
        session_id = await gateway.session(token)
        fake_rasa.replies = staff_call
        status, body = await gateway.say(token, session_id, payload="/human_handoff")
        assert status == 200
        assert body["messages"][-1] == {
            "text": NOT_CALLED.format(ticket="HO-000042"),
            "custom": {"type": "staff_call_status", "delivered": False, "queued": False, "ticket": "HO-000042"},
        }
        assert len(gateway.alerts.alerts) == 1
        counts = gateway.channel.dispatcher.counts
        assert (counts["tablet.staff_call"], counts["tablet.staff_call_not_delivered"]) == (1, 1)
    finally:
        await gateway.client.close()


async def test_without_a_staff_channel_the_shopper_is_told_honestly(fake_rasa: FakeRasa) -> None:
    gateway = await start_tablet_gateway(fake_rasa, install_alerts=False)  # UnconfiguredAlerts
    try:
        _, token = gateway.register()
        session_id = await gateway.session(token)
        fake_rasa.replies = staff_call
        status, body = await gateway.say(token, session_id, payload="/human_handoff")
        assert status == 200 and body["messages"][-1]["text"] == NOT_CALLED.format(ticket="HO-000042")
        assert gateway.channel.dispatcher.counts["tablet.staff_call_not_delivered"] == 1
    finally:
        await gateway.client.close()


async def test_one_open_staff_call_per_tablet_and_an_hourly_bound(fake_rasa: FakeRasa, tmp_path: Path) -> None:
    # R2-5: four new sessions on one tablet filed four staff-call tickets at the top of the shop's queue
    from sqlalchemy.orm import sessionmaker  # noqa: PLC0415

    from store.db import make_engine  # noqa: PLC0415
    from store.service import OrderStore  # noqa: PLC0415

    shop_url = make_shop_db(tmp_path)
    store = OrderStore(sessionmaker(make_engine(shop_url)))

    def action_handoff(body: dict[str, Any]) -> list[dict[str, Any]]:
        # what actions/handoff.py does for a tablet: the conversation's open ticket, or a new one
        conversation = body["sender"]
        ticket = store.current_handoff(conversation) or store.open_handoff(
            conversation, "tablet", "shopper at the LDN-01 tablet asked for a staff member", "", store_id="LDN-01"
        )
        return [{"custom": {"type": "staff_call", "store_id": "LDN-01", "ticket": ticket.ticket_number, "summary": ""}}]

    settings = TabletSettings(idle_seconds=60, countdown_seconds=10, staff_calls_per_hour=3)
    gateway = await start_tablet_gateway(fake_rasa, settings, shop_db_url=shop_url)
    fake_rasa.replies = action_handoff
    try:
        _, token = gateway.register("LDN-01", "front door")
        _, other_token = gateway.register("LDN-01", "back wall")

        async def press(device_token: str, session_id: str | None = None) -> dict[str, Any]:
            session_id = session_id or await gateway.session(device_token)
            status, body = await gateway.say(device_token, session_id, payload="/human_handoff")
            assert status == 200, body
            return body["messages"][-1]

        def open_calls() -> list[str]:
            return [t.ticket_number for t in store.handoffs("open")]

        first = (await press(token))["custom"]["ticket"]
        assert len(gateway.alerts.alerts) == 1 and open_calls() == [first]
        for _ in range(3):  # new shoppers (sessions) on the same tablet while that call is open
            held = await press(token)
            assert held["text"] == ALREADY_CALLED.format(ticket=first) and held["custom"]["ticket"] == first
        assert len(gateway.alerts.alerts) == 1 and open_calls() == [first]  # no new call, no new open ticket
        # another tablet in the same shop calls as usual
        assert (await press(other_token))["text"].startswith("I've called a colleague")
        assert len(gateway.alerts.alerts) == 2
        # once staff close the first call, the tablet can call again, up to its hourly bound
        store.close_handoff(first)
        second = await press(token)
        assert second["text"] == CALLED.format(ticket=second["custom"]["ticket"])
        store.close_handoff(second["custom"]["ticket"])
        third = await press(token)
        store.close_handoff(third["custom"]["ticket"])
        limited = await press(token)
        assert limited["text"] == TOO_MANY_CALLS and limited["custom"]["limited"] is True
        assert len(gateway.alerts.alerts) == 4 and limited["custom"]["ticket"] not in open_calls()
        gateway.clock.advance(3601)  # an hour later
        assert (await press(token))["text"].startswith("I've called a colleague")
        assert gateway.channel.dispatcher.counts["tablet.staff_call_held"] == 4
    finally:
        await gateway.client.close()


# --------------------------------------------------------------------------------------- bad input


async def test_bad_input_gets_clear_errors_and_the_channel_keeps_serving(
    tablet: TabletGateway, fake_rasa: FakeRasa
) -> None:
    _, token = tablet.register()
    session_id = await tablet.session(token)
    post = tablet.client.post
    headers = {**auth(token), "Content-Type": "application/json"}
    cases: list[tuple[bytes, dict[str, str], int, str]] = [
        (b"{not json", headers, 400, "invalid_json"),
        (b"\xff\xfe\x00binary", headers, 400, "invalid_json"),
        (b"[1, 2]", headers, 400, "invalid_json"),
        (json.dumps({"text": "hi"}).encode(), headers, 400, "missing_field"),
        (json.dumps({"session_id": session_id}).encode(), headers, 400, "missing_field"),
        (json.dumps({"session_id": session_id, "text": "x" * 2001}).encode(), headers, 413, "too_long"),
        (json.dumps({"session_id": session_id, "payload": "no slash"}).encode(), headers, 400, "invalid_field"),
        (json.dumps({"session_id": session_id, "text": "hi"}).encode(), {**auth(token)}, 415, "unsupported_media_type"),
        (b"x" * 200_000, headers, 413, "body_too_large"),
    ]
    for raw, hdrs, status, code in cases:
        resp = await post("/api/tablet/messages", data=raw, headers=hdrs)
        body = await resp.json()
        assert (resp.status, body["code"]) == (status, code), (raw[:40], body)
        assert body["error"]
    assert fake_rasa.received == []
    assert (await tablet.say(token, session_id, text="hi"))[0] == 200


async def test_rasa_down_is_a_503_and_the_session_survives(tablet: TabletGateway, fake_rasa: FakeRasa) -> None:
    _, token = tablet.register()
    session_id = await tablet.session(token)
    fake_rasa.status = 503
    status, body = await tablet.say(token, session_id, text="hi")
    assert (status, body["code"]) == (503, "rasa_unavailable")
    fake_rasa.status = 200
    assert (await tablet.say(token, session_id, text="hi again"))[0] == 200


# ---------------------------------------------------------------------------- translate and settings


def test_render_keeps_cards_for_the_page_and_drops_staff_payloads() -> None:
    messages = [
        OutboundMessage(text="Here are some picks:"),
        OutboundMessage(
            custom={
                "type": "product_cards",
                "products": [{"sku": "SKN-0001", "title": "Dew Serum", "payload": "/pick"}, {"sku": "no title"}],
            }
        ),
        OutboundMessage(custom={"type": "product_cards", "products": ["junk"]}),  # nothing to draw: left out
        OutboundMessage(text="Dew Serum: £10.00", image="https://img.example/1.jpg"),
        OutboundMessage(custom={"type": "staff_call", "summary": "private"}),
        OutboundMessage(custom={"type": "handoff", "ticket": "HO-000001"}),
    ]
    # Cards reach the page in the checked shape (connectors.rich): valid products only, each with its buttons.
    card = {"sku": "SKN-0001", "title": "Dew Serum", "payload": "/pick"}
    card["buttons"] = [{"title": "Tell me more", "payload": "/pick"}]
    assert render_messages(messages) == [
        {"text": "Here are some picks:"},
        {"custom": {"type": "product_cards", "products": [card]}},
        {"text": "Dew Serum: £10.00", "image": "https://img.example/1.jpg"},
        {"custom": {"type": "handoff", "ticket": "HO-000001"}},
    ]


def test_settings_from_env() -> None:
    assert TabletSettings.from_env({}) == TabletSettings(idle_seconds=60, countdown_seconds=10)
    assert TabletSettings.from_env({"TABLET_IDLE_SECONDS": "5", "TABLET_COUNTDOWN_SECONDS": "3"}).wipe_seconds == 8
    with pytest.raises(SettingsError, match="TABLET_IDLE_SECONDS must be a whole number"):
        TabletSettings.from_env({"TABLET_IDLE_SECONDS": "soon"})
    with pytest.raises(SettingsError, match="TABLET_COUNTDOWN_SECONDS must be between 1 and 120"):
        TabletSettings.from_env({"TABLET_COUNTDOWN_SECONDS": "0"})


def test_gateway_refuses_to_start_with_a_bad_tablet_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from gateway import main

    monkeypatch.setenv("GATEWAY_TOKEN", "t" * 20)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'gateway.db'}")
    monkeypatch.setenv("TABLET_IDLE_SECONDS", "soon")
    assert main() == 2
    assert "cannot start the gateway: TABLET_IDLE_SECONDS must be a whole number of seconds" in caplog.text


async def test_an_answer_still_goes_back_when_its_end_cannot_be_recorded(
    tablet: TabletGateway, fake_rasa: FakeRasa, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = tablet.register()
    session_id = await tablet.session(token)
    real = tablet.registry.touch_session
    calls: list[str] = []

    def touch(device: Any, sid: str) -> None:
        calls.append(sid)
        if len(calls) == 2:  # the end of the turn
            raise OperationalError("UPDATE tablet_sessions", {}, Exception("the gateway database is down"))
        real(device, sid)

    monkeypatch.setattr(tablet.registry, "touch_session", touch)
    status, body = await tablet.say(token, session_id, text="hi")
    assert (status, body["messages"]) == (200, [{"text": "echo: hi"}])
    assert tablet.channel.dispatcher.counts["tablet.activity_not_recorded"] == 1
