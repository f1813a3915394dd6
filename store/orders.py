"""Order summaries and tracking (`OrderStore.order_summary`, `OrderStore.tracking`)."""

from __future__ import annotations

from datetime import date

from store import models as m
from store.core import StoreCore, add_business_days, aware, first_name, fmt_date, money, opt_aware
from store.policy import TRACKING_URLS
from store.records import OrderLineInfo, OrderSummary, TrackingEvent, TrackingInfo


class Orders(StoreCore):
    """What an order holds and where its parcel is."""

    def order_summary(self, conversation_id: str, order_number: str) -> OrderSummary:
        """Describe an order: status, lines, totals, payment and delivery.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Returns:
            The summary.

        Raises:
            NotAuthorized: No grant.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            returned = self._returned_qty(order)
            lines = tuple(
                OrderLineInfo(
                    line_id=line.id,
                    sku=line.sku,
                    title=line.title,
                    qty=line.qty,
                    unit_price=money(line.unit_price_pence),
                    line_total=money(line.unit_price_pence * line.qty),
                    final_sale=line.final_sale,
                    returned_qty=returned.get(line.id, 0),
                )
                for line in order.lines
            )
            return OrderSummary(
                order_number=order.number,
                status=order.status,
                placed_at=aware(order.placed_at),
                customer_first_name=first_name(order.customer.name),
                lines=lines,
                subtotal=money(order.subtotal_pence),
                shipping_cost=money(order.shipping_pence),
                total=money(order.total_pence),
                currency=order.currency,
                payment_method=order.payment_method,
                payment_status=order.payment_status,
                shipping_address=self._address(order),
                shipping_method=order.shipping_method,
                shipped_at=opt_aware(order.shipped_at),
                delivered_at=opt_aware(order.delivered_at),
                cancelled_at=opt_aware(order.cancelled_at),
            )

    def tracking(self, conversation_id: str, order_number: str) -> TrackingInfo:
        """Say where an order's parcel is.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Returns:
            Carrier, tracking number, events, estimated delivery and delayed/lost flags; for orders not
            yet shipped, ``shipped`` is False and ``expected_ship_date`` says when they should ship.

        Raises:
            NotAuthorized: No grant.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            return self._tracking_info(order)

    def _expected_ship_date(self, order: m.Order) -> date | None:
        if order.status not in {"placed", "paid"}:
            return None
        return max(add_business_days(order.placed_at.date(), 1), self._today())

    def _tracking_info(self, order: m.Order) -> TrackingInfo:
        shipment = order.shipment
        today = self._today()
        if shipment is None:
            ship_date = self._expected_ship_date(order)
            if order.status == "cancelled":
                message = f"Order {order.number} was cancelled, so it will not be shipped."
            elif order.status == "payment_failed":
                message = f"Order {order.number} will ship once its payment goes through."
            elif ship_date is not None:
                message = f"Order {order.number} has not shipped yet; it should ship by {fmt_date(ship_date)}."
            else:
                message = f"Order {order.number} has no shipment."
            return TrackingInfo(
                order_number=order.number,
                order_status=order.status,
                shipped=False,
                carrier=None,
                tracking_number=None,
                tracking_url=None,
                shipment_status=None,
                last_event=None,
                events=(),
                estimated_delivery=None,
                delivered_at=None,
                is_delayed=False,
                is_lost=False,
                expected_ship_date=ship_date,
                message=message,
            )
        events = tuple(
            TrackingEvent(
                occurred_at=aware(e.occurred_at), status=e.status, description=e.description, location=e.location
            )
            for e in shipment.events
        )
        last = events[-1] if events else None
        eta = shipment.estimated_delivery
        is_lost = shipment.status == "lost"
        is_delayed = shipment.status == "delayed" or (
            eta is not None and eta < today and shipment.status in {"label_created", "in_transit", "out_for_delivery"}
        )
        carrier, tn = shipment.carrier, shipment.tracking_number
        if is_lost:
            since = fmt_date(last.occurred_at.date()) if last else "shipping"
            message = (
                f"We're sorry: the {carrier} parcel for {order.number} appears to be lost (no scan since {since}). "
                "A colleague can send a replacement or refund you."
            )
        elif shipment.status == "delivered":
            when = shipment.delivered_at or (last.occurred_at if last else None)
            message = f"Order {order.number} was delivered" + (f" on {fmt_date(when.date())}." if when else ".")
        elif shipment.status == "returned":
            message = f"The parcel for {order.number} was returned to us by {carrier}."
        elif is_delayed:
            update = f" Latest update: {last.description}." if last else ""
            eta_text = f" The new estimated delivery is {fmt_date(eta)}." if eta and eta >= today else ""
            message = f"Order {order.number} is delayed with {carrier} ({tn}).{update}{eta_text}"
        elif shipment.status == "out_for_delivery":
            message = f"Order {order.number} is out for delivery today with {carrier} ({tn})."
        elif shipment.status == "label_created":
            eta_text = f" and should arrive by {fmt_date(eta)}" if eta else ""
            message = f"Order {order.number} has been packed and handed to {carrier} ({tn}){eta_text}."
        else:
            eta_text = f" and should arrive by {fmt_date(eta)}" if eta else ""
            message = f"Order {order.number} is on its way with {carrier} ({tn}){eta_text}."
        url_pattern = TRACKING_URLS.get(carrier)
        return TrackingInfo(
            order_number=order.number,
            order_status=order.status,
            shipped=True,
            carrier=carrier,
            tracking_number=tn,
            tracking_url=url_pattern.format(tn) if url_pattern else None,
            shipment_status=shipment.status,
            last_event=last,
            events=events,
            estimated_delivery=eta,
            delivered_at=opt_aware(shipment.delivered_at),
            is_delayed=is_delayed,
            is_lost=is_lost,
            expected_ship_date=None,
            message=message,
        )
