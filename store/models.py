"""SQLAlchemy 2 ORM models of the order store, used by the store's area modules, `store.seed` and the migrations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: Order statuses (exact strings).
ORDER_STATUSES: tuple[str, ...] = (
    "placed",
    "paid",
    "payment_failed",
    "shipped",
    "in_transit",
    "delayed",
    "delivered",
    "cancelled",
    "return_requested",
    "returned",
    "refunded",
)
#: Shipment statuses (exact strings).
SHIPMENT_STATUSES: tuple[str, ...] = (
    "label_created",
    "in_transit",
    "out_for_delivery",
    "delayed",
    "lost",
    "delivered",
    "returned",
)
#: Return statuses.
RETURN_STATUSES: tuple[str, ...] = ("requested", "approved", "received", "refunded", "rejected")
#: Refund statuses.
REFUND_STATUSES: tuple[str, ...] = ("pending", "processing", "completed")
#: Payment statuses.
PAYMENT_STATUSES: tuple[str, ...] = ("authorised", "paid", "failed", "refunded", "partially_refunded", "voided")
#: Handoff ticket statuses.
HANDOFF_STATUSES: tuple[str, ...] = ("open", "assigned", "closed")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)  # constant strings defined above, not user input
    return f"{column} IN ({quoted})"


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints the same everywhere."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Product(Base):
    """A catalogue item; prices in pence."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    brand: Mapped[str] = mapped_column(String(100), index=True)
    category: Mapped[str] = mapped_column(String(100), index=True)
    price_pence: Mapped[int] = mapped_column(Integer)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    final_sale: Mapped[bool] = mapped_column(Boolean, default=False)
    image_url: Mapped[str | None] = mapped_column(String(300), nullable=True)
    online_stock: Mapped[int] = mapped_column(Integer, default=0)


class PhysicalStore(Base):
    """A bricks-and-mortar shop (in-store tablets belong to one)."""

    __tablename__ = "stores"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    city: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(200))
    postcode: Mapped[str] = mapped_column(String(16))
    opening_hours: Mapped[str] = mapped_column(String(120), default="")
    # Where the shop is, for "the nearest other shop that has it" (revision 0003).
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)


class StoreStock(Base):
    """Units of a product on the shelf of one physical store, and where in the shop they are."""

    __tablename__ = "store_stock"

    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    # e.g. "aisle 3 (Haircare), shelf 2"; empty when the shop has not said (revision 0003).
    location: Mapped[str] = mapped_column(String(80), default="", server_default="")


