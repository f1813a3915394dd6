"""Carrier webhook and notifier: signed/forged/malformed events, exactly-once news, rate limit, retried pushes."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from connectors.keys import PUSH_KEY
from connectors.models import OutboundMessage
from connectors.notify import NotifyService, NotifySettings
from connectors.notify.translate import SIGNATURE_HEADER, parse_event, sign, signature_ok
from connectors.push import PushFailed
from connectors.rasa_client import RasaClient
from connectors.web.translate import WebInputError
from gateway import create_app
from store import models as m
from store.accounts import CustomerAccounts
from store.db import make_engine
from store.service import OrderStore
from tests.actions.helpers import NOW, seeded_db  # noqa: F401 - the seeded demo shop fixture
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, make_settings

SECRET = "carrier-secret-0123456789abcdef"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class Recorder:
    """A recording PushTarget; fails the next ``failures`` pushes with PushFailed."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str | None]]] = []
        self.failures = 0

    async def push(self, sender_id: str, messages: Sequence[OutboundMessage]) -> None:
        if self.failures:
            self.failures -= 1
            raise PushFailed("the platform is down")
        self.sent.append((sender_id, [msg.text for msg in messages]))


class Shop:
    """The demo shop on a private copy, with one customer opted in and linked on Telegram."""

    def __init__(self, path: Path) -> None:
        self.engine = make_engine(f"sqlite:///{path}")
        self.clock = Clock()
        factory = sessionmaker(self.engine, expire_on_commit=False)
        self.store = OrderStore(factory, now=self.clock)
        self.accounts = CustomerAccounts(factory, now=self.clock)
        with factory() as session:
            orders = session.execute(select(m.Order).order_by(m.Order.number)).scalars()
            order = next(o for o in orders if o.shipment is not None and o.shipment.status == "in_transit")
            self.order, self.customer = order.number, order.customer_id
            self.email = order.customer.email
            self.unshipped = next(
                o.number
                for o in session.execute(select(m.Order).order_by(m.Order.number)).scalars()
                if o.shipment is None
            )

    def link(self, conversation_id: str) -> None:
        self.store.verify(conversation_id, self.order, self.email)
        assert self.accounts.link_verified(conversation_id, self.customer) is not None


@pytest.fixture
def shop(seeded_db: Path, tmp_path: Path) -> Iterator[Shop]:  # noqa: F811
    copy = tmp_path / "shop.db"
    shutil.copy(seeded_db, copy)
    shop = Shop(copy)
    shop.link("telegram:4242")
    shop.accounts.set_notifications(shop.customer, True)
    yield shop
    shop.engine.dispose()


@pytest_asyncio.fixture
async def fake_rasa() -> AsyncIterator[FakeRasa]:
    fake = FakeRasa()
    await fake.start()
    yield fake
    await fake.stop()


Start = Callable[..., Any]


@pytest_asyncio.fixture
async def start(fake_rasa: FakeRasa, shop: Shop) -> AsyncIterator[Start]:
    clients: list[TestClient] = []

    async def starter(**overrides: Any) -> tuple[TestClient, NotifyService, Recorder]:
        values: dict[str, Any] = {
            "webhook_secret": SECRET,
            "enabled": False,  # tests drive run_once() unless they test the task
            "max_per_customer": 2,
            "window_seconds": 3600,
            "max_attempts": 3,
            "retry_seconds": 10,
            "max_retry_seconds": 60,
        }
        values.update(overrides)
        service = NotifyService(NotifySettings(**values), accounts=lambda: shop.accounts)
        settings = make_settings(fake_rasa.url)
        app = create_app(
            settings,
            RasaClient(settings.rasa_url, TOKEN, settings.rasa_timeout, health_timeout=0.5),
            channels=[service],
        )
        recorder = Recorder()
        app[PUSH_KEY].register("telegram", recorder)
        client = TestClient(TestServer(app, host="127.0.0.1", port=0))
        await client.start_server()
        clients.append(client)
        return client, service, recorder

    yield starter
    for client in clients:
        await client.close()


async def post(client: TestClient, body: Any, *, secret: str | None = SECRET, raw: bytes | None = None) -> Any:
    data = raw if raw is not None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SIGNATURE_HEADER] = sign(secret, data)
    resp = await client.post("/api/carrier/events", data=data, headers=headers)
    return resp.status, await resp.json()


