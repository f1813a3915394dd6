"""Revision 0006: customer photos kept with their ticket or return, ratings given once, a tablet ticket's shop."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import erasure
from store import models as m
from store.errors import InvalidInput
from store.feedback import CONVERSATION, AlreadyRated, CustomerFeedback, NotRateable, PhotoNotFound
from store.service import OrderStore

JPEG = b"\xff\xd8\xff\xe0 not really a jpeg, the gateway checks bytes before the store sees them"


def _returnable(order: m.Order, now: datetime) -> bool:
    if order.delivered_at is None or order.returns or any(line.final_sale for line in order.lines):
        return False
    return order.delivered_at.date() + timedelta(days=30) >= now.date() + timedelta(days=3)


def test_a_photo_goes_with_the_open_ticket_and_is_read_back(store: OrderStore) -> None:
    feedback = CustomerFeedback.of(store)
    ticket = store.open_handoff("web:photo-1", channel="web", reason="complaint", summary="the lid was cracked")
    info = feedback.add_photo("web:photo-1", "web", JPEG, "image/jpeg", 640, 480)
    assert (info.ticket_number, info.rma_number) == (ticket.ticket_number, None)
    assert (info.width, info.height, info.size_bytes) == (640, 480, len(JPEG))
    photo = feedback.photo(info.photo_id)
    assert photo.data == JPEG and photo.info == info
    assert feedback.photos_for_tickets([ticket.ticket_number]) == {ticket.ticket_number: [info]}
    assert feedback.photos_for_conversations(["web:photo-1", "web:someone-else"]) == {"web:photo-1": [info]}


def test_a_photo_goes_with_the_return_made_in_the_conversation(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str], now: datetime
) -> None:
    order = find_order(lambda o: _returnable(o, now), status="delivered", ship_country="GB")
    conversation = grant(order.number)
    rma = store.create_return(conversation, order.number, reason="wrong shade").rma_number
    info = CustomerFeedback.of(store).add_photo(conversation, "web", JPEG, "image/png", 10, 10)
    assert (info.ticket_number, info.rma_number) == (None, rma)


def test_a_photo_sent_before_the_ticket_shows_with_the_ticket_it_opens(store: OrderStore) -> None:
    feedback = CustomerFeedback.of(store)
    early = feedback.add_photo("web:photo-2", "web", JPEG, "image/webp", 5, 5)
    assert (early.ticket_number, early.rma_number) == (None, None)
    ticket = store.open_handoff("web:photo-2", channel="web", reason="complaint", summary="")
    other = store.open_handoff("web:photo-3", channel="web", reason="complaint", summary="")
    shown = feedback.photos_for_tickets([ticket.ticket_number, other.ticket_number])
    assert shown == {ticket.ticket_number: [early]}  # the other conversation's ticket gets nothing


def test_photos_refuse_unknown_types_and_are_deleted_per_conversation(
    store: OrderStore, session_factory: sessionmaker[Session]
) -> None:
    feedback = CustomerFeedback.of(store)
    with pytest.raises(InvalidInput):
        feedback.add_photo("web:x1", "web", b"GIF89a...", "image/gif", 1, 1)
    with pytest.raises(InvalidInput):
        feedback.add_photo("web:x1", "web", b"", "image/png", 1, 1)
    kept = feedback.add_photo("web:x1", "web", JPEG, "image/jpeg", 1, 1)
    feedback.add_photo("web:x2", "web", JPEG, "image/jpeg", 1, 1)
    erasure.forget_conversations(session_factory, ["web:x1"])  # retention and erasure delete them
    with pytest.raises(PhotoNotFound):
        feedback.photo(kept.photo_id)
    assert list(feedback.photos_for_conversations(["web:x1", "web:x2"])) == ["web:x2"]


def test_a_conversation_is_rated_once(store: OrderStore) -> None:
    feedback = CustomerFeedback.of(store)
    rating = feedback.rate("web:rate-1", "web", 4, "  quick and clear  ")
    assert (rating.subject, rating.score, rating.comment) == (CONVERSATION, 4, "quick and clear")
    assert rating.outcome == "assistant"
    with pytest.raises(AlreadyRated):
        feedback.rate("web:rate-1", "web", 1)
    assert feedback.rating_for("web:rate-1") == rating
    assert feedback.rating_for("web:rate-2") is None


@pytest.mark.parametrize("score", [0, 6, True, "5", 4.5])
def test_a_score_is_a_whole_number_from_1_to_5(store: OrderStore, score: object) -> None:
    with pytest.raises(InvalidInput):
        CustomerFeedback.of(store).rate("web:rate-3", "web", score)  # type: ignore[arg-type]


def test_a_resolved_handoff_is_rated_by_its_ticket_and_only_by_its_conversation(store: OrderStore) -> None:
    feedback = CustomerFeedback.of(store)
    ticket = store.open_handoff("web:rate-4", channel="web", reason="complaint", summary="")
    with pytest.raises(NotRateable):  # not resolved yet
        feedback.rate("web:rate-4", "web", 5, subject=ticket.ticket_number)
    store.close_handoff(ticket.ticket_number)
    with pytest.raises(NotRateable):  # someone else's ticket
        feedback.rate("web:rate-5", "web", 5, subject=ticket.ticket_number)
    rating = feedback.rate("web:rate-4", "web", 2, subject=ticket.ticket_number)
    assert rating.outcome == "handoff"
    assert feedback.rate("web:rate-4", "web", 5).outcome == "assistant"  # the conversation itself, separately
    with pytest.raises(AlreadyRated):
        feedback.rate("web:rate-4", "web", 3, subject=ticket.ticket_number)
    assert [(r.subject, r.score) for r in feedback.ratings()] == [(ticket.ticket_number, 2), (CONVERSATION, 5)]


def test_a_tablet_ticket_keeps_its_shop(store: OrderStore) -> None:
    ticket = store.open_handoff("tablet:s1", channel="tablet", reason="staff call", summary="", store_id="LDN-01")
    assert ticket.store_id == "LDN-01"
    assert store.handoffs("open")[0].store_id == "LDN-01"