class Customer(Base):
    """A shop customer with their default address."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(200), unique=True)
    address: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(80))
    postcode: Mapped[str] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(DateTime)

    orders: Mapped[list[Order]] = relationship(back_populates="customer")


class Order(Base):
    """An order; money in pence, timestamps naive UTC."""

    __tablename__ = "orders"
    __table_args__ = (CheckConstraint(_in("status", ORDER_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    placed_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(32), index=True)
    subtotal_pence: Mapped[int] = mapped_column(Integer)
    shipping_pence: Mapped[int] = mapped_column(Integer)
    total_pence: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    payment_method: Mapped[str] = mapped_column(String(32))
    payment_status: Mapped[str] = mapped_column(String(32))
    payment_failure_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ship_name: Mapped[str] = mapped_column(String(120))
    ship_address: Mapped[str] = mapped_column(String(200))
    ship_city: Mapped[str] = mapped_column(String(80))
    ship_postcode: Mapped[str] = mapped_column(String(16))
    ship_country: Mapped[str] = mapped_column(String(2))
    shipping_method: Mapped[str] = mapped_column(String(32))
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    customer: Mapped[Customer] = relationship(back_populates="orders")
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    shipment: Mapped[Shipment | None] = relationship(back_populates="order", uselist=False)
    returns: Mapped[list[Return]] = relationship(back_populates="order", order_by="Return.id")
    refunds: Mapped[list[Refund]] = relationship(back_populates="order", order_by="Refund.id")


class OrderLine(Base):
    """One product line of an order (title and price copied at purchase time)."""

    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    sku: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    qty: Mapped[int] = mapped_column(Integer)
    unit_price_pence: Mapped[int] = mapped_column(Integer)
    final_sale: Mapped[bool] = mapped_column(Boolean, default=False)

    order: Mapped[Order] = relationship(back_populates="lines")


class Shipment(Base):
    """The parcel of an order with its carrier tracking."""

    __tablename__ = "shipments"
    __table_args__ = (CheckConstraint(_in("status", SHIPMENT_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    carrier: Mapped[str] = mapped_column(String(40))
    tracking_number: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(32))
    shipped_at: Mapped[datetime] = mapped_column(DateTime)
    estimated_delivery: Mapped[date | None] = mapped_column(Date, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    order: Mapped[Order] = relationship(back_populates="shipment")
    events: Mapped[list[ShipmentEvent]] = relationship(
        back_populates="shipment",
        order_by="(ShipmentEvent.occurred_at, ShipmentEvent.id)",
        cascade="all, delete-orphan",
    )


class ShipmentEvent(Base):
    """A carrier scan."""

    __tablename__ = "shipment_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(200))
    location: Mapped[str] = mapped_column(String(120), default="")

    shipment: Mapped[Shipment] = relationship(back_populates="events")


class Return(Base):
    """A return authorisation (RMA) for some lines of an order."""

    __tablename__ = "returns"
    __table_args__ = (CheckConstraint(_in("status", RETURN_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rma_number: Mapped[str] = mapped_column(String(16), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    label_instructions: Mapped[str] = mapped_column(Text)
    label_url: Mapped[str | None] = mapped_column(String(300), nullable=True)
    refund_estimate_pence: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    order: Mapped[Order] = relationship(back_populates="returns")
    lines: Mapped[list[ReturnLine]] = relationship(
        back_populates="ret", order_by="ReturnLine.id", cascade="all, delete-orphan"
    )


class ReturnLine(Base):
    """Quantity of one order line in a return."""

    __tablename__ = "return_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"), index=True)
    qty: Mapped[int] = mapped_column(Integer)

    ret: Mapped[Return] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine] = relationship()


class Refund(Base):
    """Money going back to the customer, for a cancellation, a return or a lost parcel."""

    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint(_in("status", REFUND_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    return_id: Mapped[int | None] = mapped_column(ForeignKey("returns.id", ondelete="SET NULL"), nullable=True)
    amount_pence: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    order: Mapped[Order] = relationship(back_populates="refunds")
    ret: Mapped[Return | None] = relationship()


class ShippingZone(Base):
    """A shipping zone; the fallback zone covers every country not listed elsewhere."""

    __tablename__ = "shipping_zones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    is_fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    countries: Mapped[list[ShippingZoneCountry]] = relationship(
        order_by="ShippingZoneCountry.country", cascade="all, delete-orphan"
    )
    methods: Mapped[list[ShippingMethod]] = relationship(
        order_by="ShippingMethod.sort_order", cascade="all, delete-orphan"
    )


class ShippingZoneCountry(Base):
    """A country (ISO alpha-2) belonging to a zone."""

    __tablename__ = "shipping_zone_countries"

    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("shipping_zones.id", ondelete="CASCADE"), index=True)


class ShippingMethod(Base):
    """A delivery option of a zone; free when the order value reaches ``free_over_pence``."""

    __tablename__ = "shipping_methods"
    __table_args__ = (UniqueConstraint("zone_id", "code", name="uq_shipping_methods_zone_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("shipping_zones.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(80))
    price_pence: Mapped[int] = mapped_column(Integer)
    free_over_pence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    min_days: Mapped[int] = mapped_column(Integer)
    max_days: Mapped[int] = mapped_column(Integer)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class ChannelIdentity(Base):
    """A channel account (Telegram user, Slack user, ...) linked to a customer."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_channel_identities_channel_external"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


#: Outcomes of a proof attempt (``store.proofs``): pending until checked, then matched or failed;
#: ``paused`` when it was refused unchecked because the order number or the source is paused.
ATTEMPT_OUTCOMES: tuple[str, ...] = ("pending", "matched", "failed", "paused")
#: What a grant lets a conversation see: ``order`` that order only (a postcode, or an order of a customer
#: already proved), ``customer`` the order and its customer (an e-mail: their other orders, linking,
#: news), ``staff`` a staff lookup.
GRANT_SCOPES: tuple[str, ...] = ("order", "customer", "staff")


