"""Deterministic demo shop (catalogue, customers, 300 orders in every status) for `python -m store seed`."""

from __future__ import annotations

import json
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from store import models as m
from store.core import add_business_days
from store.policy import EU_COUNTRIES

#: The demo shop's data (catalogue, people, shipping zones, shops, carrier texts), read on first use.
DEMO_DATA = Path(__file__).resolve().parent / "demo"
_CLEARANCE_COUNT = 14
#: Share of orders sent somewhere else than the customer's own address (gifts, work).
_GIFT_SHARE = 0.05
_UK_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


@cache
def demo_data(name: str) -> dict[str, Any]:
    """One of the demo data files (``catalogue``, ``people``, ``shop``) under ``store/demo/``, parsed once."""
    data: dict[str, Any] = json.loads((DEMO_DATA / f"{name}.json").read_text(encoding="utf-8"))
    return data


def _uk_postcode(rng: random.Random, outward: str) -> str:
    return f"{outward} {rng.randint(1, 9)}{rng.choice(_UK_INWARD_LETTERS)}{rng.choice(_UK_INWARD_LETTERS)}"


def _nl_postcode(rng: random.Random, low: int, high: int) -> str:
    letters = "ABCEGHJKLMNPRSTVWXZ"
    return f"{rng.randint(low, high)} {rng.choice(letters)}{rng.choice(letters)}"


def _eircode(rng: random.Random, routing: str) -> str:
    chars = "0123456789ACDEFHKNPRTVWXY"
    return f"{routing} {''.join(rng.choice(chars) for _ in range(4))}"


def _ca_postcode(rng: random.Random, fsa: str) -> str:
    letters = "ABCEGHJKLMNPRSTVWXYZ"
    return f"{fsa} {rng.randint(1, 9)}{rng.choice(letters)}{rng.randint(0, 9)}"


def _postcode(rng: random.Random, spec: dict[str, Any]) -> str:
    """A postcode made as ``spec`` of people.json says: ``randint`` (with a ``format``), ``choice``, ``nl``,
    ``eircode`` or ``ca`` (a list there is a choice of routing keys)."""
    if "randint" in spec:
        return str(spec.get("format", "{}")).format(rng.randint(*spec["randint"]))
    if "choice" in spec:
        return str(rng.choice(spec["choice"]))
    if "nl" in spec:
        return _nl_postcode(rng, *spec["nl"])
    if "eircode" in spec:
        routing = spec["eircode"]
        return _eircode(rng, routing if isinstance(routing, str) else rng.choice(routing))
    return _ca_postcode(rng, rng.choice(spec["ca"]))


def _city(rng: random.Random, cities: str | list[list[Any]]) -> tuple[str, Callable[[random.Random], str]]:
    """A city of a country's plan and how its postcodes are made (``gb``: weighted towns, real districts)."""
    if cities == "gb":
        people = demo_data("people")
        districts: dict[str, list[str]] = people["gb_districts"]
        towns = list(districts)
        city = rng.choices(towns, weights=[people["gb_town_weights"].get(t, 2) for t in towns])[0]
        return city, lambda r: _uk_postcode(r, r.choice(districts[city]))
    name, spec = rng.choice(cities)
    return name, lambda r: _postcode(r, spec)


def product_image_path(sku: str) -> str:
    """Where the demo shop's product picture is: the gateway draws one per SKU (``GET /media/products/<sku>.svg``).

    The demo catalogue has no photographs; a relative path on the gateway works for the web widget and the
    tablet (Telegram and Slack need public URLs and leave it out), unlike a made-up host that never resolves.
    """
    return f"/media/products/{sku}.svg"


def shelf_location(aisle: int, category: str, product_id: int) -> str:
    """Where a product sits in a demo shop: one aisle per category (sorted by name), four shelves.

    Deterministic and free of the random generator, so adding locations changed no other seeded value.
    Revision 0003 backfills existing databases with a frozen copy of this rule.
    """
    return f"aisle {aisle} ({category}), shelf {product_id % 4 + 1}"


