"""Ready-to-try demo cases picked from the database (`OrderStore.demo_cases`, used by the blind tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from store import models as m
from store.core import first_name, fmt_date, method_name
from store.orders import Orders
from store.payments import Payments
from store.returns import Returns


class DemoCases(Orders, Returns, Payments):
    """One order per interesting situation, with what the bot should say about it."""

    def demo_cases(self, limit: int = 12) -> list[dict[str, Any]]:
        """Pick ready-to-try orders from the database, one per interesting situation.

        Args:
            limit: Maximum cases.

        Returns:
            Dicts with ``case``, ``order_number``, ``order_digits`` (``100234``), ``email``, ``postcode``,
            ``first_name`` (as the bot greets them), ``status``, ``carrier`` and ``tracking_number`` (None
            before shipping), ``rma_number`` (or None) and ``expect`` (one sentence of what the bot should
            say). Blind conversation tests (``tests/conversations/``) resolve their placeholders from these.
        """
        cases: list[dict[str, Any]] = []
        with self._session() as session:
            orders = (
                session.execute(
                    select(m.Order)
                    .options(
                        selectinload(m.Order.customer),
                        selectinload(m.Order.lines),
                        selectinload(m.Order.shipment).selectinload(m.Shipment.events),
                        selectinload(m.Order.returns).selectinload(m.Return.lines),
                        selectinload(m.Order.refunds),
                    )
                    .order_by(m.Order.ship_country != "GB", m.Order.number)
                )
                .scalars()
                .all()
            )
            # Prefer customers with no other order: the cases are printed in the README for anyone to try,
            # so their e-mails and postcodes should open the printed orders and as little else as possible.
            per_customer: dict[int, int] = {}
            for order in orders:
                per_customer[order.customer_id] = per_customer.get(order.customer_id, 0) + 1

            def has_others(order: m.Order) -> bool:
                return per_customer[order.customer_id] > 1

            orders = sorted(orders, key=lambda o: (has_others(o), o.ship_country != "GB", o.number))

            def first(predicate: Callable[[m.Order], bool]) -> m.Order | None:
                return next((o for o in orders if predicate(o)), None)

            def shipment_status(order: m.Order) -> str | None:
                return order.shipment.status if order.shipment is not None else None

            def add(case: str, order: m.Order | None, expect: Callable[[m.Order], str], rma: str | None = None) -> None:
                if order is None:
                    return
                shipment = order.shipment
                cases.append(
                    {
                        "case": case,
                        "order_number": order.number,
                        "order_digits": order.number.removeprefix("ORD-"),
                        "email": order.customer.email,
                        "postcode": order.ship_postcode,
                        "first_name": first_name(order.customer.name),
                        "status": order.status,
                        "carrier": shipment.carrier if shipment is not None else None,
                        "tracking_number": shipment.tracking_number if shipment is not None else None,
                        "rma_number": rma,
                        "expect": expect(order),
                    }
                )

            add(
                "in_transit",
                first(lambda o: o.status == "in_transit" and shipment_status(o) == "in_transit"),
                lambda o: self._tracking_info(o).message,
            )
            add(
                "delayed",
                first(lambda o: o.status == "delayed" and shipment_status(o) == "delayed"),
                lambda o: self._tracking_info(o).message + " The bot should apologise.",
            )
            add(
                "lost_parcel",
                first(lambda o: o.status == "delayed" and shipment_status(o) == "lost"),
                lambda o: self._tracking_info(o).message + " The bot should offer a hand-off to a person.",
            )
            returnable = sorted(
                (
                    o
                    for o in orders
                    if o.status == "delivered"
                    and o.ship_country == "GB"
                    and self._eligibility(o).eligible
                    and not any(li.final_sale for li in o.lines)
                    and not o.returns
                ),
                key=lambda o: (
                    (self._eligibility(o).days_left or 0) < 14,
                    has_others(o),
                    -(self._eligibility(o).days_left or 0),
                    o.number,
                ),
            )
            add(
                "returnable",
                returnable[0] if returnable else None,
                lambda o: self._eligibility(o).message + " The bot should offer to start a return.",
            )
            add(
                "window_expired",
                first(lambda o: o.status == "delivered" and self._eligibility(o).reason_code == "window_expired"),
                lambda o: self._eligibility(o).message,
            )
            add(
                "final_sale",
                first(lambda o: o.status == "delivered" and self._eligibility(o).reason_code == "all_final_sale"),
                lambda o: self._eligibility(o).message,
            )
            add(
                "placed",
                first(lambda o: o.status == "placed"),
                lambda o: (
                    f"Order {o.number} has not shipped yet, so it can still be cancelled or its delivery "
                    "address changed."
                ),
            )
            add("payment_failed", first(lambda o: o.status == "payment_failed"), lambda o: self._payment_info(o).action)
            refunded = first(lambda o: o.status == "refunded" and any(r.status == "completed" for r in o.refunds))
            add(
                "refunded",
                refunded,
                self._refund_sentence,
                rma=refunded.returns[0].rma_number if refunded is not None and refunded.returns else None,
            )
            requested = first(lambda o: o.status == "return_requested" and bool(o.returns))
            add(
                "return_requested",
                requested,
                lambda o: (
                    f"Return {o.returns[-1].rma_number} for {o.number} is {o.returns[-1].status}; "
                    "we refund once the parcel reaches us."
                ),
                rma=requested.returns[-1].rma_number if requested is not None else None,
            )
            returned = first(lambda o: o.status == "returned" and bool(o.returns) and bool(o.refunds))
            add(
                "returned_refund_processing",
                returned,
                self._refund_sentence,
                rma=returned.returns[-1].rma_number if returned is not None else None,
            )
            add(
                "shipped",
                first(lambda o: o.status == "shipped"),
                lambda o: self._tracking_info(o).message + " It can no longer be cancelled.",
            )
        return cases[: max(0, limit)]

    def _refund_sentence(self, order: m.Order) -> str:
        refund = self._refund_info(order.refunds[-1])
        if refund.status == "completed" and refund.completed_at is not None:
            return (
                f"A refund of £{refund.amount} for {order.number} was completed on "
                f"{fmt_date(refund.completed_at.date())} to the original {method_name(refund.method)} payment."
            )
        expected = fmt_date(refund.expected_by) if refund.expected_by else "soon"
        return f"A refund of £{refund.amount} for {order.number} is {refund.status}; expect it by {expected}."