class VerificationAttempt(Base):
    """One proof attempt: counted per conversation (lock-out), per order number, per source and per proof (pauses)."""

    __tablename__ = "verification_attempts"
    __table_args__ = (CheckConstraint(_in("outcome", ATTEMPT_OUTCOMES), name="outcome"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    order_number: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    success: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    #: Where the proof came from, as the gateway vouched for it (``web:ip:203.0.113.7``, ``telegram:user:42``).
    source: Mapped[str | None] = mapped_column(String(160), nullable=True, index=True)
    outcome: Mapped[str] = mapped_column(String(16), default="failed", server_default="failed")
    #: ``email`` or ``postcode`` (None when the message held several values or none was checked).
    proof_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: Keyed hash of the proof value (``store.proofs.ProofHasher``): one e-mail tried on many orders counts
    #: as one proof's failures. None when no single value was checked.
    proof_key: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class AccessGrant(Base):
    """Proof that a conversation verified ownership of an order (``scope`` says how far it reaches)."""

    __tablename__ = "access_grants"
    __table_args__ = (
        UniqueConstraint("conversation_id", "order_id", name="uq_access_grants_conversation_order"),
        CheckConstraint(_in("scope", GRANT_SCOPES), name="scope"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    granted_at: Mapped[datetime] = mapped_column(DateTime)
    scope: Mapped[str] = mapped_column(String(16), default="order", server_default="order")
    #: When the conversation last used one of its grants; idle past ``ProofLimits.grant_idle``, it has none.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class StaffOrderLookup(Base):
    """A staff member opened an order without customer proof (``OrderStore.grant_staff_access``): who, when."""

    __tablename__ = "staff_order_lookups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[str] = mapped_column(String(64), index=True)
    staff_role: Mapped[str] = mapped_column(String(32))
    looked_at: Mapped[datetime] = mapped_column(DateTime)


class HandoffTicket(Base):
    """A request for a person to take over a conversation."""

    __tablename__ = "handoff_tickets"
    __table_args__ = (CheckConstraint(_in("status", HANDOFF_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_number: Mapped[str | None] = mapped_column(String(16), unique=True, nullable=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str] = mapped_column(Text)
    order_number: Mapped[str | None] = mapped_column(String(16), nullable=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # set by the gateway's hand-off desk (Slack Claim / Resolve) or the support console
    assigned_to: Mapped[str | None] = mapped_column(String(64), nullable=True)
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # the physical store of an in-store tablet's staff call (the console shows the shop's name)
    store_id: Mapped[str | None] = mapped_column(String(16), nullable=True)


# ------------------------------------------------------------------------- customer photos and ratings
#: Image types a customer may send (checked from the bytes, never from a file name).
PHOTO_TYPES: tuple[str, ...] = ("image/jpeg", "image/png", "image/webp")
#: What a rating is about: the assistant's conversation, or a hand-off ticket after a person resolved it.
RATING_OUTCOMES: tuple[str, ...] = ("assistant", "handoff")


class CustomerPhoto(Base):
    """A photo a customer sent (a damaged item, a wrong shade), kept with their return or hand-off ticket.

    The bytes are the gateway's re-encoded copy (metadata such as EXIF GPS stripped). Who may see one is
    decided by the caller: the conversation that sent it, and signed-in staff.
    """

    __tablename__ = "customer_photos"
    __table_args__ = (CheckConstraint(_in("content_type", PHOTO_TYPES), name="content_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    handoff_ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("handoff_tickets.id", ondelete="SET NULL"), nullable=True, index=True
    )
    return_id: Mapped[int | None] = mapped_column(ForeignKey("returns.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ConversationRating(Base):
    """A customer's 1-5 rating (and optional comment) of a conversation or of a resolved hand-off, given once."""

    __tablename__ = "conversation_ratings"
    __table_args__ = (
        UniqueConstraint("conversation_id", "subject", name="uq_conversation_ratings_conversation_subject"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score"),
        CheckConstraint(_in("outcome", RATING_OUTCOMES), name="outcome"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(32), index=True)
    # "conversation", or the hand-off ticket number (HO-000123) the rating is about
    subject: Mapped[str] = mapped_column(String(24))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)


# ------------------------------------------------------------- one customer across channels, shipment news
#: Kinds of news a customer can opt in to (``python -m store shipment-event ORD-... <kind>``).
NOTIFICATION_KINDS: tuple[str, ...] = ("delayed", "out_for_delivery", "delivered", "refund_issued")
#: Outbox statuses: waiting to go out, handed to the channels, or not sent (and why).
OUTBOX_STATUSES: tuple[str, ...] = ("pending", "released", "skipped_opted_out", "skipped_no_channel")
#: Per-channel delivery statuses of one outbox entry.
DELIVERY_STATUSES: tuple[str, ...] = ("pending", "sent", "failed")


class NotificationPreference(Base):
    """Whether a customer wants shipment and refund news on their linked channels (absent means no)."""

    __tablename__ = "notification_preferences"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    opted_in: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(DateTime)


class ReturnDraft(Base):
    """A return form left unfinished, per customer, so it can be finished on any linked channel."""

    __tablename__ = "return_drafts"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    items: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    channel: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class NotificationOutbox(Base):
    """One piece of news for one customer; ``event_key`` (order + event) makes it happen once."""

    __tablename__ = "notification_outbox"
    __table_args__ = (CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(120), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    order_number: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(24), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    not_before: Mapped[datetime] = mapped_column(DateTime)
    released_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class NotificationDelivery(Base):
    """Sending one outbox entry to one linked conversation, with its retries and outcome."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("outbox_id", "conversation_id", name="uq_notification_deliveries_outbox_conversation"),
        CheckConstraint(_in("status", DELIVERY_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("notification_outbox.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(String(300), default="")
