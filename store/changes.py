"""Changing an order: cancelling it or its delivery address (`OrderStore.cancel_order`, ...)."""

from __future__ import annotations

from store import models as m
from store.core import StoreCore, fmt_date, method_name, naive
from store.errors import InvalidInput, NotAllowed
from store.normalize import COUNTRY_NAMES, parse_address
from store.policy import CHANGEABLE_STATUSES
from store.records import AddressChange, CancelResult, RefundInfo


class OrderChanges(StoreCore):
    """Cancellations and address changes of orders not yet shipped."""

    @staticmethod
    def _refuse_change(order: m.Order, what: str) -> None:
        if order.status == "cancelled":
            raise NotAllowed("cancelled", f"Order {order.number} is already cancelled.")
        if order.status not in CHANGEABLE_STATUSES:
            if order.delivered_at is not None:
                detail = "has already been delivered; you can start a return instead"
            else:
                detail = "has already shipped; once it arrives you can return it"
            raise NotAllowed("already_shipped", f"Order {order.number} {detail}, so {what}.")

    def check_cancellable(self, conversation_id: str, order_number: str) -> None:
        """Raise what `cancel_order` would refuse with, without changing anything.

        Lets the bot ask "shall I cancel it?" only when the answer can be yes.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Raises:
            NotAuthorized: No grant.
            NotAllowed: As `cancel_order`.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            if order.status == "cancelled":
                raise NotAllowed("already_cancelled", f"Order {order.number} is already cancelled.")
            self._refuse_change(order, "it can no longer be cancelled")

    def check_address_changeable(self, conversation_id: str, order_number: str) -> None:
        """Raise what `change_shipping_address` would refuse with (before the address is known).

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Raises:
            NotAuthorized: No grant.
            NotAllowed: ``cancelled`` or ``already_shipped``.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            self._refuse_change(order, "the delivery address can no longer be changed")

    def cancel_order(self, conversation_id: str, order_number: str) -> CancelResult:
        """Cancel an order that has not shipped (placed, paid or payment failed).

        A paid order gets a full refund to the original payment method; an authorised or failed
        payment is voided.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Returns:
            The new status (``cancelled``), the refund if one was created, and a message.

        Raises:
            NotAuthorized: No grant.
            NotAllowed: ``cancelled`` (already) or ``already_shipped`` (shipped or later).
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            if order.status == "cancelled":
                raise NotAllowed("already_cancelled", f"Order {order.number} is already cancelled.")
            self._refuse_change(order, "it can no longer be cancelled")
            now = naive(self._now())
            order.status = "cancelled"
            order.cancelled_at = now
            refund_info: RefundInfo | None = None
            if order.payment_status == "paid":
                refund = m.Refund(
                    order_id=order.id,
                    amount_pence=order.total_pence,
                    method=order.payment_method,
                    status="processing",
                    reason="order cancelled",
                    created_at=now,
                )
                session.add(refund)
                order.payment_status = "refunded"
                session.flush()
                session.refresh(refund)
                refund_info = self._refund_info(refund)
                message = (
                    f"Order {order.number} is cancelled. We are refunding £{refund_info.amount} to your "
                    f"{method_name(order.payment_method)}; expect it by "
                    f"{fmt_date(refund_info.expected_by or refund_info.created_at.date())}."
                )
            else:
                order.payment_status = "voided"
                message = f"Order {order.number} is cancelled. No money was taken."
            return CancelResult(order_number=order.number, status=order.status, refund=refund_info, message=message)

    def change_shipping_address(self, conversation_id: str, order_number: str, address_text: str) -> AddressChange:
        """Change where an order that has not shipped yet will be delivered.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.
            address_text: The new address as typed, e.g. ``"5 Baker Street, London NW1 6XE"``; it must
                contain a postcode; the country defaults to the order's.

        Returns:
            Old and new address and a message.

        Raises:
            NotAuthorized: No grant.
            NotAllowed: ``cancelled``, ``already_shipped`` or ``different_country``.
            InvalidInput: No postcode could be found in ``address_text``.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            self._refuse_change(order, "the delivery address can no longer be changed")
            parsed = parse_address(address_text, default_country=order.ship_country)
            if parsed is None:
                raise InvalidInput("Please give the full new address including the postcode.")
            if parsed.country != order.ship_country:
                country_name = COUNTRY_NAMES.get(order.ship_country, order.ship_country)
                raise NotAllowed(
                    "different_country",
                    f"The address can only be changed within {country_name}; to ship elsewhere, cancel and "
                    "place a new order.",
                )
            old = self._address(order)
            order.ship_address = parsed.line or order.ship_address
            order.ship_city = parsed.city or order.ship_city  # the postcode is authoritative
            order.ship_postcode = parsed.postcode
            new = self._address(order)
            return AddressChange(
                order_number=order.number,
                old_address=old,
                new_address=new,
                message=f"Order {order.number} will now be delivered to {new.one_line()}.",
            )
