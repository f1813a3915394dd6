"""Shared pieces of the tablet tests: a tiny order store with shops, a recording StaffAlerts, a gateway."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.orm import Session

from connectors.alerts import AlertNotDelivered, StaffAlert
from connectors.keys import ALERTS_KEY
from connectors.rasa_client import RasaClient
from connectors.tablet import TabletChannel, TabletSettings
from connectors.tablet.channel import ShopRecords, StoreNames
from connectors.tablet.devices import DeviceInfo, TabletRegistry
from gateway import create_app
from store.db import make_engine
from store.migrate import upgrade
from store.seed import seed
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, make_settings

SHOPS = {"LDN-01": "Covent Garden", "MAN-01": "King Street"}


def make_shop_db(folder: Path) -> str:
    """A migrated order store holding only the two shops (enough for device registration)."""
    url = f"sqlite:///{folder / 'shop.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        for store_id, name in SHOPS.items():
            conn.execute(
                text(
                    "INSERT INTO stores (id, name, city, address, postcode, opening_hours) "
                    "VALUES (:id, :name, 'City', '1 High Street', 'AB1 2CD', '')"
                ),
                {"id": store_id, "name": name},
            )
    engine.dispose()
    return url


def seeded_shop_db(folder: Path) -> str:
    """A freshly migrated and seeded demo shop (the one ``make db`` builds), for tests that prove orders."""
    url = f"sqlite:///{folder / 'demo-shop.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        seed(session)
        session.commit()
    engine.dispose()
    return url


@dataclass
class RecordingAlerts:
    """A StaffAlerts that records every alert; ``fail`` makes it refuse like an unreachable Slack."""

    alerts: list[StaffAlert] = field(default_factory=list)
    fail: bool = False

    async def alert(self, alert: StaffAlert) -> str:
        self.alerts.append(alert)
        if self.fail:
            raise AlertNotDelivered("slack said channel_not_found")
        return f"1700000000.{len(self.alerts):06d}"


@dataclass
class Clock:
    """A naive-UTC clock the test moves."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 28, 9, 0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class TabletGateway:
    """A running gateway with the tablet channel, its registry and the recording alerts."""

    client: TestClient
    registry: TabletRegistry
    alerts: RecordingAlerts
    clock: Clock
    channel: TabletChannel

    def register(self, store_id: str = "LDN-01", name: str = "front door") -> tuple[DeviceInfo, str]:
        return self.registry.register(store_id, name, SHOPS)

    async def session(self, token: str) -> str:
        resp = await self.client.post("/api/tablet/session", headers=auth(token))
        body = await resp.json()
        assert resp.status == 200, body
        return str(body["session_id"])

    async def say(self, token: str, session_id: str, **content: object) -> tuple[int, dict[str, object]]:
        resp = await self.client.post(
            "/api/tablet/messages", json={"session_id": session_id, **content}, headers=auth(token)
        )
        return resp.status, await resp.json()

    async def updates(self, token: str, session_id: str, **extra: object) -> tuple[int, dict[str, object]]:
        """What the kiosk page's poll does: ``POST /api/tablet/updates``."""
        resp = await self.client.post(
            "/api/tablet/updates", json={"session_id": session_id, **extra}, headers=auth(token)
        )
        return resp.status, await resp.json()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def start_tablet_gateway(
    fake_rasa: FakeRasa,
    settings: TabletSettings | None = None,
    alerts: RecordingAlerts | None = None,
    *,
    install_alerts: bool = True,
    load_names: Callable[[], dict[str, str]] = lambda: SHOPS,
    shop_db_url: str | None = None,
) -> TabletGateway:
    """Start a gateway serving only the tablet channel, wired to ``fake_rasa`` (and to an order store with
    the two shops and no tickets, unless ``shop_db_url`` names one)."""
    clock = Clock()
    channel = TabletChannel(
        settings or TabletSettings(idle_seconds=60, countdown_seconds=10),
        store_names=StoreNames(load=load_names),
        now=clock,
        shop=ShopRecords(shop_db_url or make_shop_db(Path(tempfile.mkdtemp(prefix="tablet-shop-")))),
    )
    gateway_settings = make_settings(fake_rasa.url)
    app = create_app(
        gateway_settings,
        RasaClient(gateway_settings.rasa_url, TOKEN, gateway_settings.rasa_timeout, health_timeout=0.5),
        channels=[channel],
    )
    recording = alerts or RecordingAlerts()
    if install_alerts:  # else the app keeps UnconfiguredAlerts, as when Slack is not set up
        app[ALERTS_KEY] = recording
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()  # creates the gateway tables
    return TabletGateway(client, channel.registry, recording, clock, channel)
