"""The support console: review transcripts, annotate them and turn mistakes into training data (issue 6).

``setup(app, settings)`` is called by ``gateway.create_app`` (as a part of ``connectors.app.create_app``);
see console/README.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from connectors.keys import ALERTS_KEY, HANDOFF_KEY, SESSIONS_KEY
from connectors.settings import Settings
from console import models as _models  # noqa: F401  (declares the console_ tables before create_schema)
from console import redact
from console.alerts import QueueAlerts
from console.auth import Auth
from console.handoffs import ConsoleDesk, HandoffQueue
from console.pseudonyms import Pseudonyms
from console.settings import ConsoleSettings
from console.shop import ShopFacts
from console.tracker import Indexer, tracker_engine
from console.web import STATE_KEY, ConsoleState, add_routes
from store import models as shop_models
from store.db import make_engine
from store.proofs import ProofLimits
from store.service import OrderStore

log = logging.getLogger("console")


def setup(app: web.Application, settings: Settings, console_settings: ConsoleSettings | None = None) -> ConsoleState:
    """Mount the console on the gateway app (page at ``/console``, API under ``/api/console/``).

    Args:
        app: the gateway application (its gateway-database sessions must already be installed).
        settings: the gateway settings (``tracker_db_url`` is read from them).
        console_settings: the console's own settings (default: from the environment).

    Returns:
        The console state (tests move its auth clock).
    """
    console_settings = console_settings or ConsoleSettings.from_env()
    sessions = app[SESSIONS_KEY]
    tracker = tracker_engine(settings.tracker_db_url)
    shop = make_engine(settings.shop_db_url)  # the hand-off queue; nothing is connected until it is read
    pseudonyms = Pseudonyms(sessions)
    facts = ShopFacts(shop)
    queue = HandoffQueue(shop, sessions, pseudonyms, facts)
    state = ConsoleState(
        settings=console_settings,
        auth=Auth(sessions, console_settings),
        sessions=sessions,
        tracker=tracker,
        indexer=Indexer(tracker, sessions, pseudonyms),
        handoffs=queue,
        pseudonyms=pseudonyms,
        facts=facts,
        desk=ConsoleDesk(queue),
        checks=OrderStore(sessionmaker(shop, expire_on_commit=False), limits=ProofLimits.from_env()),
    )
    app[STATE_KEY] = state
    redact.use_customer_names(shop_names_reader(shop))  # "Thanks, Noah": the store knows its customers' names
    # A tablet's "call a staff member" goes to Slack when it is configured; without it (or when Slack
    # refuses) the console's hand-off queue takes the call.
    if ALERTS_KEY in app:
        app[ALERTS_KEY] = QueueAlerts(facts, inner=app[ALERTS_KEY])
    # Slack's ticket messages name the conversation by its console id too (a web conversation id is a secret).
    if HANDOFF_KEY in app:
        app[HANDOFF_KEY].conversation_label = pseudonyms.of
    add_routes(app)
    background: list[asyncio.Task[int]] = []

    async def _index_now(_app: web.Application) -> None:
        # A large tracker takes a while to index the first time; start at once rather than on the first
        # request (requests arriving meanwhile wait for the same lock, then find little left to do).
        background.append(asyncio.create_task(asyncio.to_thread(state.indexer.refresh)))

    async def _dispose(_app: web.Application) -> None:
        for task in background:
            try:
                await task
            except Exception:
                log.exception("indexing the tracker store at start-up failed")
        tracker.dispose()
        shop.dispose()

    app.on_startup.append(_index_now)
    app.on_cleanup.append(_dispose)
    return state


def shop_names_reader(shop: Engine) -> Callable[[], tuple[list[str], list[str]]]:
    """A reader of the customers' names and the product titles' words, for :func:`console.redact.use_customer_names`.

    Args:
        shop: the order store.

    Returns:
        A function returning ``(names, words)``; both empty (and a warning logged) while the store is unreadable.
    """

    def read() -> tuple[list[str], list[str]]:
        try:
            with shop.connect() as conn:
                names = list(conn.scalars(select(shop_models.Customer.name)))
                titles = list(conn.scalars(select(shop_models.Product.title)))
        except SQLAlchemyError as error:
            log.warning("customer names unreadable, names are redacted by context only: %s", type(error).__name__)
            return [], []
        return names, [word for title in titles for word in title.split()]

    return read


__all__ = ["setup", "shop_names_reader"]
