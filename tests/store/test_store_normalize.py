"""Normalisation of what people type: order/RMA numbers, e-mails, postcodes, countries, amounts, addresses."""

from __future__ import annotations

from decimal import Decimal

import pytest

from store.normalize import (
    ParsedAddress,
    compact_postcode,
    detect_postcode_country,
    normalize_country,
    normalize_email,
    normalize_order_number,
    normalize_postcode,
    normalize_rma,
    parse_address,
    parse_amount,
    postcodes_match,
)


@pytest.mark.parametrize(
    "text",
    [
        "100234",
        "#100234",
        "ord100234",
        "ORD100234",
        "ORD-100234",
        "ORD-0100234",
        "ord-100234",
        "Ord #100234",
        "order no. 100 234",
        "order number: 100234",
        "Order No 100-234",
        "my order is # 100234 thanks",
        "my order is 100234",
        "where is 100234?",
        "ord. 100234",
        "order #100234, can you check",
        "order 100234 and RMA-500111",
        "hi, it's 100234.",
        "(100234)",
        "order number 1 0 0 2 3 4",
        "its 1 0 0 2 3 4 i think",
    ],
)
def test_order_number_forms(text: str) -> None:
    assert normalize_order_number(text) == "ORD-100234"


@pytest.mark.parametrize(
    "text",
    [
        "",
        None,
        "hello there",
        "RMA-500123",
        "rma 500123",
        "my return is RMA500123",
        "call me on 07700 900123",
        "+44 7700 900123",
        "postcode SW1A 1AA",
        "10115 Berlin",
        "12345678",
        "order 1002345",
        "it cost £100234",
        "tracking 1Z999AA10123456784",
        "AB123456789GB",
        "order 12345",
        "ORD-012345",
        "Blk 211 Tampines Street 23, Singapore 520211",
        "my pin code is 560001",
        "zip 100234",
        "postcode: 100234",
        "call 0 7 7 0 0 9 0 0 1 2 3",
    ],
)
def test_order_number_rejections(text: str | None) -> None:
    assert normalize_order_number(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rma 500123", "RMA-500123"),
        ("RMA500123", "RMA-500123"),
        ("#RMA-500123", "RMA-500123"),
        ("RMA no. 500 123", "RMA-500123"),
        ("my return rma:500123 please", "RMA-500123"),
        ("500123", None),
        ("ORD-100234", None),
        ("", None),
    ],
)
def test_rma(text: str, expected: str | None) -> None:
    assert normalize_rma(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jane.Doe@Example.com", "jane.doe@example.com"),
        ("it's jane.doe+shop@example.co.uk, thanks.", "jane.doe+shop@example.co.uk"),
        ("mailto:ANNA@EXAMPLE.ORG", "anna@example.org"),
        ("my email is noah@mail.example.com.", "noah@mail.example.com"),
        ("jane at example dot com", None),
        ("jane@localhost", None),
        ("SW1A 1AA", None),
        ("", None),
    ],
)
def test_email(text: str, expected: str | None) -> None:
    assert normalize_email(text) == expected


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        ("sw1a1aa", None, "SW1A 1AA"),
        ("my postcode is ec1a 1bb", None, "EC1A 1BB"),
        ("M1 1AE", "GB", "M1 1AE"),
        ("b15 2fa", "UK", "B15 2FA"),
        ("10115", "DE", "10115"),
        ("10115", None, "10115"),
        ("75008", "France", "75008"),
        ("1012ab", None, "1012 AB"),
        ("1012 ab", "NL", "1012 AB"),
        ("d02x285", None, "D02 X285"),
        ("m5v2t6", None, "M5V 2T6"),
        ("90210-1234", "US", "90210"),
        ("2000", "AU", "2000"),
        ("hello", None, None),
        ("", "GB", None),
        ("12345", "GB", None),
    ],
)
def test_postcode(text: str, country: str | None, expected: str | None) -> None:
    assert normalize_postcode(text, country) == expected


