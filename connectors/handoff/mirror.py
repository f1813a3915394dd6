"""``OrderStoreMirror``: the order store's ``handoff_tickets`` row follows Claim and Resolve (status, who, when)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from store.db import make_engine
from store.service import OrderStore
from store.settings import Settings as StoreSettings


class OrderStoreMirror:
    """Writes claims and closes to the order store at ``shop_db_url`` (opened on first use)."""

    def __init__(self, shop_db_url: str | None) -> None:
        """Remember the URL; nothing is opened yet (None: the store's own default settings)."""
        self._url = shop_db_url
        self._engine: Engine | None = None

    def _store(self) -> OrderStore:
        if self._engine is None:
            url = StoreSettings.from_env({"SHOP_DATABASE_URL": self._url or ""}).database_url
            self._engine = make_engine(url)
        return OrderStore(sessionmaker(self._engine))

    def assign(self, ticket: str, staff_id: str, staff_name: str, at: datetime) -> None:
        """Mark ``ticket`` assigned to ``"{name} ({id})"``.

        Raises:
            LookupError: the order store has no such ticket; SQLAlchemyError: it is unreachable.
        """
        self._store().assign_handoff(ticket, f"{staff_name} ({staff_id})", at)

    def close(self, ticket: str, at: datetime) -> None:
        """Mark ``ticket`` closed.

        Raises:
            LookupError: the order store has no such ticket; SQLAlchemyError: it is unreachable.
        """
        self._store().close_handoff(ticket, at)

    def dispose(self) -> None:
        """Close the engine, if one was opened."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
