"""The shop's policy constants (who may do what, when, at what rate), read by every area of the order store."""

from __future__ import annotations

from decimal import Decimal

from store.proofs import ProofLimits

#: Failed verifications a conversation may make before it is locked.
MAX_FAILED_VERIFICATIONS = ProofLimits().per_conversation
#: Roles of the staff allowlist (docs/CONTRACTS.md, "staff") that may open any order without customer proof.
STAFF_ROLES = frozenset({"staff", "manager"})
#: Order statuses in which an order can still be cancelled or have its address changed.
CHANGEABLE_STATUSES = frozenset({"placed", "paid", "payment_failed"})
#: EU member states (VAT at the UK rate is shown on their invoices too: the shop is UK-based, OSS-registered).
EU_COUNTRIES = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
    "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
})  # fmt: skip
#: VAT rate included in prices for UK and EU deliveries.
VAT_RATE = Decimal("0.20")
#: Where international customers send returns.
RETURNS_ADDRESS = "Returns Centre, Unit 4 Riverside Park, Northampton NN3 6AB, United Kingdom"
#: Payment methods the shop accepts: code -> (name, description).
PAYMENT_METHODS: dict[str, tuple[str, str]] = {
    "card": ("Card", "Visa, Mastercard and American Express debit or credit cards."),
    "paypal": ("PayPal", "Pay with your PayPal balance or any card saved in PayPal."),
    "apple_pay": ("Apple Pay", "On Safari and iOS devices."),
    "google_pay": ("Google Pay", "On Chrome and Android devices."),
    "klarna": ("Klarna", "Pay in 3 interest-free instalments (UK and selected EU countries)."),
    "gift_card": ("Gift card", "Our gift cards and e-gift cards; can be combined with another method."),
}
#: Carriers' public tracking pages (``{}`` is the tracking number).
TRACKING_URLS = {
    "Royal Mail": "https://www.royalmail.com/track-your-item#/tracking-results/{}",
    "DPD": "https://track.dpd.co.uk/parcels/{}",
    "DHL": "https://www.dhl.com/gb-en/home/tracking.html?tracking-id={}",
    "UPS": "https://www.ups.com/track?tracknum={}",
}
#: Words a product search ignores ("do you have any vegan cleanser" looks for "vegan cleanser").
SEARCH_STOPWORDS = frozenset({
    "a", "an", "and", "any", "are", "do", "does", "for", "have", "i", "in", "is", "it", "me", "my", "of", "on",
    "or", "please", "show", "some", "the", "to", "want", "with", "you", "your", "looking", "need", "find",
    "something", "good", "best",
})  # fmt: skip
