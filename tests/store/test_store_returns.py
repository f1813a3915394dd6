"""Return eligibility (every reason), creating returns, looking them up, and refunds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from store import models as m
from store.errors import NotAllowed
from store.service import OrderStore, add_business_days


def _in_window(order: m.Order, now: datetime, *, min_days: int = 3) -> bool:
    if order.delivered_at is None:
        return False
    return order.delivered_at.date() + timedelta(days=30) >= now.date() + timedelta(days=min_days)


def _clean(order: m.Order) -> bool:
    return not order.returns and not any(line.final_sale for line in order.lines)


def test_eligible_order_lists_every_line_and_the_window(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str], now: datetime
) -> None:
    order = find_order(lambda o: _in_window(o, now) and _clean(o), status="delivered", ship_country="GB")
    conversation = grant(order.number)
    result = store.return_eligibility(conversation, order.number)
    window_ends = order.delivered_at.date() + timedelta(days=30)
    assert result.eligible is True
    assert result.reason_code == "ok"
    assert result.window_ends == window_ends
    assert result.days_left == (window_ends - now.date()).days
    assert {line.line_id for line in result.returnable_lines} == {line.id for line in order.lines}
    assert {line.qty for line in result.returnable_lines} == {line.qty for line in order.lines}
    assert str(result.days_left) in result.message


def test_not_delivered_orders_cannot_be_returned(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str]
) -> None:
    for status in ("placed", "paid", "payment_failed", "shipped", "in_transit", "delayed", "cancelled"):
        order = find_order(status=status)
        result = store.return_eligibility(grant(order.number), order.number)
        assert (result.eligible, result.reason_code) == (False, "not_delivered"), status
        assert result.returnable_lines == ()


def test_window_expired(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str], now: datetime
) -> None:
    order = find_order(lambda o: o.delivered_at.date() + timedelta(days=30) < now.date(), status="delivered")
    result = store.return_eligibility(grant(order.number), order.number)
    assert (result.eligible, result.reason_code) == (False, "window_expired")
    assert result.window_ends == order.delivered_at.date() + timedelta(days=30)
    assert result.days_left == 0
    with pytest.raises(NotAllowed) as refused:
        store.create_return(grant(order.number), order.number)
    assert refused.value.reason_code == "window_expired"


def test_all_final_sale(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str], now: datetime
) -> None:
    order = find_order(lambda o: _in_window(o, now) and all(line.final_sale for line in o.lines), status="delivered")
    conversation = grant(order.number)
    result = store.return_eligibility(conversation, order.number)
    assert (result.eligible, result.reason_code) == (False, "all_final_sale")
    with pytest.raises(NotAllowed) as refused:
        store.create_return(conversation, order.number)
    assert refused.value.reason_code == "all_final_sale"


def test_already_returned(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str], now: datetime
) -> None:
    order = find_order(
        lambda o: (
            _in_window(o, now)
            and all(
                line.final_sale
                or sum(rl.qty for r in o.returns for rl in r.lines if rl.order_line_id == line.id) >= line.qty
                for line in o.lines
            )
        ),
        status="return_requested",
    )
    conversation = grant(order.number)
    result = store.return_eligibility(conversation, order.number)
    assert (result.eligible, result.reason_code) == (False, "already_returned")
    summary = store.order_summary(conversation, order.number)
    assert all(line.returned_qty == line.qty for line in summary.lines if not line.final_sale)
    with pytest.raises(NotAllowed) as refused:
        store.create_return(conversation, order.number, [order.lines[0].sku])
    assert refused.value.reason_code in {"already_returned", "final_sale"}


def test_create_return_for_everything_uk_gets_a_free_label(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str], now: datetime
) -> None:
    order = find_order(lambda o: _in_window(o, now) and _clean(o), status="delivered", ship_country="GB")
    conversation = grant(order.number)
    expected_refund = Decimal(sum(line.unit_price_pence * line.qty for line in order.lines)) / 100
    info = store.create_return(conversation, order.number, reason="changed my mind")
    assert info.rma_number.startswith("RMA-") and len(info.rma_number) == 10
    assert info.status == "approved"
    assert info.free_label is True
    assert info.label_url is not None and info.rma_number in info.label_url
    assert "prepaid" in info.label_instructions
    assert info.refund_estimate == expected_refund
    assert info.reason == "changed my mind"
    assert sorted(line.line_id for line in info.lines) == sorted(line.id for line in order.lines)
    assert info.created_at == now
    # the order moved on, and the return is visible everywhere
    assert store.order_summary(conversation, order.number).status == "return_requested"
    assert [r.rma_number for r in store.returns_for(conversation, order.number)] == [info.rma_number]
    assert store.return_by_rma(conversation, info.rma_number) == info
    assert store.order_for_rma(info.rma_number) == order.number
    again = store.return_eligibility(conversation, order.number)
    assert again.reason_code == "already_returned"


def test_rma_numbers_are_sequential(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str], now: datetime, db: Session
) -> None:
    from sqlalchemy import func, select

    highest = db.execute(select(func.max(m.Return.rma_number))).scalar_one()
    order = find_order(lambda o: _in_window(o, now) and _clean(o), status="delivered")
    info = store.create_return(grant(order.number), order.number)
    assert int(info.rma_number[4:]) == int(highest[4:]) + 1


def test_create_return_international_is_paid_by_the_customer(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str], now: datetime
) -> None:
    order = find_order(lambda o: _in_window(o, now) and _clean(o) and o.ship_country != "GB", status="delivered")
    info = store.create_return(grant(order.number), order.number)
    assert info.free_label is False
    assert info.label_url is None
    assert "own cost" in info.label_instructions
    assert info.rma_number in info.label_instructions


def test_create_return_for_chosen_lines_by_sku_and_id(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str], now: datetime
) -> None:
    order = find_order(lambda o: _in_window(o, now) and _clean(o) and len(o.lines) >= 3, status="delivered")
    conversation = grant(order.number)
    first, second = order.lines[0], order.lines[1]
    info = store.create_return(conversation, order.number, [first.sku.lower(), second.id], reason="wrong shade")
    assert [line.sku for line in info.lines] == [first.sku, second.sku]
    assert (
        info.refund_estimate == Decimal(first.unit_price_pence * first.qty + second.unit_price_pence * second.qty) / 100
    )
    remaining = store.return_eligibility(conversation, order.number)
    assert remaining.eligible
    assert [line.line_id for line in remaining.returnable_lines] == [line.id for line in order.lines[2:]]
    with pytest.raises(NotAllowed) as twice:
        store.create_return(conversation, order.number, [first.sku])
    assert twice.value.reason_code == "already_returned"
    with pytest.raises(NotAllowed) as unknown:
        store.create_return(conversation, order.number, ["NOPE-0001"])
    assert unknown.value.reason_code == "unknown_item"
    with pytest.raises(NotAllowed) as empty:
        store.create_return(conversation, order.number, [])
    assert empty.value.reason_code == "no_items"


def test_final_sale_line_is_refused_but_the_rest_can_go(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str], now: datetime
) -> None:
    order = find_order(
        lambda o: (
            _in_window(o, now)
            and not o.returns
            and any(line.final_sale for line in o.lines)
            and not all(line.final_sale for line in o.lines)
        ),
        status="delivered",
    )
    conversation = grant(order.number)
    final = next(line for line in order.lines if line.final_sale)
    eligibility = store.return_eligibility(conversation, order.number)
    assert eligibility.eligible
    assert final.id not in {line.line_id for line in eligibility.returnable_lines}
    with pytest.raises(NotAllowed) as refused:
        store.create_return(conversation, order.number, [final.sku])
    assert refused.value.reason_code == "final_sale"
    assert final.title in refused.value.message
    info = store.create_return(conversation, order.number)  # None = all returnable lines
    assert final.sku not in {line.sku for line in info.lines}


def test_not_delivered_return_is_refused(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str]
) -> None:
    order = find_order(status="in_transit")
    with pytest.raises(NotAllowed) as refused:
        store.create_return(grant(order.number), order.number)
    assert refused.value.reason_code == "not_delivered"


def test_rejected_return_does_not_count_as_returned(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str]
) -> None:
    order = find_order(lambda o: any(r.status == "rejected" for r in o.returns))
    summary = store.order_summary(grant(order.number), order.number)
    assert all(line.returned_qty == 0 for line in summary.lines)


def test_refunds_for_a_returned_order_are_in_progress(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str]
) -> None:
    order = find_order(status="returned")
    refunds = store.refunds_for(grant(order.number), order.number)
    assert len(refunds) == 1
    refund = refunds[0]
    seeded = order.refunds[0]
    assert refund.amount == Decimal(seeded.amount_pence) / 100
    assert refund.status in {"pending", "processing"}
    assert refund.completed_at is None
    assert refund.rma_number == order.returns[0].rma_number
    assert refund.expected_by == add_business_days(seeded.created_at.date(), 10)
    assert refund.method == order.payment_method
    assert refund.currency == "GBP"


def test_refunds_for_a_refunded_order_are_completed(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str]
) -> None:
    order = find_order(lambda o: bool(o.returns), status="refunded")
    refund = store.refunds_for(grant(order.number), order.number)[0]
    assert refund.status == "completed"
    assert refund.completed_at is not None and refund.completed_at >= refund.created_at
    assert refund.expected_by is None
    assert store.returns_for(grant(order.number), order.number)[0].status == "refunded"


def test_refunds_for_an_order_without_refunds_is_empty(
    store: OrderStore, find_order: Callable[..., m.Order], grant: Callable[..., str]
) -> None:
    order = find_order(status="in_transit")
    assert store.refunds_for(grant(order.number), order.number) == []


def test_return_policy_is_public() -> None:
    from store.records import ReturnPolicy

    policy = OrderStore(lambda: None).return_policy()  # type: ignore[arg-type,return-value]
    assert policy == ReturnPolicy()
    assert policy.window_days == 30
    assert policy.final_sale_categories == ("Gift Cards",)
    assert (policy.refund_min_business_days, policy.refund_max_business_days) == (5, 10)
    assert "30 days" in policy.summary and "prepaid" in policy.uk_label
