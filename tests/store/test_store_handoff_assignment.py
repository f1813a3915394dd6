"""Revision 0004: a hand-off ticket records who claimed it and when, and when it was closed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from store import models as m
from store.service import OrderStore


def test_assign_then_close_records_who_and_when(store: OrderStore, db: Session) -> None:
    ticket = store.open_handoff("web:abc", channel="web", reason="customer asked for a person", summary="hi")
    claimed = datetime(2026, 11, 28, 10, 5, tzinfo=UTC)
    store.assign_handoff(ticket.ticket_number, "Sam (U0STAFF01)", claimed)
    assert [t.ticket_number for t in store.handoffs("assigned")] == [ticket.ticket_number]
    store.close_handoff(ticket.ticket_number, datetime(2026, 11, 28, 10, 30, tzinfo=UTC))
    row = db.execute(select(m.HandoffTicket).where(m.HandoffTicket.ticket_number == ticket.ticket_number)).scalar_one()
    assert (row.status, row.assigned_to) == ("closed", "Sam (U0STAFF01)")
    assert row.assigned_at == datetime(2026, 11, 28, 10, 5) and row.closed_at == datetime(2026, 11, 28, 10, 30)


def test_an_unknown_ticket_is_a_lookup_error(store: OrderStore) -> None:
    with pytest.raises(LookupError, match="HO-999999"):
        store.assign_handoff("HO-999999", "Sam")
    with pytest.raises(LookupError):
        store.close_handoff("HO-999999")
