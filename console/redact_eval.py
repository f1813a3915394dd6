"""Measures redaction: generated personal data in varied formats (recall) and ordinary messages (precision).

Used by tests/security/test_privacy_redaction.py and bench/security_fuzz.py. The personal data is generated
from a fixed seed in the formats customers of a UK shop selling to the UK, the EU and North America write;
ordinary messages are the NLU training examples (annotations stripped) and generated support questions with
order and RMA numbers, amounts, dates and products, which must come through unchanged.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from console.redact import LABELS

NLU_DIR = Path(__file__).resolve().parent.parent / "nlu_data" / "nlu"
_ANNOTATION = re.compile(r"\[([^\]]+)\]\((\w+)\)|\[([^\]]+)\]\{[^}]*\}")
PII_ENTITIES = frozenset({"email", "postcode", "tracking_number"})
# Also labelled personal data in the NLU files: a message holding a person or an address is never ordinary text
# (a signed "Regards, [Tom Baker](person)" redacted is right, not a false redaction). Such names without a cue
# ("order for Emma Thompson") are not reliably found, so they are left out of both counts, not scored as recall.
PERSONAL_ENTITIES = frozenset({"person", "address"})
_GENERIC = frozenset(
    [
        "street",
        "st",
        "road",
        "rd",
        "avenue",
        "ave",
        "lane",
        "drive",
        "close",
        "way",
        "place",
        "court",
        "square",
        "flat",
        "apartment",
        "apt",
        "unit",
        "suite",
        "box",
        "po",
        "rue",
        "de",
        "la",
        "le",
        "des",
        "du",
        "calle",
        "via",
        "piazza",
        "the",
        "at",
        "dot",
        "com",
        "net",
        "org",
        "co",
        "uk",
        "de",
        "fr",
        "nl",
        "ie",
        "strasse",
        "straße",
        "weg",
        "gracht",
        "and",
        # titles stay readable before the redacted name ("Mrs. [name]")
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
    ]
)
FIRST = ["Oliver", "Amelia", "Priya", "Mateusz", "Siobhan", "Jürgen", "Zoë", "Chidi", "Mei", "Aarav", "Léa", "Tomás"]
LAST = ["Okafor", "Nowak", "Sharma", "Fitzgerald", "Müller", "Dubois", "van Dijk", "García", "Rossi", "O'Brien"]
DOMAINS = ["gmail.com", "outlook.com", "yahoo.co.uk", "web.de", "orange.fr", "icloud.com", "shop-mail.ie"]
UNICODE_EMAILS = [
    "jöhn@exämple.de",
    "zoë.müller@gmx.de",
    "josé.garcía@correo.es",
    "renée@exemple.fr",
    "ğül@örnek.com.tr",
]


@dataclass(frozen=True)
class PiiItem:
    """One piece of personal data inside a message."""

    kind: str
    value: str
    message: str


@dataclass
class RedactionScore:
    """Recall on personal data, precision against ordinary text, and the order numbers kept."""

    items: int = 0
    redacted: int = 0
    false_positives: int = 0
    ordinary_messages: int = 0
    ordinary_changed: int = 0
    order_numbers: int = 0
    order_numbers_kept: int = 0
    missed: list[PiiItem] = field(default_factory=list)
    changed: list[tuple[str, str]] = field(default_factory=list)
    by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def recall(self) -> float:
        """Personal data items fully redacted / all items."""
        return self.redacted / self.items if self.items else 1.0

    @property
    def precision(self) -> float:
        """Redactions of personal data / all redactions made (in ordinary messages every one is wrong)."""
        made = self.redacted + self.false_positives
        return self.redacted / made if made else 1.0


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    digits = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        candidate = digits + check
        total = 0
        for i, ch in enumerate(reversed(candidate)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def _group(digits: str, sizes: Sequence[int], sep: str) -> str:
    parts, at = [], 0
    for size in sizes:
        parts.append(digits[at : at + size])
        at += size
    return sep.join(p for p in parts if p)


def _d(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(n))


def _emails(rng: random.Random) -> list[str]:
    out = []
    for _ in range(6):
        first, last = rng.choice(FIRST), rng.choice(LAST).replace(" ", "").replace("'", "")
        local = rng.choice(
            [f"{first}.{last}", f"{first[0]}{last}{rng.randrange(99)}", f"{first}+orders", f"{last}_{first}"]
        )
        out.append(
            f"{local}@{rng.choice(DOMAINS)}".lower() if rng.random() < 0.7 else f"{local}@{rng.choice(DOMAINS)}".upper()
        )
    out += UNICODE_EMAILS
    out += ["sam dot kelly at gmail dot com", "priya(at)outlook(dot)com", "tomas [at] web [dot] de"]
    return out


def _phones(rng: random.Random) -> list[str]:
    return [
        f"07{_d(rng, 3)} {_d(rng, 6)}",
        f"+44 7{_d(rng, 3)} {_d(rng, 3)} {_d(rng, 3)}",
        f"020 7{_d(rng, 3)} {_d(rng, 4)}",
        f"0044 161 {_d(rng, 3)} {_d(rng, 4)}",
        f"(212) 555-{_d(rng, 4)}",
        f"+1 415-555-{_d(rng, 4)}",
        f"646.555.{_d(rng, 4)}",
        f"+49 30 {_d(rng, 7)}",
        f"030 {_d(rng, 7)}",
        f"+33 6 {_d(rng, 2)} {_d(rng, 2)} {_d(rng, 2)} {_d(rng, 2)}",
        f"01 42 {_d(rng, 2)} {_d(rng, 2)} {_d(rng, 2)}",
        f"+31 20 {_d(rng, 3)} {_d(rng, 4)}",
        f"087 {_d(rng, 3)} {_d(rng, 4)}",
        f"+353 87 {_d(rng, 3)} {_d(rng, 4)}",
        f"+34 612 {_d(rng, 3)} {_d(rng, 3)}",
        f"+39 06 {_d(rng, 4)} {_d(rng, 4)}",
        f"+447{_d(rng, 9)}",
    ]


def _cards(rng: random.Random) -> list[str]:
    out = []
    for prefix, length, sizes in (("4", 16, (4, 4, 4, 4)), ("5", 16, (4, 4, 4, 4)), ("37", 15, (4, 6, 5))):
        digits = _luhn_complete(prefix, length, rng)
        out += [_group(digits, sizes, sep) for sep in (" ", "-", ".")] + [digits]
    out.append("4111.1111.1111.1111")
    return out


POSTCODES = [
    "SW1A 1AA", "m1 1ae", "EH1 2NG", "B15 2FA", "BT1 5GS", "CF10 1EP", "G12 7PL", "W1D 4FA",
    "75008", "10115", "28013", "00184", "94103", "10001-1234", "1012 AB", "3011AB", "D02 X285",
    "K1A 0B1", "M5V 3L9", "A65 F4E2",
]  # fmt: skip
ADDRESSES = [
    "12 Baker Street", "221B Baker St.", "4 Elm Grove", "1600 Pennsylvania Avenue NW", "350 Fifth Ave",
    "12 rue de Rivoli", "5 avenue des Champs-Élysées", "Hauptstraße 5", "Keizersgracht 123", "Calle Mayor 5",
    "Via Roma 10", "Flat 3", "Apt 4B", "PO Box 1234", "77 Mill Lane", "9 Station Road", "Kastanienallee 12",
]  # fmt: skip
TRACKING = ["AB123456789GB", "RN987654321GB", "1Z999AA10123456784", "LX123456789DE"]

TEMPLATES: dict[str, list[str]] = {
    "email": [
        "my email is {}", "it's {}", "{}", "I ordered with {} I think", "send it to {} please",
        "Email: {}", "can you use {} instead of my old one", "ich habe mit {} bestellt",
    ],
    "phone": [
        "call me on {}", "my number is {}", "{}", "ring me at {} after 5pm", "mobile: {}", "you can text {}",
        "mon numéro est le {}",
    ],
    "card": ["my card {} was charged twice", "card number {}", "I paid with {}", "{} expired last month"],
    "bank": ["refund it to {} please", "my IBAN is {}", "bank details: {}"],
    "postcode": ["my postcode is {}", "{}", "zip code {}", "the delivery postcode is {} I think", "PLZ {}"],
    "street": ["I live at {}", "deliver to {} please", "my address is {}, London", "ship it to {}", "{}"],
    "tracking": ["tracking number {}", "the parcel {} hasn't moved", "{}", "where is {}"],
    "name": [
        "Thanks, {}", "billed to {}", "my name is {}", "this is {} again", "Hi, it's {} here", "Regards, {}",
        "the order is in the name of {}", "{} here, where is my parcel", "Dear {},",
    ],
}  # fmt: skip

ORDINARY = [
    "where is my order ORD-{n}?", "order #{n} hasn't arrived", "ord{n} is late", "refund for RMA-{r} please",
    "I paid £{a} for order {n}", "it cost €{a} and shipping was £3.99", "can I return 2 of the 3 items?",
    "what's your return policy for items bought on 12/03/2025?", "delivery to Germany for an order of £{a}",
    "do you have the Peptide Eye Cream in stock in Manchester?", "I'd like a gift for my sister under 30",
    "order {n} was delivered on 2025-03-04 at 14:05", "the Hydrating Serum 50ml is out of stock",
    "Thanks for your help!", "Hi there, I need help with a return", "This is urgent, order ORD-{n} is lost",
    "my order number is {n}", "I bought 12 lipsticks and 3 mascaras", "version 2.0 of the app crashes",
    "Brown leather wash bag, is it still available?", "the Rose Gold Highlighter arrived broken",
    "I ordered the Vitamin C 20% Serum, 30 ml", "from Amazon I get it in 2 days", "Dear Sir or Madam,",
    "is free shipping over £50 or £75?", "RMA {r} status", "return label for ord-{n}", "call me back please",
]  # fmt: skip


def generate_pii(names: Iterable[str], seed: int = 7) -> list[PiiItem]:
    """Personal data in varied formats, each embedded in a message, from a fixed seed.

    Args:
        names: full names of the shop's customers ("Noah Schmidt"); some are used whole, some by first name.
        seed: the random seed.

    Returns:
        One item per (value, message).
    """
    rng = random.Random(seed)
    names = list(names)
    values: dict[str, list[str]] = {
        "email": _emails(rng),
        "phone": _phones(rng),
        "card": _cards(rng),
        "postcode": POSTCODES,
        "street": ADDRESSES,
        "bank": [
            "GB29 NWBK 6016 1331 9268 19",
            "DE89370400440532013000",
            "FR76 3000 6000 0112 3456 7890 189",
            "20-00-00 12345678",
        ],
        "tracking": TRACKING + [_d(rng, 14) for _ in range(2)] + [f"1Z{_d(rng, 16)}"],
        "name": [n for n in rng.sample(names, min(10, len(names)))]
        + [n.split()[0] for n in rng.sample(names, min(6, len(names)))]
        + [f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(4)],
    }
    items = []
    for kind, found in values.items():
        for value in found:
            for template in rng.sample(TEMPLATES[kind], min(3, len(TEMPLATES[kind]))):
                if kind == "name" and template.startswith("{}") and rng.random() < 0.5:
                    value_shown = value
                else:
                    value_shown = value.lower() if kind == "name" and "this is" in template else value
                items.append(PiiItem(kind, value_shown, template.format(value_shown)))
    return items


# NLU examples that are personal data although their annotations do not say so (no entity for names,
# phones or streets): measured as personal data, not as ordinary text.
UNANNOTATED_PII = {
    "my name is Sarah Jones": ("name", "Sarah Jones"),
    "my phone number is 07700 900123": ("phone", "07700 900123"),
    "230 Queen St W, Toronto": ("street", "230 Queen St W"),
    "Rue Neuve 1, Brussels, Belgium": ("street", "Rue Neuve 1"),
}
HELD_OUT = sorted((NLU_DIR.parent.parent / "tests" / "nlu").glob("test_messages*.yml"))


def ordinary_messages(
    seed: int = 7, files: Iterable[Path] | None = None, *, generated: bool = True
) -> tuple[list[str], list[PiiItem]]:
    """Messages without personal data (generated and from NLU files), and the files' annotated personal data.

    Args:
        seed: the random seed of the generated messages.
        files: NLU YAML files (default: the training data, nlu_data/nlu/*.yml).
        generated: include the generated support questions.

    Returns:
        The ordinary messages, and the examples' emails, postcodes and tracking numbers as more recall items.
    """
    rng = random.Random(seed)
    ordinary = [
        t.format(
            n=rng.randrange(100001, 100300), r=rng.randrange(500001, 500300), a=f"{rng.randrange(5, 400)}.{_d(rng, 2)}"
        )
        for t in (ORDINARY if generated else [])
        for _ in range(3)
    ]
    pii: list[PiiItem] = []
    for path in sorted(NLU_DIR.glob("*.yml")) if files is None else files:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu", []):
            if "intent" not in block or not isinstance(block.get("examples"), str):
                continue
            for line in block["examples"].splitlines():
                line = line.strip()
                if not line.startswith("- "):
                    continue
                raw = line[2:]
                found = [(m.group(1) or m.group(3), m.group(2)) for m in _ANNOTATION.finditer(raw)]
                text = _ANNOTATION.sub(lambda m: m.group(1) or m.group(3), raw)
                personal = [(value, entity) for value, entity in found if entity in PII_ENTITIES]
                if personal:
                    kinds = {"email": "email", "postcode": "postcode", "tracking_number": "tracking"}
                    pii += [PiiItem(kinds[entity], value, text) for value, entity in personal]
                elif any(entity in PERSONAL_ENTITIES for _value, entity in found):
                    continue
                elif text in UNANNOTATED_PII:
                    kind, value = UNANNOTATED_PII[text]
                    pii.append(PiiItem(kind, value, text))
                else:
                    ordinary.append(text)
    return ordinary, pii


def _tokens(value: str) -> list[str]:
    return [t for t in re.findall(r"\w+", value.casefold()) if t not in _GENERIC and (len(t) >= 2 or t.isdigit())]


def leaked(item: PiiItem, output: str) -> bool:
    """Whether any distinctive part of ``item`` survives in the redacted ``output``.

    Digits are compared as runs (a phone number's last 7 digits left is a leak), words as whole words.
    """
    digits = re.sub(r"\D", "", item.value)
    out_digits = re.sub(r"\D", "", output)
    if len(digits) >= 5 and any(digits[i : i + 5] in out_digits for i in range(len(digits) - 4)):
        return True
    words = set(re.findall(r"\w+", output.casefold()))
    return any(t in words for t in _tokens(item.value) if not t.isdigit() or len(digits) < 5)


def score(
    redact: Callable[[str], str],
    pii: Sequence[PiiItem],
    ordinary: Sequence[str],
) -> RedactionScore:
    """Run ``redact`` over the items and the ordinary messages and count.

    Args:
        redact: the redaction function (``console.redact.redact`` or a Redactor's method).
        pii: personal data items (:func:`generate_pii`, plus the NLU data's).
        ordinary: messages with no personal data.

    Returns:
        The score, with the misses and wrongly changed messages for a report.
    """
    result = RedactionScore()
    labels = tuple(LABELS.values())
    # six digits standing for an order/RMA; not the last group of a phone number ("07700 900123"), which is redacted
    order_re = re.compile(r"(?<!\d )\b(?:ORD-?|RMA-?|#)?\d{6}\b", re.IGNORECASE)
    for item in pii:
        output = redact(item.message)
        ok = not leaked(item, output)
        result.items += 1
        result.redacted += ok
        done, total = result.by_kind.get(item.kind, (0, 0))
        result.by_kind[item.kind] = (done + ok, total + 1)
        if not ok:
            result.missed.append(item)
    for message in ordinary:
        output = redact(message)
        result.ordinary_messages += 1
        wrong = sum(output.count(label) for label in labels)
        if wrong:
            result.ordinary_changed += 1
            result.false_positives += wrong
            result.changed.append((message, output))
        for number in order_re.findall(message):
            result.order_numbers += 1
            result.order_numbers_kept += number in output
    return result
