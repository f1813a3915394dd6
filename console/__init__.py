"""The support console: review transcripts, annotate them and turn mistakes into training data (issue 6).

``setup(app, settings)`` is called by ``connectors.app.create_app``; see console/README.md.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy.orm import sessionmaker

from connectors.db import SESSIONS_KEY
from connectors.settings import Settings
from console import models as _models  # noqa: F401  (declares the console_ tables before create_schema)
from console.auth import Auth
from console.handoffs import HandoffQueue
from console.settings import ConsoleSettings
from console.tracker import Indexer, tracker_engine
from console.web import STATE_KEY, ConsoleState, add_routes
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
    state = ConsoleState(
        settings=console_settings,
        auth=Auth(sessions, console_settings),
        sessions=sessions,
        tracker=tracker,
        indexer=Indexer(tracker, sessions),
        handoffs=HandoffQueue(shop, sessions),
        checks=OrderStore(sessionmaker(shop, expire_on_commit=False), limits=ProofLimits.from_env()),
    )
    app[STATE_KEY] = state
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


__all__ = ["setup"]
