"""Fixtures of the action tests (defined in helpers.py, shared with the end-to-end tests)."""

from tests.actions.helpers import cases, domain, seeded_db, store  # noqa: F401