def test_postcode_comparison_and_detection() -> None:
    assert compact_postcode("sw1a 1aa") == "SW1A1AA"
    assert postcodes_match("SW1A 1AA", "sw1a1aa")
    assert not postcodes_match("SW1A 1AA", "SW1A 1AB")
    assert not postcodes_match(None, "SW1A 1AA")
    assert detect_postcode_country("SW1A 1AA") == "GB"
    assert detect_postcode_country("M5V 2T6") == "CA"
    assert detect_postcode_country("D02 X285") == "IE"
    assert detect_postcode_country("1012 AB") == "NL"
    assert detect_postcode_country("10115") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("UK", "GB"),
        ("u.k.", "GB"),
        ("England", "GB"),
        ("Scotland", "GB"),
        ("great britain", "GB"),
        ("Britain", "GB"),
        ("United Kingdom", "GB"),
        ("gb", "GB"),
        ("USA", "US"),
        ("the US", "US"),
        ("America", "US"),
        ("United States of America", "US"),
        ("Holland", "NL"),
        ("the Netherlands", "NL"),
        ("Deutschland", "DE"),
        ("germany", "DE"),
        ("DE", "DE"),
        ("Ireland", "IE"),
        ("Éire", "IE"),
        ("Northern Ireland", "GB"),
        ("Canada", "CA"),
        ("Australia", "AU"),
        ("Japan", "JP"),
        ("do you ship to the Netherlands?", "NL"),
        ("shipping to France please", "FR"),
        ("ship to DE?", "DE"),
        ("Atlantis", None),
        ("", None),
        ("in", None),
        ("is it free", None),
    ],
)
def test_country(text: str, expected: str | None) -> None:
    assert normalize_country(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("£45", Decimal("45.00")),
        ("45 pounds", Decimal("45.00")),
        ("45.50", Decimal("45.50")),
        ("under 30", Decimal("30.00")),
        ("around £12.5", Decimal("12.50")),
        ("£12,50", Decimal("12.50")),
        ("GBP 1,299.99", Decimal("1299.99")),
        ("something under 20 quid", Decimal("20.00")),
        ("order 100234 under £20", Decimal("20.00")),
        ("no budget", None),
        ("", None),
    ],
)
def test_amount(text: str, expected: Decimal | None) -> None:
    assert parse_amount(text) == expected


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        (
            "Flat 2, 5 Baker Street, London NW1 6XE, UK",
            None,
            ParsedAddress("Flat 2, 5 Baker Street", "London", "NW1 6XE", "GB"),
        ),
        ("12 High Street Leeds LS1 4AB", None, ParsedAddress("12 High Street", "Leeds", "LS1 4AB", "GB")),
        ("12 High Street, Leeds, ls14ab", "GB", ParsedAddress("12 High Street", "Leeds", "LS1 4AB", "GB")),
        ("Hauptstraße 12, 10115 Berlin, Germany", None, ParsedAddress("Hauptstraße 12", "Berlin", "10115", "DE")),
        (
            "Prinsengracht 263, 1016 GV Amsterdam",
            "NL",
            ParsedAddress("Prinsengracht 263", "Amsterdam", "1016 GV", "NL"),
        ),
        (
            "350 Fifth Avenue, New York, NY 10118, USA",
            None,
            ParsedAddress("350 Fifth Avenue", "New York, NY", "10118", "US"),
        ),
        ("14 Main Street, Dublin D02 X285, Ireland", None, ParsedAddress("14 Main Street", "Dublin", "D02 X285", "IE")),
    ],
)
def test_parse_address(text: str, default: str | None, expected: ParsedAddress) -> None:
    assert parse_address(text, default) == expected


@pytest.mark.parametrize(("text", "default"), [("5 Baker Street, London", "GB"), ("", "GB"), ("Hauptstraße 12", "DE")])
def test_parse_address_needs_a_postcode(text: str, default: str) -> None:
    assert parse_address(text, default) is None
