"""Shipping zones and quotes (`OrderStore.shipping_zones`, `OrderStore.shipping_quote`)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from store import models as m
from store.core import StoreCore, money, pence
from store.errors import UnknownDestination
from store.normalize import COUNTRY_NAMES, detect_postcode_country, normalize_country, parse_amount
from store.records import ShippingMethodInfo, ShippingQuote, ShippingZoneInfo


class Shipping(StoreCore):
    """Where the shop delivers, how, and at what price."""

    @staticmethod
    def _method_info(method: m.ShippingMethod, value_pence: int | None) -> ShippingMethodInfo:
        free = method.free_over_pence is not None and value_pence is not None and value_pence >= method.free_over_pence
        return ShippingMethodInfo(
            code=method.code,
            name=method.name,
            price=money(0 if free else method.price_pence),
            free_over=money(method.free_over_pence) if method.free_over_pence is not None else None,
            min_days=method.min_days,
            max_days=method.max_days,
        )

    def shipping_zones(self) -> list[ShippingZoneInfo]:
        """List shipping zones with their methods at full price (public).

        Returns:
            The zones in display order.
        """
        with self._session() as session:
            zones = session.execute(
                select(m.ShippingZone)
                .options(selectinload(m.ShippingZone.countries), selectinload(m.ShippingZone.methods))
                .order_by(m.ShippingZone.sort_order)
            ).scalars()
            return [
                ShippingZoneInfo(
                    code=zone.code,
                    name=zone.name,
                    countries=tuple(c.country for c in zone.countries),
                    is_rest_of_world=zone.is_fallback,
                    methods=tuple(self._method_info(method, None) for method in zone.methods),
                )
                for zone in zones
            ]

    def shipping_quote(
        self,
        country: str | None = None,
        postcode: str | None = None,
        order_value: Decimal | float | str | None = None,
    ) -> ShippingQuote:
        """Quote delivery options to a destination (public).

        Args:
            country: Country name, alias or code (``"Germany"``, ``"UK"``, ``"DE"``).
            postcode: A postcode; a UK (or Canadian, Irish, Dutch) postcode alone implies its country.
            order_value: Basket value in GBP (``Decimal``, number or text like ``"£45"``); methods whose
                free-over threshold it reaches cost 0.

        Returns:
            The zone, the country and each method's price and delivery days.

        Raises:
            UnknownDestination: The destination cannot be mapped to a country.
        """
        code = normalize_country(country) if country else None
        if country and code is None:
            raise UnknownDestination(country)
        if code is None and postcode:
            code = detect_postcode_country(postcode)
        if code is None:
            raise UnknownDestination(postcode or country)
        value: Decimal | None
        if order_value is None or order_value == "":
            value = None
        elif isinstance(order_value, str):
            value = parse_amount(order_value)
        else:
            value = Decimal(str(order_value)).quantize(Decimal("0.01"))
        value_pence = pence(value) if value is not None else None
        with self._session() as session:
            zone = session.execute(
                select(m.ShippingZone)
                .join(m.ShippingZoneCountry, m.ShippingZoneCountry.zone_id == m.ShippingZone.id)
                .where(m.ShippingZoneCountry.country == code)
            ).scalar_one_or_none()
            if zone is None:
                zone = session.execute(
                    select(m.ShippingZone).where(m.ShippingZone.is_fallback.is_(True))
                ).scalar_one_or_none()
            if zone is None:
                raise UnknownDestination(country or postcode)
            return ShippingQuote(
                zone=zone.code,
                zone_name=zone.name,
                country=code,
                country_name=COUNTRY_NAMES.get(code, code),
                order_value=value,
                methods=tuple(self._method_info(method, value_pence) for method in zone.methods),
            )