# ------------------------------------------------------------------------------------------ translate


def test_signature_is_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"order_number": "ORD-100001", "event": "delivered"}'
    assert signature_ok(SECRET, body, sign(SECRET, body))
    assert not signature_ok(SECRET, body + b" ", sign(SECRET, body))
    assert not signature_ok(SECRET, body, sign("another-secret-0123456789", body))
    assert not signature_ok(SECRET, body, None)


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ("Out for delivery", "out_for_delivery"),
        ("out-for-delivery", "out_for_delivery"),
        ("DELAY", "delayed"),
        ("refunded", "refund_issued"),
    ],
)
def test_event_spellings(event: str, kind: str) -> None:
    parsed = parse_event(json.dumps({"order_number": "100001", "event": event, "event_id": 17}).encode())
    assert (parsed.order_number, parsed.kind, parsed.event_id) == ("100001", kind, "17")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not json", "malformed_json"),
        (b"\xff\xfe\x00binary", "malformed_json"),
        (b"[1, 2]", "malformed_json"),
        (b'{"event": "delivered"}', "invalid_field"),
        (b'{"order_number": "ORD-100001", "event": "teleported"}', "unknown_event"),
        (b'{"order_number": "ORD-100001", "event": "delivered", "event_id": {"x": 1}}', "invalid_field"),
    ],
)
def test_malformed_bodies_are_400_with_a_code(body: bytes, code: str) -> None:
    with pytest.raises(WebInputError) as caught:
        parse_event(body)
    assert (caught.value.status, caught.value.code) == (400, code)


# ------------------------------------------------------------------------------------------- endpoint


async def test_a_signed_event_notifies_exactly_once(start: Start, shop: Shop) -> None:
    client, service, recorder = await start()
    status, body = await post(client, {"order_number": shop.order, "event": "out_for_delivery"})
    assert (status, body["duplicate"]) == (202, False)
    assert await service.run_once() == 1
    assert recorder.sent == [("4242", [f"Good news: order {shop.order} is out for delivery today." + _hint()])]
    # the carrier retries the same webhook, and the notifier runs again: nothing new reaches the customer
    status, body = await post(client, {"order_number": shop.order, "event": "out_for_delivery"})
    assert (status, body["duplicate"]) == (200, True)
    assert await service.run_once() == 0
    assert len(recorder.sent) == 1
    assert [e.deliveries for e in shop.accounts.outbox(shop.order)] == [(("telegram:4242", "sent", 1),)]
    assert service.counts["events.recorded"] == 1 and service.counts["events.duplicate"] == 1


def _hint() -> str:
    from store.accounts import OPT_OUT_HINT

    return OPT_OUT_HINT


async def test_forged_missing_and_malformed_requests_are_refused_and_record_nothing(start: Start, shop: Shop) -> None:
    client, service, recorder = await start()
    event = {"order_number": shop.order, "event": "delivered"}
    assert (await post(client, event, secret="forged-secret-0123456789"))[0] == 401
    assert (await post(client, event, secret=None))[0] == 401
    status, body = await post(client, None, raw=b"\x00\x01binary garbage\xff")
    assert (status, body["code"]) == (400, "malformed_json")
    status, body = await post(client, {"order_number": shop.order, "event": "beamed up"})
    assert (status, body["code"]) == (400, "unknown_event")
    status, body = await post(client, {"order_number": "ORD-999999", "event": "delivered"})
    assert (status, body["code"]) == (404, "order_not_found")
    status, body = await post(client, {"order_number": shop.unshipped, "event": "delivered"})
    assert (status, body["code"]) == (422, "not_applicable")
    status, body = await post(client, None, raw=b'{"order_number": "' + b"9" * 20_000 + b'"}')
    assert (status, body["code"]) == (413, "body_too_large")
    assert shop.accounts.outbox() == []
    assert await service.run_once() == 0 and recorder.sent == []
    # the gateway keeps serving: the genuine event goes through
    assert (await post(client, event))[0] == 202
    assert await service.run_once() == 1
    assert service.counts["events.rejected"] == 2