# How many orders of each status (sum 300).
STATUS_PLAN: dict[str, int] = {
    "placed": 22,
    "paid": 22,
    "payment_failed": 20,
    "shipped": 22,
    "in_transit": 25,
    "delayed": 24,
    "delivered": 80,
    "cancelled": 22,
    "return_requested": 22,
    "returned": 20,
    "refunded": 21,
}
_LOST_COUNT = 5  # of the delayed orders, parcels declared lost
_LOST_REFUNDED = 3  # of the refunded orders, refunded because the parcel was lost
_ALL_FINAL_SALE_DELIVERED = 6
_REJECTED_RETURNS = 4


@dataclass(frozen=True)
class SeedReport:
    """What `seed` created."""

    products: int
    customers: int
    orders: int
    shipments: int
    returns: int
    refunds: int
    stores: int
    zones: int
    by_status: dict[str, int]


def _email(rng: random.Random, first: str, last: str) -> str:
    """An e-mail address written the many ways people choose theirs (``jane.doe``, ``jdoe84``, ``doe.j``...)."""
    f, l_ = _ascii(first).lower().replace(" ", ""), _ascii(last).lower().replace(" ", "").replace("'", "")
    year = rng.randint(1955, 2004)
    local = rng.choices(
        [
            f"{f}.{l_}",
            f"{f}{l_}",
            f"{f[0]}.{l_}",
            f"{f}_{l_}",
            f"{f}.{l_}{rng.randint(1, 99)}",
            f"{f}{year}",
            f"{f[0]}{l_}{year % 100:02d}",
            f"{l_}.{f}",
            f"{f}.{l_[0]}",
            f"{f}{rng.randint(100, 999)}",
        ],
        weights=[26, 12, 8, 6, 12, 9, 9, 6, 6, 6],
    )[0]
    domains: dict[str, int] = demo_data("people")["email_domains"]
    domain = rng.choices(list(domains), weights=list(domains.values()))[0]
    return f"{local}@{domain}"


def default_anchor() -> datetime:
    """Return today's 00:00 UTC, the default anchor the demo dates are relative to."""
    return datetime.combine(datetime.now(UTC).date(), time(0, 0), tzinfo=UTC)


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isascii() and (ch.isalnum() or ch in ".-"))


def is_empty(session: Session) -> bool:
    """Tell whether the store holds no products and no orders.

    Args:
        session: Open session.

    Returns:
        True when there is nothing to lose by seeding.
    """
    products = session.execute(select(func.count(m.Product.id))).scalar_one()
    orders = session.execute(select(func.count(m.Order.id))).scalar_one()
    return products == 0 and orders == 0


def clear(session: Session) -> None:
    """Delete every row of every store table (children first).

    Args:
        session: Open session; the caller commits.
    """
    for table in reversed(m.Base.metadata.sorted_tables):
        session.execute(delete(table))


