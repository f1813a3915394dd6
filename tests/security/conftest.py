"""Fixtures of the security regression tests: the order store on both backends, the actions' seeded shop,
the gateway's fake rasa and Slack, reused from the suites of those parts."""

from __future__ import annotations

from tests.actions.helpers import CLAIMS_SECRET, claims_secret, domain, seeded_db  # noqa: F401
from tests.connectors.conftest import fake_rasa, network_guard  # noqa: F401 - network_guard is autouse
from tests.connectors.slack.conftest import fake_slack  # noqa: F401
from tests.store.conftest import backend, db, postgres_url, seeded_engine, session_factory, store  # noqa: F401

__all__ = ["CLAIMS_SECRET"]
