"""Payment methods, payment status and invoices (`OrderStore.payment_info`, `OrderStore.invoice`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from store import models as m
from store.core import StoreCore, aware, fmt_date, method_name, money
from store.errors import NotAllowed
from store.policy import EU_COUNTRIES, PAYMENT_METHODS, VAT_RATE
from store.records import Address, Invoice, InvoiceLine, PaymentInfo, PaymentMethodInfo


class Payments(StoreCore):
    """How an order was paid and its invoice."""

    def payment_methods(self) -> list[PaymentMethodInfo]:
        """List the accepted payment methods (public).

        Returns:
            Code, name and description of each method.
        """
        return [
            PaymentMethodInfo(code=code, name=name, description=desc) for code, (name, desc) in PAYMENT_METHODS.items()
        ]

    def payment_info(self, conversation_id: str, order_number: str) -> PaymentInfo:
        """Describe an order's payment and what the customer should do.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Returns:
            Method, status, failure reason, advice and (for failed payments) until when the order is held.

        Raises:
            NotAuthorized: No grant.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            return self._payment_info(order)

    def _payment_info(self, order: m.Order) -> PaymentInfo:
        name = method_name(order.payment_method)
        held_until: datetime | None = None
        status = order.payment_status
        paid_with = name.lower() if name == "Card" else name
        failure = order.payment_failure_reason
        if status == "failed":
            held_until = aware(order.placed_at) + timedelta(hours=self.policy.payment_hold_hours)
            if self._now() <= held_until:
                action = (
                    f"Your {paid_with} payment failed ({failure}). Please pay again from the link "
                    f"in your order email, or with another method, before {fmt_date(held_until.date())} "
                    f"{held_until:%H:%M} UTC; until then we hold your order."
                )
            else:
                action = (
                    f"Your {paid_with} payment failed ({failure}) and the hold has expired, "
                    "so the order will be cancelled. Please place a new order."
                )
        elif status == "authorised":
            action = "Your payment is authorised; we take the money when the order ships. Nothing to do."
        elif status == "paid":
            action = "Your payment was received in full. Nothing to do."
        elif status == "refunded":
            action = "This payment has been refunded to your original payment method."
        elif status == "partially_refunded":
            action = "Part of this payment has been refunded to your original payment method."
        else:
            action = "The payment authorisation was released; no money was taken."
        return PaymentInfo(
            order_number=order.number,
            method=order.payment_method,
            method_name=name,
            status=status,
            amount=money(order.total_pence),
            currency=order.currency,
            failure_reason=order.payment_failure_reason,
            action=action,
            held_until=held_until,
        )

    def invoice(self, conversation_id: str, order_number: str) -> Invoice:
        """Produce an order's invoice (prices include VAT; 20% is shown for UK and EU deliveries).

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Returns:
            The invoice.

        Raises:
            NotAuthorized: No grant.
            NotAllowed: ``not_paid`` when the payment failed or was voided.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            if order.payment_status in {"failed", "voided"}:
                raise NotAllowed("not_paid", f"Order {order.number} was never paid, so it has no invoice.")
            rate = VAT_RATE if order.ship_country == "GB" or order.ship_country in EU_COUNTRIES else Decimal(0)
            vat_pence = int((Decimal(order.total_pence) * rate / (1 + rate)).to_integral_value(rounding=ROUND_HALF_UP))
            customer = order.customer
            return Invoice(
                invoice_number=f"INV-{order.number.split('-')[1]}",
                order_number=order.number,
                issue_date=order.placed_at.date(),
                billing_name=customer.name,
                billing_address=Address(
                    name=customer.name,
                    line=customer.address,
                    city=customer.city,
                    postcode=customer.postcode,
                    country=customer.country,
                ),
                lines=tuple(
                    InvoiceLine(
                        sku=line.sku,
                        title=line.title,
                        qty=line.qty,
                        unit_price=money(line.unit_price_pence),
                        line_total=money(line.unit_price_pence * line.qty),
                    )
                    for line in order.lines
                ),
                subtotal=money(order.subtotal_pence),
                shipping=money(order.shipping_pence),
                vat_rate=rate,
                vat_amount=money(vat_pence),
                total=money(order.total_pence),
                currency=order.currency,
            )
