"""Returns and refunds: policy, eligibility, RMAs and refund status (`OrderStore.create_return`, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import models as m
from store.core import StoreCore, fmt_date, money, naive, return_info
from store.errors import NotAllowed, ReturnNotFound
from store.normalize import normalize_rma
from store.policy import RETURNS_ADDRESS
from store.records import RefundInfo, ReturnableLine, ReturnEligibility, ReturnInfo, ReturnPolicy


class Returns(StoreCore):
    """Return eligibility, return requests and refunds of verified orders."""

    def return_policy(self) -> ReturnPolicy:
        """Return the shop's return policy (public).

        Returns:
            The policy in force.
        """
        return self.policy

    def return_eligibility(self, conversation_id: str, order_number: str) -> ReturnEligibility:
        """Say whether (and until when, and which lines) an order can be returned.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Returns:
            Eligibility with ``reason_code`` among ``ok``, ``not_delivered``, ``window_expired``,
            ``all_final_sale``, ``already_returned``.

        Raises:
            NotAuthorized: No grant.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            return self._eligibility(order)

    def _eligibility(self, order: m.Order) -> ReturnEligibility:
        today = self._today()
        number = order.number

        def result(
            code: str,
            message: str,
            lines: tuple[ReturnableLine, ...] = (),
            days: int | None = None,
            ends: date | None = None,
        ) -> ReturnEligibility:
            return ReturnEligibility(
                order_number=number,
                eligible=code == "ok",
                reason_code=code,
                message=message,
                returnable_lines=lines,
                days_left=days,
                window_ends=ends,
            )

        if order.delivered_at is None:
            if order.status == "cancelled":
                message = f"Order {number} was cancelled, so there is nothing to return."
            elif order.status in {"placed", "paid", "payment_failed"}:
                message = f"Order {number} has not shipped yet; you could cancel it instead."
            elif order.status == "refunded":
                message = f"Order {number} was refunded without being delivered, so there is nothing to return."
            else:
                message = (
                    f"Order {number} has not been delivered yet; you can return it within "
                    f"{self.policy.window_days} days once it arrives."
                )
            return result("not_delivered", message)
        window_ends = order.delivered_at.date() + timedelta(days=self.policy.window_days)
        days_left = (window_ends - today).days
        if days_left < 0:
            return result(
                "window_expired",
                f"The {self.policy.window_days}-day return window for {number} closed on {fmt_date(window_ends)}.",
                days=0,
                ends=window_ends,
            )
        returned = self._returned_qty(order)
        lines = tuple(
            ReturnableLine(
                line_id=line.id,
                sku=line.sku,
                title=line.title,
                qty=line.qty - returned.get(line.id, 0),
                unit_price=money(line.unit_price_pence),
            )
            for line in order.lines
            if not line.final_sale and line.qty - returned.get(line.id, 0) > 0
        )
        if not lines:
            if all(line.final_sale for line in order.lines):
                return result(
                    "all_final_sale",
                    f"Everything in {number} is final sale (gift cards or clearance), so it cannot be returned.",
                    days=days_left,
                    ends=window_ends,
                )
            return result(
                "already_returned",
                f"All returnable items of {number} have already been returned.",
                days=days_left,
                ends=window_ends,
            )
        return result(
            "ok",
            f"Order {number} can be returned until {fmt_date(window_ends)} ({days_left} days left).",
            lines,
            days_left,
            window_ends,
        )

    @staticmethod
    def _next_rma(session: Session) -> str:
        current = session.execute(select(func.max(m.Return.rma_number))).scalar_one_or_none()
        number = int(current.split("-")[1]) + 1 if current else 500001
        return f"RMA-{number}"

    def create_return(
        self,
        conversation_id: str,
        order_number: str,
        items: Sequence[int | str] | None = None,
        reason: str = "not specified",
    ) -> ReturnInfo:
        """Start a return (RMA) for some or all returnable lines of an order; it is approved at once.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.
            items: Order line ids (int) or SKUs (str) to return, each with its whole remaining quantity;
                None returns every returnable line.
            reason: Why the customer returns it.

        Returns:
            The new return with its RMA number, label instructions (free prepaid label for UK addresses,
            paid by the customer elsewhere) and refund estimate. The order becomes ``return_requested``.

        Raises:
            NotAuthorized: No grant.
            NotAllowed: ``not_delivered``, ``window_expired``, ``all_final_sale``, ``already_returned``,
                ``final_sale`` (a chosen line), ``unknown_item`` or ``no_items``.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            eligibility = self._eligibility(order)
            if eligibility.reason_code in {"not_delivered", "window_expired"}:
                raise NotAllowed(eligibility.reason_code, eligibility.message)
            returned = self._returned_qty(order)
            chosen: dict[int, tuple[m.OrderLine, int]] = {}
            if items is None:
                if not eligibility.eligible:
                    raise NotAllowed(eligibility.reason_code, eligibility.message)
                for line in order.lines:
                    remaining = line.qty - returned.get(line.id, 0)
                    if not line.final_sale and remaining > 0:
                        chosen[line.id] = (line, remaining)
            else:
                if not items:
                    raise NotAllowed("no_items", "Please say which items you want to return.")
                for item in items:
                    picked = self._match_line(order, item)
                    if picked is None:
                        raise NotAllowed("unknown_item", f"{item} is not part of order {order.number}.")
                    if picked.final_sale:
                        raise NotAllowed("final_sale", f"{picked.title} is final sale and cannot be returned.")
                    remaining = picked.qty - returned.get(picked.id, 0)
                    if remaining <= 0:
                        raise NotAllowed("already_returned", f"{picked.title} has already been returned.")
                    chosen[picked.id] = (picked, remaining)
            rma = self._next_rma(session)
            free_label = order.ship_country == "GB"
            if free_label:
                label_url: str | None = f"https://shop.example/returns/labels/{rma}.pdf"
                instructions = (
                    f"Print the free prepaid Royal Mail label ({label_url}, also emailed to you), write {rma} on "
                    "the packing slip and drop the parcel at any Post Office within 14 days."
                )
            else:
                label_url = None
                instructions = (
                    f"Send the items at your own cost with a tracked service to {RETURNS_ADDRESS}, with {rma} "
                    "written on the parcel, and keep the proof of postage."
                )
            estimate = sum(line.unit_price_pence * qty for line, qty in chosen.values())
            ret = m.Return(
                rma_number=rma,
                order_id=order.id,
                reason=(reason or "not specified")[:200],
                status="approved",
                label_instructions=instructions,
                label_url=label_url,
                refund_estimate_pence=estimate,
                created_at=naive(self._now()),
            )
            ret.lines = [m.ReturnLine(order_line_id=line.id, qty=qty) for line, qty in chosen.values()]
            session.add(ret)
            order.status = "return_requested"
            session.flush()
            session.refresh(ret)
            return return_info(ret)

    @staticmethod
    def _match_line(order: m.Order, item: int | str) -> m.OrderLine | None:
        for line in order.lines:
            if isinstance(item, int) and line.id == item:
                return line
            if isinstance(item, str):
                text = item.strip()
                if text.upper() == line.sku.upper() or (text.isdigit() and int(text) == line.id):
                    return line
        return None

    def returns_for(self, conversation_id: str, order_number: str) -> list[ReturnInfo]:
        """List an order's returns, oldest first.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Returns:
            The returns (possibly empty).

        Raises:
            NotAuthorized: No grant.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            return [return_info(ret) for ret in order.returns]

    def return_by_rma(self, conversation_id: str, rma: str) -> ReturnInfo:
        """Look a return up by RMA number; the RMA's order must be granted to the conversation.

        Args:
            conversation_id: The conversation.
            rma: RMA number in any form `normalize_rma` accepts.

        Returns:
            The return.

        Raises:
            ReturnNotFound: No such RMA.
            NotAuthorized: The RMA's order is not granted to this conversation.
        """
        number = normalize_rma(rma)
        with self._session() as session:
            ret = (
                session.execute(select(m.Return).where(m.Return.rma_number == number)).scalar_one_or_none()
                if number
                else None
            )
            if ret is None:
                raise ReturnNotFound(rma)
            self._granted_order(session, conversation_id, ret.order.number)
            return return_info(ret)

    def refunds_for(self, conversation_id: str, order_number: str) -> list[RefundInfo]:
        """List an order's refunds, oldest first.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Returns:
            Refunds with amount, method, status, dates and (unless completed) the expected completion date.

        Raises:
            NotAuthorized: No grant.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            return [self._refund_info(refund) for refund in order.refunds]
