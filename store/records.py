"""Frozen dataclasses the `OrderStore` returns (never ORM objects); money is `Decimal` pounds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class ReturnPolicy:
    """The shop's return rules (public; `OrderStore.return_policy`).

    Attributes:
        window_days: Days from delivery within which a return may be started.
        condition: Condition items must be in.
        uk_label: What UK customers get (a free prepaid label).
        international_label: What customers outside the UK do (send at their own cost).
        final_sale_categories: Categories that can never be returned.
        final_sale_items: Other items that are final sale.
        refund_min_business_days: Refund time after we receive the parcel, lower bound.
        refund_max_business_days: Refund time after we receive the parcel, upper bound.
        payment_hold_hours: How long an order whose payment failed is held before it is cancelled.
        summary: The whole policy in a few sentences.
    """

    window_days: int = 30
    condition: str = "Items must be unused, in their original packaging, with tags and seals intact."
    uk_label: str = "UK returns are free: we email a prepaid Royal Mail label."
    international_label: str = (
        "Returns from outside the UK are paid by the customer: send the parcel with a tracked service."
    )
    final_sale_categories: tuple[str, ...] = ("Gift Cards",)
    final_sale_items: str = "Clearance items marked 'Final sale' on the product page."
    refund_min_business_days: int = 5
    refund_max_business_days: int = 10
    payment_hold_hours: int = 72
    summary: str = (
        "You can return unused items in their original packaging within 30 days of delivery. "
        "UK returns are free with a prepaid label; international returns are sent at your own cost. "
        "Gift cards and clearance items marked 'Final sale' cannot be returned. "
        "We refund to your original payment method within 5-10 business days of receiving the parcel."
    )


@dataclass(frozen=True)
class VerifiedOrder:
    """Result of a successful `OrderStore.verify` (or a staff grant).

    ``scope`` says what the conversation may now see: ``order`` (a postcode: that order only),
    ``customer`` (an e-mail: also that customer's other orders, linking, news) or ``staff``.
    """

    order_number: str
    customer_id: int
    customer_first_name: str
    scope: str = "order"


@dataclass(frozen=True)
class PausedCheck:
    """An order number or a source whose self-service checks are (or were lately) paused, for staff.

    Attributes:
        scope: ``order`` or ``source``.
        key: The order number, or the source (``web:ip:203.0.113.7``, ``telegram:user:42``...).
        failures: Failed proofs still remembered.
        refused: Attempts refused unchecked while paused, in the same window.
        last_failure: When the latest failed proof was made (UTC).
        paused_until: When checks resume (UTC).
        paused_now: Whether that is still in the future.
    """

    scope: str
    key: str
    failures: int
    refused: int
    last_failure: datetime
    paused_until: datetime
    paused_now: bool


@dataclass(frozen=True)
class Address:
    """A postal address."""

    name: str
    line: str
    city: str
    postcode: str
    country: str

    def one_line(self) -> str:
        """Return the address on one line, e.g. ``"5 Baker Street, London NW1 6XE, GB"``."""
        parts = [p for p in (self.line, f"{self.city} {self.postcode}".strip(), self.country) if p]
        return ", ".join(parts)


@dataclass(frozen=True)
class OrderLineInfo:
    """One line of an order."""

    line_id: int
    sku: str
    title: str
    qty: int
    unit_price: Decimal
    line_total: Decimal
    final_sale: bool
    returned_qty: int


@dataclass(frozen=True)
class OrderSummary:
    """What a verified conversation may see of an order."""

    order_number: str
    status: str
    placed_at: datetime
    customer_first_name: str
    lines: tuple[OrderLineInfo, ...]
    subtotal: Decimal
    shipping_cost: Decimal
    total: Decimal
    currency: str
    payment_method: str
    payment_status: str
    shipping_address: Address
    shipping_method: str
    shipped_at: datetime | None
    delivered_at: datetime | None
    cancelled_at: datetime | None


@dataclass(frozen=True)
class TrackingEvent:
    """A carrier scan."""

    occurred_at: datetime
    status: str
    description: str
    location: str


@dataclass(frozen=True)
class TrackingInfo:
    """Where an order's parcel is. Unshipped orders have ``shipped=False`` and ``expected_ship_date``."""

    order_number: str
    order_status: str
    shipped: bool
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    shipment_status: str | None
    last_event: TrackingEvent | None
    events: tuple[TrackingEvent, ...]
    estimated_delivery: date | None
    delivered_at: datetime | None
    is_delayed: bool
    is_lost: bool
    expected_ship_date: date | None
    message: str


@dataclass(frozen=True)
class ReturnableLine:
    """A line that can still be returned, and how many units."""

    line_id: int
    sku: str
    title: str
    qty: int
    unit_price: Decimal


@dataclass(frozen=True)
class ReturnEligibility:
    """Whether an order can be returned; ``reason_code`` is one of
    ``ok``, ``not_delivered``, ``window_expired``, ``all_final_sale``, ``already_returned``."""

    order_number: str
    eligible: bool
    reason_code: str
    message: str
    returnable_lines: tuple[ReturnableLine, ...]
    days_left: int | None
    window_ends: date | None


@dataclass(frozen=True)
class ReturnLineInfo:
    """One line of a return."""

    line_id: int
    sku: str
    title: str
    qty: int
    amount: Decimal


@dataclass(frozen=True)
class ReturnInfo:
    """A return (RMA)."""

    rma_number: str
    order_number: str
    status: str
    reason: str
    lines: tuple[ReturnLineInfo, ...]
    created_at: datetime
    received_at: datetime | None
    free_label: bool
    label_instructions: str
    label_url: str | None
    refund_estimate: Decimal


@dataclass(frozen=True)
class RefundInfo:
    """A refund; ``expected_by`` is the latest completion date we promise (None once completed)."""

    refund_id: int
    order_number: str
    rma_number: str | None
    amount: Decimal
    currency: str
    method: str
    status: str
    reason: str
    created_at: datetime
    completed_at: datetime | None
    expected_by: date | None


@dataclass(frozen=True)
class PaymentInfo:
    """Payment state of an order and what the customer should do about it."""

    order_number: str
    method: str
    method_name: str
    status: str
    amount: Decimal
    currency: str
    failure_reason: str | None
    action: str
    held_until: datetime | None


@dataclass(frozen=True)
class PaymentMethodInfo:
    """A payment method the shop accepts."""

    code: str
    name: str
    description: str


@dataclass(frozen=True)
class InvoiceLine:
    """One line of an invoice."""

    sku: str
    title: str
    qty: int
    unit_price: Decimal
    line_total: Decimal


@dataclass(frozen=True)
class Invoice:
    """An invoice; prices include VAT, ``vat_amount`` is the VAT contained in ``total``."""

    invoice_number: str
    order_number: str
    issue_date: date
    billing_name: str
    billing_address: Address
    lines: tuple[InvoiceLine, ...]
    subtotal: Decimal
    shipping: Decimal
    vat_rate: Decimal
    vat_amount: Decimal
    total: Decimal
    currency: str


@dataclass(frozen=True)
class CancelResult:
    """Outcome of a cancellation."""

    order_number: str
    status: str
    refund: RefundInfo | None
    message: str


@dataclass(frozen=True)
class AddressChange:
    """Outcome of a shipping-address change."""

    order_number: str
    old_address: Address
    new_address: Address
    message: str


@dataclass(frozen=True)
class ShippingMethodInfo:
    """A delivery option; ``price`` is what the customer pays for the quoted order value."""

    code: str
    name: str
    price: Decimal
    free_over: Decimal | None
    min_days: int
    max_days: int


@dataclass(frozen=True)
class ShippingZoneInfo:
    """A shipping zone; ``countries`` is empty for the rest-of-world zone."""

    code: str
    name: str
    countries: tuple[str, ...]
    is_rest_of_world: bool
    methods: tuple[ShippingMethodInfo, ...]


@dataclass(frozen=True)
class ShippingQuote:
    """Delivery options and prices to one destination."""

    zone: str
    zone_name: str
    country: str
    country_name: str
    order_value: Decimal | None
    methods: tuple[ShippingMethodInfo, ...]


@dataclass(frozen=True)
class ProductInfo:
    """A catalogue item."""

    sku: str
    title: str
    description: str
    brand: str
    category: str
    price: Decimal
    attributes: dict[str, Any] = field(hash=False, compare=True)
    final_sale: bool = False
    image_url: str | None = None
    online_stock: int = 0


@dataclass(frozen=True)
class StoreInfo:
    """A physical store."""

    store_id: str
    name: str
    city: str
    address: str
    postcode: str
    opening_hours: str


@dataclass(frozen=True)
class StoreStockInfo:
    """Units of a product in one store.

    Attributes:
        location: where in the shop it is (``aisle 3 (Haircare), shelf 2``); empty when unknown.
        distance_km: how far this shop is from the one asked about (``stock(near=...)``), else None.
    """

    store_id: str
    store_name: str
    city: str
    quantity: int
    location: str = ""
    distance_km: float | None = None


@dataclass(frozen=True)
class StockInfo:
    """Availability of a product online and in stores."""

    sku: str
    title: str
    online: int
    stores: tuple[StoreStockInfo, ...]


@dataclass(frozen=True)
class HandoffTicket:
    """A request for a person to take over."""

    ticket_number: str
    conversation_id: str
    channel: str
    reason: str
    summary: str
    order_number: str | None
    customer_id: int | None
    status: str
    created_at: datetime
    store_id: str | None = None
    assigned_to: str | None = None
