"""Fixtures of the action tests (defined in helpers.py, shared with the end-to-end tests)."""

from collections.abc import Iterator

import pytest

from store.service import OrderStore
from tests.actions.helpers import cases, claims_secret, domain, seeded_db, store  # noqa: F401


@pytest.fixture(autouse=True)
def no_store_from_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An action test must use the seeded `store` fixture, never the developer's var/shop.db."""

    def refuse(*_: object, **__: object) -> OrderStore:
        raise AssertionError("this test reached the order store without requesting the `store` fixture")

    monkeypatch.setattr(OrderStore, "from_settings", classmethod(refuse))
    yield