async def test_without_a_secret_the_endpoint_is_off(start: Start, shop: Shop) -> None:
    client, _, _ = await start(webhook_secret=None)
    status, body = await post(client, {"order_number": shop.order, "event": "delivered"})
    assert (status, body["code"]) == (503, "not_configured")


async def test_customers_who_did_not_opt_in_get_nothing(start: Start, shop: Shop) -> None:
    client, service, recorder = await start()
    shop.accounts.set_notifications(shop.customer, False)
    assert (await post(client, {"order_number": shop.order, "event": "delayed"}))[0] == 202
    assert await service.run_once() == 0
    assert recorder.sent == []
    assert shop.accounts.outbox(shop.order)[0].status == "skipped_opted_out"


async def test_news_is_rate_limited_per_customer(start: Start, shop: Shop) -> None:
    client, service, recorder = await start(max_per_customer=2, window_seconds=600)
    for event_id in ("e1", "e2", "e3"):
        assert (await post(client, {"order_number": shop.order, "event": "delayed", "event_id": event_id}))[0] == 202
    assert await service.run_once() == 2
    assert len(recorder.sent) == 2
    shop.clock.now += timedelta(seconds=599)
    assert await service.run_once() == 0
    shop.clock.now += timedelta(seconds=2)
    assert await service.run_once() == 1
    assert len(recorder.sent) == 3


async def test_a_failed_push_is_retried_with_backoff_and_recorded(start: Start, shop: Shop) -> None:
    client, service, recorder = await start(max_attempts=3, retry_seconds=10)
    recorder.failures = 1
    await post(client, {"order_number": shop.order, "event": "delivered"})
    assert await service.run_once() == 0
    assert service.counts["push_failed"] == 1 and recorder.sent == []
    assert await service.run_once() == 0  # not due yet: back-off
    shop.clock.now += timedelta(seconds=10)
    assert await service.run_once() == 1
    assert recorder.sent == [("4242", [f"Order {shop.order} has been delivered. Enjoy!" + _hint()])]
    assert shop.accounts.outbox(shop.order)[0].deliveries == (("telegram:4242", "sent", 2),)


async def test_a_push_that_keeps_failing_is_given_up_and_counted(start: Start, shop: Shop) -> None:
    client, service, recorder = await start(max_attempts=2, retry_seconds=1)
    shop.link("web:conv-abc")  # linked on the web too: no web push target is registered in this app
    await post(client, {"order_number": shop.order, "event": "delivered"})
    await service.run_once()
    shop.clock.now += timedelta(seconds=1)
    await service.run_once()
    outcome = dict((c, (s, a)) for c, s, a in shop.accounts.outbox(shop.order)[0].deliveries)
    assert outcome == {"telegram:4242": ("sent", 1), "web:conv-abc": ("failed", 2)}
    assert service.counts["push_given_up"] == 1
    assert len(recorder.sent) == 1


async def test_the_background_task_delivers_without_being_asked(start: Start, shop: Shop) -> None:
    client, service, recorder = await start(enabled=True, poll_seconds=30)
    assert (await post(client, {"order_number": shop.order, "event": "out_for_delivery"}))[0] == 202
    deadline = asyncio.get_running_loop().time() + 5
    while not recorder.sent and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)  # the new event wakes the task long before its 30 s poll
    assert len(recorder.sent) == 1
    await asyncio.sleep(0.2)
    assert len(recorder.sent) == 1


def test_settings_from_env() -> None:
    from connectors.errors import SettingsError

    s = NotifySettings.from_env({"CARRIER_WEBHOOK_SECRET": SECRET, "NOTIFY_MAX_PER_CUSTOMER": "5"})
    assert (s.webhook_secret, s.max_per_customer, s.enabled) == (SECRET, 5, True)
    assert NotifySettings.from_env({}).webhook_secret is None
    assert NotifySettings.from_env({"NOTIFY_ENABLED": "0"}).enabled is False
    with pytest.raises(SettingsError, match="CARRIER_WEBHOOK_SECRET"):
        NotifySettings.from_env({"CARRIER_WEBHOOK_SECRET": "short"})
    with pytest.raises(SettingsError, match="NOTIFY_WINDOW_SECONDS"):
        NotifySettings.from_env({"NOTIFY_WINDOW_SECONDS": "soon"})
    assert "carrier-secret" not in repr(s)