class _Seeder:
    """Builds the demo shop from one random generator so the same seed and anchor give the same rows."""

    def __init__(self, session: Session, seed: int, anchor: datetime, log: Callable[[str], None]) -> None:
        self.session = session
        self.seed = seed
        self.rng = random.Random(seed)
        # Who orders and where it goes: a generator of their own, so the order plan stays as it was.
        self.people_rng = random.Random(f"{seed}:orders-to")
        self.addresses: list[tuple[str | list[list[Any]], list[str], str]] = []
        self.order_slots: list[m.Customer] = []
        self.anchor = anchor.astimezone(UTC).replace(tzinfo=None)
        self.log = log
        self.products: list[m.Product] = []
        self.customers: list[m.Customer] = []
        self.methods: dict[tuple[str, str], m.ShippingMethod] = {}
        self.tracking_seen: set[str] = set()
        self.rma_counter = 500000
        self.shipment_count = 0
        self.return_count = 0
        self.refund_count = 0

    # ------------------------------------------------------------------------------------------ static data

    def catalogue(self) -> None:
        rng = self.rng
        for category in demo_data("catalogue")["categories"]:
            combos = [(b, t) for t in category["types"] for b in category["brands"]]
            picked = rng.sample(combos, category["count"])
            picked.sort(key=lambda bt: (bt[1][0], bt[0]))
            for index, (brand, (kind, low, high, size, description)) in enumerate(picked, start=1):
                price = rng.randrange(low, high + 1, 50) - 1  # £xx.49 / £xx.99 style prices
                attrs: dict[str, Any] = {"size": size}
                for key, choice in category["attrs"].items():  # a list: pick one; a number: chance of True
                    attrs[key] = rng.choice(choice) if isinstance(choice, list) else rng.random() < choice
                self.products.append(
                    m.Product(
                        sku=f"{category['prefix']}-{index:04d}",
                        title=f"{brand} {kind}",
                        description=description,
                        brand=brand,
                        category=category["name"],
                        price_pence=max(price, 499),
                        attributes=attrs,
                        final_sale=False,
                        image_url=product_image_path(f"{category['prefix']}-{index:04d}"),
                        online_stock=0 if rng.random() < 0.08 else rng.randint(3, 180),
                    )
                )
        for index, (title, price, description) in enumerate(demo_data("catalogue")["gift_cards"], start=1):
            self.products.append(
                m.Product(
                    sku=f"GFT-{index:04d}",
                    title=title,
                    description=description + " Gift cards are final sale.",
                    brand="Gift Card",
                    category="Gift Cards",
                    price_pence=price,
                    attributes={"digital": title.startswith("E-")},
                    final_sale=True,
                    image_url=product_image_path(f"GFT-{index:04d}"),
                    online_stock=999,
                )
            )
        regular = [p for p in self.products if not p.final_sale]
        for product in rng.sample(regular, _CLEARANCE_COUNT):
            product.final_sale = True
            product.price_pence = max(299, int(product.price_pence * 0.5) // 50 * 50 - 1)
            product.attributes = {**product.attributes, "clearance": True}
            product.description += " Clearance: final sale, cannot be returned."
        self.session.add_all(self.products)
        self.log(f"  {len(self.products)} products")

    def stores_and_stock(self) -> None:
        rng = self.rng
        stores = [m.PhysicalStore(**store) for store in demo_data("shop")["stores"]]
        self.session.add_all(stores)
        self.session.flush()
        shelved = [product for product in self.products if product.category != "Gift Cards"]
        aisles = {name: index for index, name in enumerate(sorted({p.category for p in shelved}), start=1)}
        rows = [
            {
                "store_id": store.id,
                "product_id": product.id,
                "quantity": 0 if rng.random() < 0.2 else rng.randint(1, 15),
                "location": shelf_location(aisles[product.category], product.category, product.id),
            }
            for product in shelved
            for store in stores
        ]
        self.session.execute(insert(m.StoreStock), rows)  # bulk: ~800 rows
        self.log(f"  {len(stores)} stores with stock")

    def zones(self) -> None:
        for order, zone_data in enumerate(demo_data("shop")["zones"]):
            zone = m.ShippingZone(
                code=zone_data["code"], name=zone_data["name"], is_fallback=zone_data["fallback"], sort_order=order
            )
            countries = sorted(EU_COUNTRIES) if zone_data["countries"] == "EU" else zone_data["countries"]
            zone.countries = [m.ShippingZoneCountry(country=c) for c in countries]
            zone.methods = [
                m.ShippingMethod(
                    code=code,
                    name=name,
                    price_pence=price,
                    free_over_pence=free,
                    min_days=lo,
                    max_days=hi,
                    sort_order=i,
                )
                for i, (code, name, price, free, lo, hi) in enumerate(zone_data["methods"])
            ]
            for method in zone.methods:
                self.methods[(zone.code, method.code)] = method
            self.session.add(zone)
        self.log(f"  {len(demo_data('shop')['zones'])} shipping zones")

    def people(self) -> None:
        # Customers come from their own generator: the order plan's generator is shared by everything after.
        rng = random.Random(f"{self.seed}:people")
        emails: set[str] = set()
        people = demo_data("people")
        for plan in people["countries"]:
            country, streets, fmt = plan["country"], plan["streets"], plan["address"]
            for _ in range(plan["customers"]):
                first, last = rng.choice(people["first_names"]), rng.choice(people["last_names"])
                city, postcode_maker = _city(rng, plan["cities"])
                email = _email(rng, first, last)
                while email in emails:
                    local, domain = email.split("@")
                    email = f"{local}{rng.randint(2, 99)}@{domain}"
                emails.add(email)
                self.customers.append(
                    m.Customer(
                        name=f"{first} {last}",
                        email=email,
                        address=fmt.format(n=rng.randint(1, 240), street=rng.choice(streets)),
                        city=city,
                        postcode=postcode_maker(rng),
                        country=country,
                        created_at=self.anchor - timedelta(days=rng.randint(90, 900)),
                    )
                )
                self.addresses.append((plan["cities"], streets, fmt))
        # How often each customer ordered in the demo's months, as in a real shop: most once, some not yet,
        # a few regulars several times (their orders are then dealt out in random order).
        slots: list[m.Customer] = []
        for customer in self.customers:
            orders = rng.choices([0, 1, 2, 3, 4, 5, 6], weights=[18, 52, 16, 8, 3, 2, 1])[0]
            slots.extend([customer] * orders)
        rng.shuffle(slots)
        self.order_slots = slots
        self.session.add_all(self.customers)
        self.log(f"  {len(self.customers)} customers")

    def _customer_for_order(self) -> m.Customer:
        if self.order_slots:
            return self.order_slots.pop()
        return self.people_rng.choice(self.customers)  # more orders planned than slots dealt: anyone

    def _ship_to(self, customer: m.Customer) -> tuple[str, str, str]:
        """(address, city, postcode) of an order: the customer's own, or now and then somewhere else (a gift)."""
        rng = self.people_rng
        if rng.random() >= _GIFT_SHARE:
            return customer.address, customer.city, customer.postcode
        cities, streets, fmt = self.addresses[self.customers.index(customer)]
        city, postcode_maker = _city(rng, cities)
        return fmt.format(n=rng.randint(1, 240), street=rng.choice(streets)), city, postcode_maker(rng)

    # ---------------------------------------------------------------------------------------------- orders

    def _tracking_number(self, carrier: str) -> str:
        rng = self.rng
        while True:
            if carrier == "Royal Mail":
                letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
                number = f"{rng.choice(letters)}{rng.choice(letters)}{rng.randint(0, 999999999):09d}GB"
            elif carrier == "DHL":
                number = f"{rng.randint(10**9, 10**10 - 1)}"
            elif carrier == "UPS":
                chars = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
                number = "1Z" + "".join(rng.choice(chars) for _ in range(16))
            else:
                number = f"{rng.randint(10**13, 10**14 - 1)}"
            if number not in self.tracking_seen:
                self.tracking_seen.add(number)
                return number

    def _carrier(self, zone: str, method: str) -> str:
        if zone == "UK":
            return "DPD" if method == "next_day" else "Royal Mail"
        if zone == "EU":
            return "DHL" if method == "express" or self.rng.random() < 0.6 else "DPD"
        if zone == "NA":
            return "UPS"
        return "DHL"

    def _lines(self, count: int, *, allow_final_sale: bool, only_final_sale: bool = False) -> list[m.OrderLine]:
        rng = self.rng
        if only_final_sale:
            pool = [p for p in self.products if p.final_sale]
        elif allow_final_sale:
            pool = self.products
        else:
            pool = [p for p in self.products if not p.final_sale]
        chosen = rng.sample(pool, count)
        return [
            m.OrderLine(
                product_id=p.id,
                sku=p.sku,
                title=p.title,
                qty=1 if rng.random() < 0.8 else rng.randint(2, 3),
                unit_price_pence=p.price_pence,
                final_sale=p.final_sale,
            )
            for p in chosen
        ]

    def orders(self) -> dict[str, int]:
        rng = self.rng
        plan: list[str] = []
        for status, count in STATUS_PLAN.items():
            plan.extend([status] * count)
        rng.shuffle(plan)
        specs: list[dict[str, Any]] = []
        lost_left, lost_refund_left = _LOST_COUNT, _LOST_REFUNDED
        final_left, rejected_left = _ALL_FINAL_SALE_DELIVERED, _REJECTED_RETURNS
        for status in plan:
            spec: dict[str, Any] = {"status": status, "customer": self._customer_for_order()}
            if status == "placed":
                spec["placed_at"] = self.anchor - timedelta(hours=rng.uniform(1, 20))
            elif status in {"paid", "payment_failed"}:
                spec["placed_at"] = self.anchor - timedelta(hours=rng.uniform(2, 40))
            elif status == "shipped":
                spec["placed_at"] = self.anchor - timedelta(hours=rng.uniform(30, 70))
            elif status == "in_transit":
                spec["placed_at"] = self.anchor - timedelta(hours=rng.uniform(48, 140))
            elif status == "delayed":
                if lost_left:
                    spec["lost"] = True
                    lost_left -= 1
                    spec["placed_at"] = self.anchor - timedelta(days=rng.uniform(16, 24))
                else:
                    spec["placed_at"] = self.anchor - timedelta(days=rng.uniform(7, 14))
            elif status == "delivered":
                delivered_days = rng.uniform(1, 75)
                spec["delivered_days"] = delivered_days
                spec["placed_at"] = self.anchor - timedelta(days=delivered_days + rng.uniform(2, 6))
                if final_left and delivered_days < 25:
                    spec["all_final_sale"] = True
                    final_left -= 1
                elif rejected_left and 12 < delivered_days < 40:
                    spec["rejected_return"] = True
                    rejected_left -= 1
                elif rng.random() < 0.15:
                    spec["one_final_sale"] = True
            elif status == "cancelled":
                spec["placed_at"] = self.anchor - timedelta(days=rng.uniform(1, 40))
            elif status == "return_requested":
                spec["delivered_days"] = rng.uniform(3, 20)
                spec["placed_at"] = self.anchor - timedelta(days=spec["delivered_days"] + rng.uniform(2, 6))
            elif status == "returned":
                spec["delivered_days"] = rng.uniform(10, 28)
                spec["placed_at"] = self.anchor - timedelta(days=spec["delivered_days"] + rng.uniform(2, 6))
            else:  # refunded
                if lost_refund_left:
                    spec["lost"] = True
                    lost_refund_left -= 1
                    spec["placed_at"] = self.anchor - timedelta(days=rng.uniform(25, 45))
                else:
                    spec["delivered_days"] = rng.uniform(15, 60)
                    spec["placed_at"] = self.anchor - timedelta(days=spec["delivered_days"] + rng.uniform(2, 6))
            spec["placed_at"] = spec["placed_at"].replace(microsecond=0)
            specs.append(spec)
        for spec in specs:
            spec["ship_to"] = self._ship_to(spec["customer"])
        # Order numbers follow the time orders were placed.
        specs.sort(key=lambda s: s["placed_at"])
        counts: dict[str, int] = {}
        for index, spec in enumerate(specs):
            self._order(100001 + index, spec)
            counts[spec["status"]] = counts.get(spec["status"], 0) + 1
        self.log(f"  {len(specs)} orders")
        return counts

    def _order(self, number: int, spec: dict[str, Any]) -> None:
        rng = self.rng
        status: str = spec["status"]
        customer: m.Customer = spec["customer"]
        placed_at: datetime = spec["placed_at"]
        ship_address, ship_city, ship_postcode = spec["ship_to"]
        zone = demo_data("shop")["zone_of"][customer.country]
        method_codes = ["standard", "express", "next_day"] if zone == "UK" else ["standard", "express"]
        weights = [70, 20, 10] if zone == "UK" else [75, 25]
        method_code = rng.choices(method_codes, weights=weights)[0]
        method = self.methods[(zone, method_code)]
        line_count = rng.choices([1, 2, 3, 4], weights=[35, 35, 20, 10])[0]
        if spec.get("all_final_sale"):
            lines = self._lines(rng.randint(1, 2), allow_final_sale=True, only_final_sale=True)
        elif spec.get("one_final_sale"):
            lines = self._lines(max(1, line_count - 1), allow_final_sale=False)
            lines += self._lines(1, allow_final_sale=True, only_final_sale=True)
        else:
            lines = self._lines(line_count, allow_final_sale=status in {"placed", "paid", "cancelled", "shipped"})
        subtotal = sum(line.unit_price_pence * line.qty for line in lines)
        shipping = (
            0 if method.free_over_pence is not None and subtotal >= method.free_over_pence else method.price_pence
        )
        payment_method = rng.choices(
            ["card", "paypal", "apple_pay", "google_pay", "klarna", "gift_card"], weights=[50, 20, 12, 6, 8, 4]
        )[0]
        if status == "payment_failed" and payment_method == "gift_card":
            payment_method = "card"
        order = m.Order(
            number=f"ORD-{number}",
            customer_id=customer.id,
            placed_at=placed_at,
            status=status,
            subtotal_pence=subtotal,
            shipping_pence=shipping,
            total_pence=subtotal + shipping,
            currency="GBP",
            payment_method=payment_method,
            payment_status="paid",
            payment_failure_reason=None,
            ship_name=customer.name,
            ship_address=ship_address,
            ship_city=ship_city,
            ship_postcode=ship_postcode,
            ship_country=customer.country,
            shipping_method=method_code,
        )
        order.customer = customer
        order.lines = lines
        self.session.add(order)
        if status == "placed":
            order.payment_status = "authorised"
        elif status == "payment_failed":
            order.payment_status = "failed"
            order.payment_failure_reason = rng.choice(demo_data("shop")["payment_failure_reasons"])
        elif status == "cancelled":
            order.cancelled_at = placed_at + timedelta(hours=rng.uniform(0.5, 20))
            if rng.random() < 0.5:
                order.payment_status = "refunded"
                self._refund(order, None, order.total_pence, "order cancelled", order.cancelled_at, completed=True)
            else:
                order.payment_status = "voided"
        if status in {"shipped", "in_transit", "delayed", "delivered", "return_requested", "returned", "refunded"}:
            self._shipment(order, spec, zone, method)
        if status in {"return_requested", "returned", "refunded"} and not spec.get("lost"):
            self._return_flow(order, spec)
        elif status == "refunded":  # lost parcel, refunded in full
            assert order.shipment is not None
            created = order.shipment.shipped_at + timedelta(days=rng.uniform(12, 16))
            order.payment_status = "refunded"
            self._refund(order, None, order.total_pence, "parcel lost in transit", created, completed=True)
        if spec.get("rejected_return"):
            self._rejected_return(order)

    def _event(self, shipment: m.Shipment, when: datetime, status: str, description: str, location: str) -> None:
        shipment.events.append(
            m.ShipmentEvent(
                occurred_at=when.replace(microsecond=0), status=status, description=description, location=location
            )
        )

    def _shipment(self, order: m.Order, spec: dict[str, Any], zone: str, method: m.ShippingMethod) -> None:
        rng = self.rng
        carrier = self._carrier(zone, method.code)
        hubs = demo_data("shop")["carrier_hubs"][carrier]
        status = order.status
        placed = order.placed_at
        if status == "shipped":
            shipped_at = max(self.anchor - timedelta(hours=rng.uniform(2, 20)), placed + timedelta(hours=4))
        else:
            shipped_at = placed + timedelta(hours=rng.uniform(16, 30))
        shipped_at = shipped_at.replace(microsecond=0)
        eta = add_business_days(shipped_at.date(), method.max_days)
        shipment = m.Shipment(
            carrier=carrier,
            tracking_number=self._tracking_number(carrier),
            status="label_created",
            shipped_at=shipped_at,
            estimated_delivery=eta,
        )
        order.shipment = shipment
        order.shipped_at = shipped_at
        self.shipment_count += 1
        self._event(
            shipment,
            shipped_at - timedelta(hours=2),
            "label_created",
            "Shipping label created",
            "Northampton Fulfilment Centre, GB",
        )
        if status == "shipped":
            # Packed recently: the carrier has collected it only when that was more than 8 hours ago.
            if shipped_at + timedelta(hours=8) < self.anchor:
                shipment.status = "in_transit"
                self._event(shipment, shipped_at, "in_transit", f"Parcel collected by {carrier}", "Northampton, GB")
            return
        self._event(shipment, shipped_at, "in_transit", f"Parcel collected by {carrier}", "Northampton, GB")
        hub_time = shipped_at + timedelta(hours=rng.uniform(5, 12))
        self._event(shipment, hub_time, "in_transit", "Arrived at sorting hub", rng.choice(hubs))
        if zone != "UK":
            self._event(
                shipment,
                hub_time + timedelta(hours=rng.uniform(10, 20)),
                "in_transit",
                "Departed the United Kingdom",
                rng.choice(hubs),
            )
        if status == "in_transit":
            shipment.status = "in_transit"
            shipment.estimated_delivery = max(eta, self.anchor.date() + timedelta(days=rng.randint(1, 3)))
            last = max(e.occurred_at for e in shipment.events)
            if last + timedelta(hours=8) < self.anchor:
                self._event(
                    shipment,
                    last + timedelta(hours=rng.uniform(4, 8)),
                    "in_transit",
                    "In transit to the local delivery office",
                    rng.choice(hubs),
                )
            if rng.random() < 0.2:
                shipment.status = "out_for_delivery"
                shipment.estimated_delivery = self.anchor.date()
                self._event(
                    shipment,
                    self.anchor - timedelta(hours=1),
                    "out_for_delivery",
                    "Out for delivery",
                    f"{order.ship_city} delivery office",
                )
            return
        if spec.get("lost"):
            shipment.status = "lost"
            shipment.estimated_delivery = None
            self._event(shipment, hub_time + timedelta(days=1), "in_transit", "In transit", rng.choice(hubs))
            self._event(
                shipment,
                hub_time + timedelta(days=11),
                "lost",
                "The parcel could not be located; investigation closed",
                carrier,
            )
            return
        if status == "delayed":
            shipment.status = "delayed"
            shop = demo_data("shop")
            reasons = shop["delay_reasons"] + ([shop["customs_delay"]] if zone != "UK" else [])
            self._event(
                shipment,
                self.anchor - timedelta(hours=rng.uniform(6, 40)),
                "delayed",
                rng.choice(reasons),
                rng.choice(hubs),
            )
            shipment.estimated_delivery = self.anchor.date() + timedelta(days=rng.randint(2, 5))
            return
        # Delivered (and everything after delivery).
        delivered_at = (self.anchor - timedelta(days=spec["delivered_days"])).replace(microsecond=0)
        delivered_at = max(delivered_at, shipped_at + timedelta(hours=20))
        self._event(
            shipment,
            delivered_at - timedelta(hours=rng.uniform(3, 6)),
            "out_for_delivery",
            "Out for delivery",
            f"{order.ship_city} delivery office",
        )
        self._event(
            shipment,
            delivered_at,
            "delivered",
            rng.choice(
                [
                    "Delivered, signed for by the customer",
                    "Delivered to the front door",
                    "Delivered to a neighbour",
                    "Delivered to the parcel locker",
                ]
            ),
            order.ship_city,
        )
        shipment.status = "delivered"
        shipment.delivered_at = delivered_at
        shipment.estimated_delivery = min(eta, delivered_at.date()) if eta else delivered_at.date()
        order.delivered_at = delivered_at

    def _next_rma(self) -> str:
        self.rma_counter += 1
        return f"RMA-{self.rma_counter}"

    def _new_return(
        self, order: m.Order, lines: list[m.OrderLine], status: str, created: datetime, reason: str
    ) -> m.Return:
        rma = self._next_rma()
        if order.ship_country == "GB":
            label_url: str | None = f"https://shop.example/returns/labels/{rma}.pdf"
            instructions = (
                f"Print the free prepaid Royal Mail label ({label_url}, also emailed to you), write {rma} "
                "on the packing slip and drop the parcel at any Post Office within 14 days."
            )
        else:
            label_url = None
            instructions = (
                "Send the items at your own cost with a tracked service to Returns Centre, Unit 4 "
                f"Riverside Park, Northampton NN3 6AB, United Kingdom, with {rma} written on the parcel, "
                "and keep the proof of postage."
            )
        ret = m.Return(
            rma_number=rma,
            reason=reason,
            status=status,
            label_instructions=instructions,
            label_url=label_url,
            refund_estimate_pence=sum(line.unit_price_pence * line.qty for line in lines),
            created_at=created.replace(microsecond=0),
        )
        ret.lines = [m.ReturnLine(order_line=line, qty=line.qty) for line in lines]
        order.returns.append(ret)
        self.return_count += 1
        return ret

    def _return_flow(self, order: m.Order, spec: dict[str, Any]) -> None:
        rng = self.rng
        assert order.delivered_at is not None
        returnable = [line for line in order.lines if not line.final_sale]
        chosen = returnable if rng.random() < 0.5 else rng.sample(returnable, rng.randint(1, len(returnable)))
        chosen.sort(key=lambda line: order.lines.index(line))
        created = order.delivered_at + timedelta(days=rng.uniform(0.5, 2.5))
        reason = rng.choice(demo_data("shop")["return_reasons"])
        if order.status == "return_requested":
            self._new_return(order, chosen, "approved" if rng.random() < 0.8 else "requested", created, reason)
            return
        ret = self._new_return(order, chosen, "received", created, reason)
        if order.status == "returned":  # refund still running: the parcel reached us in the last few days
            received = self.anchor - timedelta(days=rng.uniform(0.5, 4))
        else:
            received = created + timedelta(days=rng.uniform(2, 5))
        ret.received_at = max(received, created + timedelta(days=1)).replace(microsecond=0)
        amount = ret.refund_estimate_pence
        if order.status == "returned":
            self._refund(
                order,
                ret,
                amount,
                "return received",
                ret.received_at,
                completed=False,
                status=rng.choice(["pending", "processing"]),
            )
        else:
            ret.status = "refunded"
            self._refund(order, ret, amount, "return received", ret.received_at, completed=True)
            order.payment_status = "refunded" if amount == order.total_pence else "partially_refunded"

    def _rejected_return(self, order: m.Order) -> None:
        assert order.delivered_at is not None
        line = next(li for li in order.lines if not li.final_sale)
        self._new_return(
            order, [line], "rejected", order.delivered_at + timedelta(days=3), "opened and used; not accepted"
        )

    def _refund(
        self,
        order: m.Order,
        ret: m.Return | None,
        amount: int,
        reason: str,
        created: datetime,
        *,
        completed: bool,
        status: str = "completed",
    ) -> None:
        rng = self.rng
        created = created.replace(microsecond=0)
        completed_at = None
        if completed:
            status = "completed"
            completed_at = datetime.combine(add_business_days(created.date(), rng.randint(2, 7)), time(10, 0))
            completed_at = min(completed_at, self.anchor - timedelta(hours=3))
            completed_at = max(completed_at, created)
        refund = m.Refund(
            amount_pence=amount,
            method=order.payment_method,
            status=status,
            reason=reason,
            created_at=created,
            completed_at=completed_at,
        )
        refund.ret = ret
        order.refunds.append(refund)
        self.refund_count += 1


def seed(
    session: Session,
    *,
    seed: int = 42,
    anchor: datetime | None = None,
    log: Callable[[str], None] | None = None,
) -> SeedReport:
    """Fill an empty, migrated database with the demo shop.

    The same ``seed`` and ``anchor`` always produce the same rows; dates are relative to ``anchor`` so
    return windows stay realistic whenever the demo is seeded.

    Args:
        session: Open session on an empty database; the caller commits.
        seed: Seed of the random generator.
        anchor: Aware datetime the demo's "now" is built around (default: today 00:00 UTC).
        log: Receives progress lines.

    Returns:
        Counts of what was created.
    """
    say = log or (lambda _line: None)
    seeder = _Seeder(session, seed, anchor or default_anchor(), say)
    say(f"Seeding demo shop (seed={seed}, anchor={seeder.anchor:%Y-%m-%d %H:%M} UTC)")
    seeder.catalogue()
    seeder.zones()
    seeder.people()
    session.flush()
    seeder.stores_and_stock()
    by_status = seeder.orders()
    session.flush()
    return SeedReport(
        products=len(seeder.products),
        customers=len(seeder.customers),
        orders=sum(by_status.values()),
        shipments=seeder.shipment_count,
        returns=seeder.return_count,
        refunds=seeder.refund_count,
        stores=len(demo_data("shop")["stores"]),
        zones=len(demo_data("shop")["zones"]),
        by_status=dict(sorted(by_status.items())),
    )
