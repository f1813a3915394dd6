"""Order summary, tracking, payment, invoice, cancellation and address changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from store import models as m
from store.errors import InvalidInput, NotAllowed
from store.service import OrderStore, add_business_days


def _money(pence: int) -> Decimal:
    return Decimal(pence) / 100


def test_order_summary(store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str]) -> None:
    order = find_order(lambda o: len(o.lines) >= 2 and o.shipping_pence > 0, status="in_transit")
    summary = store.order_summary(grant(order.number), order.number)
    assert summary.order_number == order.number
    assert summary.status == "in_transit"
    assert summary.placed_at.replace(tzinfo=None) == order.placed_at
    assert summary.placed_at.utcoffset() == timedelta(0)
    assert [line.sku for line in summary.lines] == [line.sku for line in order.lines]
    assert [line.line_id for line in summary.lines] == [line.id for line in order.lines]
    assert summary.lines[0].unit_price == _money(order.lines[0].unit_price_pence)
    assert summary.lines[0].line_total == _money(order.lines[0].unit_price_pence * order.lines[0].qty)
    assert summary.subtotal == sum((line.line_total for line in summary.lines), Decimal(0))
    assert summary.total == summary.subtotal + summary.shipping_cost == _money(order.total_pence)
    assert summary.currency == "GBP"
    assert summary.shipping_address.postcode == order.ship_postcode
    assert summary.shipping_address.country == order.ship_country
    assert summary.shipping_method == order.shipping_method
    assert summary.payment_status == "paid"
    assert summary.customer_first_name == order.customer.name.split()[0]


def test_tracking_in_transit(store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str]) -> None:
    order = find_order(lambda o: o.shipment.status == "in_transit", status="in_transit")
    info = store.tracking(grant(order.number), order.number)
    assert info.shipped is True
    assert info.carrier == order.shipment.carrier
    assert info.tracking_number == order.shipment.tracking_number
    assert info.tracking_url is not None and info.tracking_number in info.tracking_url
    assert info.shipment_status == "in_transit"
    assert len(info.events) == len(order.shipment.events) >= 3
    assert info.last_event == info.events[-1]
    assert info.last_event.description == order.shipment.events[-1].description
    assert info.estimated_delivery == order.shipment.estimated_delivery
    assert (info.is_delayed, info.is_lost) == (False, False)
    assert info.tracking_number in info.message


def test_tracking_number_formats(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str]
) -> None:
    import re

    formats = {
        "Royal Mail": r"[A-Z]{2}\d{9}GB",
        "DHL": r"\d{10}",
        "UPS": r"1Z[0-9A-Z]{16}",
        "DPD": r"\d{14}",
    }
    seen: set[str] = set()
    for carrier, pattern in formats.items():
        order = find_order(lambda o, c=carrier: o.shipment is not None and o.shipment.carrier == c)
        info = store.tracking(grant(order.number), order.number)
        assert re.fullmatch(pattern, info.tracking_number or ""), (carrier, info.tracking_number)
        seen.add(carrier)
    assert seen == set(formats)


def test_tracking_delayed_and_lost(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str], now: datetime
) -> None:
    delayed = find_order(lambda o: o.shipment.status == "delayed", status="delayed")
    info = store.tracking(grant(delayed.number), delayed.number)
    assert (info.is_delayed, info.is_lost) == (True, False)
    assert info.last_event is not None and info.last_event.status == "delayed"
    assert info.estimated_delivery is not None and info.estimated_delivery > now.date()
    assert "delayed" in info.message

    lost = find_order(lambda o: o.shipment.status == "lost", status="delayed")
    info = store.tracking(grant(lost.number), lost.number)
    assert (info.is_lost, info.shipment_status) == (True, "lost")
    assert info.estimated_delivery is None
    assert "lost" in info.message


def test_tracking_delivered(store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str]) -> None:
    order = find_order(status="delivered")
    info = store.tracking(grant(order.number), order.number)
    assert info.shipment_status == "delivered"
    assert info.delivered_at is not None and info.delivered_at.replace(tzinfo=None) == order.delivered_at
    assert info.last_event is not None and info.last_event.status == "delivered"
    assert "delivered" in info.message


def test_tracking_not_yet_shipped_says_when_it_will_ship(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str], now: datetime
) -> None:
    order = find_order(status="paid")
    info = store.tracking(grant(order.number), order.number)
    assert info.shipped is False
    assert (info.carrier, info.tracking_number, info.events) == (None, None, ())
    expected = max(add_business_days(order.placed_at.date(), 1), now.date())
    assert info.expected_ship_date == expected
    assert "not shipped yet" in info.message

    failed = find_order(status="payment_failed")
    info = store.tracking(grant(failed.number), failed.number)
    assert info.shipped is False and info.expected_ship_date is None
    assert "payment" in info.message


def test_payment_info_failed_payment_is_held(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str], now: datetime
) -> None:
    order = find_order(status="payment_failed")
    info = store.payment_info(grant(order.number), order.number)
    assert info.status == "failed"
    assert info.failure_reason == order.payment_failure_reason
    assert info.held_until is not None
    assert info.held_until.replace(tzinfo=None) == order.placed_at + timedelta(hours=72)
    assert info.held_until > now
    assert "pay again" in info.action
    assert info.amount == _money(order.total_pence)


def test_payment_info_paid_and_authorised(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str]
) -> None:
    paid = store.payment_info(grant(find_order(status="paid").number), find_order(status="paid").number)
    assert (paid.status, paid.held_until, paid.failure_reason) == ("paid", None, None)
    assert "Nothing to do" in paid.action
    placed = find_order(status="placed")
    info = store.payment_info(grant(placed.number), placed.number)
    assert info.status == "authorised"
    assert "when the order ships" in info.action


def test_payment_methods_are_public(store: OrderStore) -> None:
    codes = [method.code for method in store.payment_methods()]
    assert codes == ["card", "paypal", "apple_pay", "google_pay", "klarna", "gift_card"]


def test_invoice_uk_includes_vat(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str]
) -> None:
    order = find_order(lambda o: o.total_pence % 6 != 0, status="delivered", ship_country="GB")
    invoice = store.invoice(grant(order.number), order.number)
    assert invoice.invoice_number == "INV-" + order.number[4:]
    assert invoice.issue_date == order.placed_at.date()
    assert invoice.billing_name == order.customer.name
    assert invoice.billing_address.postcode == order.customer.postcode
    assert invoice.vat_rate == Decimal("0.20")
    total = _money(order.total_pence)
    assert invoice.total == total == invoice.subtotal + invoice.shipping
    assert invoice.vat_amount == (total / 6).quantize(Decimal("0.01"))
    assert sum((line.line_total for line in invoice.lines), Decimal(0)) == invoice.subtotal


def test_invoice_outside_uk_and_eu_has_no_vat(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str]
) -> None:
    order = find_order(status="delivered", ship_country="US")
    invoice = store.invoice(grant(order.number), order.number)
    assert invoice.vat_rate == Decimal(0)
    assert invoice.vat_amount == Decimal("0.00")
    eu = find_order(status="delivered", ship_country="DE")
    assert store.invoice(grant(eu.number), eu.number).vat_rate == Decimal("0.20")


def test_invoice_refused_when_never_paid(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str]
) -> None:
    order = find_order(status="payment_failed")
    with pytest.raises(NotAllowed) as refused:
        store.invoice(grant(order.number), order.number)
    assert refused.value.reason_code == "not_paid"


def test_cancel_paid_order_creates_a_refund(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str], now: datetime
) -> None:
    order = find_order(status="paid")
    conversation = grant(order.number)
    result = store.cancel_order(conversation, order.number)
    assert result.status == "cancelled"
    assert result.refund is not None
    assert result.refund.amount == _money(order.total_pence)
    assert result.refund.method == order.payment_method
    assert result.refund.status == "processing"
    assert result.refund.expected_by == add_business_days(now.date(), 10)
    summary = store.order_summary(conversation, order.number)
    assert (summary.status, summary.payment_status) == ("cancelled", "refunded")
    assert summary.cancelled_at == now
    assert [r.refund_id for r in store.refunds_for(conversation, order.number)] == [result.refund.refund_id]
    with pytest.raises(NotAllowed) as twice:
        store.cancel_order(conversation, order.number)
    assert twice.value.reason_code == "already_cancelled"


@pytest.mark.parametrize("status", ["placed", "payment_failed"])
def test_cancel_unpaid_order_voids_the_payment(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str], status: str
) -> None:
    order = find_order(status=status)
    conversation = grant(order.number)
    result = store.cancel_order(conversation, order.number)
    assert (result.status, result.refund) == ("cancelled", None)
    assert "No money was taken" in result.message
    assert store.payment_info(conversation, order.number).status == "voided"
    assert store.refunds_for(conversation, order.number) == []


@pytest.mark.parametrize("status", ["shipped", "in_transit", "delayed", "delivered", "return_requested", "refunded"])
def test_cancel_refused_once_shipped(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str], status: str
) -> None:
    order = find_order(status=status)
    conversation = grant(order.number)
    with pytest.raises(NotAllowed) as refused:
        store.cancel_order(conversation, order.number)
    assert refused.value.reason_code == "already_shipped"
    assert order.number in refused.value.message
    assert store.order_summary(conversation, order.number).status == status


def test_change_address_before_shipping(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str]
) -> None:
    order = find_order(status="placed", ship_country="GB")
    conversation = grant(order.number)
    change = store.change_shipping_address(conversation, order.number, "Flat 2, 5 Baker Street, London nw16xe")
    assert change.old_address.postcode == order.ship_postcode
    assert (change.new_address.line, change.new_address.city) == ("Flat 2, 5 Baker Street", "London")
    assert (change.new_address.postcode, change.new_address.country) == ("NW1 6XE", "GB")
    assert change.new_address.name == order.ship_name
    assert store.order_summary(conversation, order.number).shipping_address == change.new_address
    # the new postcode now proves ownership in a new conversation; the old one does not
    assert store.verify("new-conv", order.number, "NW1 6XE").order_number == order.number


def test_change_address_needs_a_postcode_and_the_same_country(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str]
) -> None:
    order = find_order(status="paid", ship_country="GB")
    conversation = grant(order.number)
    with pytest.raises(InvalidInput):
        store.change_shipping_address(conversation, order.number, "5 Baker Street, London")
    with pytest.raises(NotAllowed) as abroad:
        store.change_shipping_address(conversation, order.number, "Hauptstraße 12, 10115 Berlin, Germany")
    assert abroad.value.reason_code == "different_country"
    assert store.order_summary(conversation, order.number).shipping_address.postcode == order.ship_postcode


@pytest.mark.parametrize(("status", "code"), [("in_transit", "already_shipped"), ("cancelled", "cancelled")])
def test_change_address_refused_after_shipping_or_cancel(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str], status: str, code: str
) -> None:
    order = find_order(status=status, ship_country="GB")
    with pytest.raises(NotAllowed) as refused:
        store.change_shipping_address(grant(order.number), order.number, "5 Baker Street, London NW1 6XE")
    assert refused.value.reason_code == code


def test_checks_before_asking_match_the_actions(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str]
) -> None:
    placed = find_order(status="placed")
    conversation = grant(placed.number)
    store.check_cancellable(conversation, placed.number)  # no error: may ask "shall I cancel it?"
    store.check_address_changeable(conversation, placed.number)
    shipped = find_order(status="shipped")
    conversation = grant(shipped.number)
    with pytest.raises(NotAllowed) as cancel:
        store.check_cancellable(conversation, shipped.number)
    with pytest.raises(NotAllowed) as address:
        store.check_address_changeable(conversation, shipped.number)
    assert cancel.value.reason_code == address.value.reason_code == "already_shipped"
    assert store.order_summary(conversation, shipped.number).status == "shipped"
    cancelled = find_order(status="cancelled")
    conversation = grant(cancelled.number)
    with pytest.raises(NotAllowed) as again:
        store.check_cancellable(conversation, cancelled.number)
    assert again.value.reason_code == "already_cancelled"
