"""Deterministic demo shop (catalogue, customers, 300 orders in every status) for `python -m store seed`."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from store import models as m
from store.policy import EU_COUNTRIES

# --------------------------------------------------------------------------------------------- catalogue

_CATEGORIES: list[dict[str, Any]] = [
    {
        "name": "Skincare",
        "prefix": "SKN",
        "count": 50,
        "brands": [
            "Lumière Botanics",
            "Northshore Skin",
            "Dermavita",
            "Oakhaven Apothecary",
            "Pure Ritual",
            "Kinfolk Skin",
        ],
        "types": [
            (
                "Gentle Foaming Cleanser",
                1200,
                1800,
                "150 ml",
                "A soap-free gel cleanser that lifts make-up and SPF without stripping the skin.",
            ),
            (
                "Hyaluronic Acid Hydrating Serum",
                2200,
                3500,
                "30 ml",
                "Three weights of hyaluronic acid plump and hydrate every layer of the skin.",
            ),
            (
                "Vitamin C Brightening Serum",
                2400,
                3800,
                "30 ml",
                "15% stabilised vitamin C with ferulic acid to even tone and boost radiance.",
            ),
            (
                "Retinol Night Cream",
                2800,
                4200,
                "50 ml",
                "Encapsulated 0.3% retinol smooths fine lines overnight with minimal irritation.",
            ),
            (
                "SPF 50 Daily Moisturiser",
                1800,
                2600,
                "50 ml",
                "Lightweight broad-spectrum protection that sits invisibly under make-up.",
            ),
            (
                "Rose Water Toner",
                1000,
                1600,
                "200 ml",
                "Alcohol-free Damask rose water to soothe and refresh after cleansing.",
            ),
            (
                "Overnight Repair Mask",
                2500,
                3400,
                "75 ml",
                "A rich sleeping mask with ceramides and peptides for tired, dry skin.",
            ),
            (
                "Niacinamide 10% Serum",
                1200,
                2000,
                "30 ml",
                "Refines pores and balances oil with 10% niacinamide and 1% zinc.",
            ),
            ("Caffeine Eye Cream", 1800, 2800, "15 ml", "Caffeine and vitamin K reduce puffiness and dark circles."),
            (
                "AHA Exfoliating Toner",
                1500,
                2400,
                "150 ml",
                "Glycolic and lactic acids gently resurface for smoother, brighter skin.",
            ),
            (
                "Pink Clay Detox Mask",
                1400,
                2200,
                "75 ml",
                "Kaolin and French pink clay draw out impurities without drying.",
            ),
            (
                "Barrier Repair Moisturiser",
                1900,
                2900,
                "50 ml",
                "Ceramides, cholesterol and fatty acids restore a compromised skin barrier.",
            ),
            (
                "Micellar Cleansing Water",
                800,
                1400,
                "400 ml",
                "No-rinse micellar water that removes waterproof make-up.",
            ),
            (
                "Squalane Facial Oil",
                2000,
                3200,
                "30 ml",
                "Plant-derived squalane for weightless, non-comedogenic nourishment.",
            ),
        ],
        "attrs": lambda rng: {
            "skin_type": rng.choice(["all", "dry", "oily", "combination", "sensitive"]),
            "vegan": rng.random() < 0.6,
            "fragrance_free": rng.random() < 0.5,
        },
    },
    {
        "name": "Makeup",
        "prefix": "MKP",
        "count": 45,
        "brands": ["Velvet & Vine", "Studio Nine", "Maison Coco", "Glow Theory", "Kindred Colour"],
        "types": [
            (
                "Matte Liquid Lipstick",
                1400,
                2200,
                "6 ml",
                "Transfer-resistant colour with a soft, comfortable matte finish.",
            ),
            ("Satin Lipstick", 1600, 2600, "3.5 g", "Creamy, hydrating colour with a satin sheen."),
            ("Long-Wear Foundation", 2400, 3800, "30 ml", "Medium-to-full coverage that lasts 24 hours, in 40 shades."),
            ("Radiant Skin Tint", 2000, 3000, "30 ml", "Sheer, dewy coverage with hyaluronic acid and SPF 20."),
            ("Volumising Mascara", 1200, 2400, "10 ml", "A buildable formula for dramatic volume without clumps."),
            (
                "Waterproof Gel Eyeliner",
                1000,
                1800,
                "0.35 g",
                "Smudge-proof gel pencil that glides on and sets in seconds.",
            ),
            ("Precision Brow Pencil", 1000, 1700, "0.09 g", "An ultra-fine tip draws hair-like strokes."),
            (
                "Warm Neutrals Eyeshadow Palette",
                2800,
                4800,
                "12 x 1 g",
                "Twelve mattes and shimmers in wearable warm tones.",
            ),
            ("Cream Blush", 1400, 2400, "5 g", "Blendable cream colour for a fresh, natural flush."),
            ("Highlighter Stick", 1600, 2600, "4 g", "A glassy glow for cheekbones, brow bones and the cupid's bow."),
            (
                "Translucent Setting Powder",
                1800,
                3000,
                "10 g",
                "Finely milled powder that blurs and sets make-up all day.",
            ),
            ("Full Coverage Concealer", 1400, 2400, "6 ml", "Crease-proof coverage for dark circles and blemishes."),
            ("Lip Liner", 900, 1500, "1.2 g", "Defines and shapes lips and stops lipstick feathering."),
            ("Sun-Kissed Bronzer", 1800, 3000, "9 g", "A soft-focus matte bronzer for natural warmth."),
        ],
        "attrs": lambda rng: {
            "shade": rng.choice(
                [
                    "Rosewood",
                    "Nude Beige",
                    "Berry",
                    "Coral",
                    "Warm Sand",
                    "Deep Espresso",
                    "Fair Ivory",
                    "Golden Tan",
                    "Cherry Red",
                ]
            ),
            "vegan": rng.random() < 0.5,
        },
    },
    {
        "name": "Haircare",
        "prefix": "HAR",
        "count": 35,
        "brands": ["Crown & Root", "Aqua Mane", "Wildbloom Hair", "Atelier Curl", "Fenwick Grooming"],
        "types": [
            ("Bond Repair Shampoo", 1400, 2400, "250 ml", "Rebuilds broken bonds in damaged and coloured hair."),
            ("Deep Moisture Conditioner", 1400, 2400, "250 ml", "Shea and argan oil detangle and soften dry hair."),
            ("Curl Defining Cream", 1600, 2400, "150 ml", "Defines curls and coils with a soft, frizz-free hold."),
            ("Argan Hair Oil", 1800, 3200, "100 ml", "Cold-pressed argan oil for shine and split-end protection."),
            ("Volumising Dry Shampoo", 800, 1400, "200 ml", "Absorbs oil and adds lift between washes, no white cast."),
            ("Heat Protect Spray", 1200, 2000, "200 ml", "Protects against styling heat up to 230°C."),
            (
                "Intensive Repair Hair Mask",
                1800,
                2800,
                "200 ml",
                "A weekly treatment for brittle, over-processed hair.",
            ),
            (
                "Exfoliating Scalp Scrub",
                1600,
                2600,
                "200 ml",
                "Sea salt and salicylic acid clear build-up from the scalp.",
            ),
            ("Volumising Mousse", 1000, 1800, "200 ml", "Weightless body and bounce for fine hair."),
            ("Leave-In Conditioner", 1200, 2000, "150 ml", "Detangles and hydrates without weighing hair down."),
        ],
        "attrs": lambda rng: {
            "hair_type": rng.choice(["all", "curly", "fine", "coloured", "dry"]),
            "sulphate_free": rng.random() < 0.7,
        },
    },
    {
        "name": "Fragrance",
        "prefix": "FRG",
        "count": 30,
        "brands": ["Maison Verrier", "Atlas Perfumery", "Juniper & Ash", "Solstice Parfums", "Ébène"],
        "types": [
            (
                "Amber Nights Eau de Parfum",
                5500,
                9500,
                "50 ml",
                "Warm amber, labdanum and vanilla with a smoky cedar base.",
            ),
            (
                "Citrus Grove Eau de Toilette",
                3800,
                6500,
                "100 ml",
                "Bergamot, bitter orange and petitgrain over white musk.",
            ),
            ("Velvet Rose Eau de Parfum", 5800, 9800, "50 ml", "Turkish rose and raspberry on a patchouli heart."),
            (
                "Cedar & Sage Eau de Parfum",
                5200,
                8800,
                "50 ml",
                "Clary sage, Atlas cedar and vetiver: green and woody.",
            ),
            ("Sea Salt & Neroli Cologne", 3500, 6000, "100 ml", "Bright neroli, sea salt accord and driftwood."),
            ("Vanilla Orchid Body Mist", 1800, 2800, "150 ml", "A light, sweet mist of vanilla orchid and tonka."),
            ("Oud Noir Parfum", 8500, 14500, "50 ml", "Rich oud, saffron and leather for evening."),
            ("Fig Leaf Eau de Toilette", 4200, 7000, "100 ml", "Green fig leaf, coconut milk and cedarwood."),
        ],
        "attrs": lambda rng: {
            "family": rng.choice(["woody", "floral", "fresh", "oriental", "gourmand"]),
            "concentration": rng.choice(["EDP", "EDT", "Parfum"]),
        },
    },
    {
        "name": "Bath & Body",
        "prefix": "BTH",
        "count": 25,
        "brands": ["Meadow & Marsh", "Hearth Botanicals", "Little Harbour", "Tidewell Bath Co."],
        "types": [
            ("Lavender Body Wash", 900, 1600, "300 ml", "A gentle, creamy wash scented with English lavender."),
            ("Shea Body Butter", 1400, 2400, "200 ml", "Whipped shea and cocoa butter for very dry skin."),
            ("Dead Sea Bath Salts", 1200, 2000, "500 g", "Mineral-rich salts to soothe tired muscles."),
            ("Rich Hand Cream", 800, 1400, "75 ml", "Non-greasy hand cream with glycerin and almond oil."),
            ("Coffee Body Scrub", 1200, 2000, "250 g", "Arabica coffee and sugar exfoliate and smooth."),
            ("Relaxing Bath Oil", 1600, 2600, "100 ml", "Chamomile and ylang-ylang oil that softens bath water."),
            ("Citrus Shower Gel", 800, 1400, "300 ml", "An energising gel with grapefruit and lime."),
            ("Firming Body Lotion", 1400, 2400, "250 ml", "Caffeine and peptides for smoother-looking skin."),
        ],
        "attrs": lambda rng: {
            "scent": rng.choice(["lavender", "citrus", "unscented", "rose", "coconut", "eucalyptus"]),
            "vegan": rng.random() < 0.7,
        },
    },
    {
        "name": "Tools & Accessories",
        "prefix": "TLS",
        "count": 22,
        "brands": ["Studio Nine", "Oakhaven Apothecary", "ProGlow", "Kindred Colour"],
        "types": [
            ("Foundation Brush", 1200, 2200, "1 piece", "Dense synthetic bristles for a flawless, streak-free finish."),
            ("Blending Sponge Duo", 800, 1400, "2 pieces", "Latex-free sponges for seamless blending, wet or dry."),
            ("Jade Facial Roller", 1800, 2800, "1 piece", "Cooling jade roller to de-puff and help serums absorb."),
            ("Rose Quartz Gua Sha", 1600, 2600, "1 piece", "A sculpting stone for lymphatic facial massage."),
            ("Slanted Tweezers", 900, 1600, "1 piece", "Precision stainless-steel tweezers for brows."),
            ("Detangling Hair Brush", 1000, 1800, "1 piece", "Flexible bristles glide through wet and dry hair."),
            (
                "Silk Scrunchies Set of 3",
                1500,
                2400,
                "3 pieces",
                "Mulberry silk scrunchies that prevent creases and breakage.",
            ),
            ("Quilted Makeup Bag", 1800, 3000, "1 piece", "Wipe-clean quilted bag with a zipped inner pocket."),
            ("Eyelash Curler", 900, 1800, "1 piece", "Curves lashes without pinching; includes a spare pad."),
            ("Heated Styling Brush", 4500, 7500, "1 piece", "Dries and smooths in one step with ionic technology."),
            ("LED Vanity Mirror", 3500, 5500, "1 piece", "Dimmable daylight LED mirror with 10x magnification."),
            (
                "12-Piece Makeup Brush Set",
                3000,
                5200,
                "12 pieces",
                "Every face and eye brush you need, in a vegan leather roll.",
            ),
        ],
        "attrs": lambda rng: {
            "material": rng.choice(["synthetic", "stainless steel", "silk", "jade", "rose quartz", "ABS"])
        },
    },
]
_GIFT_CARDS = [
    ("Gift Card £10", 1000, "Physical gift card in a presentation envelope."),
    ("Gift Card £25", 2500, "Physical gift card in a presentation envelope."),
    ("Gift Card £50", 5000, "Physical gift card in a presentation envelope."),
    ("Gift Card £100", 10000, "Physical gift card in a presentation envelope."),
    ("E-Gift Card £25", 2500, "Emailed instantly; valid for 2 years."),
    ("E-Gift Card £50", 5000, "Emailed instantly; valid for 2 years."),
]
_CLEARANCE_COUNT = 14

# --------------------------------------------------------------------------------------------- people

_FIRST_NAMES = [
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Mia",
    "Sophie",
    "Grace",
    "Freya",
    "Emily",
    "Chloe",
    "Hannah",
    "Lucy",
    "Aisha",
    "Priya",
    "Zara",
    "Leah",
    "Ruby",
    "Ella",
    "Charlotte",
    "Noah",
    "Oliver",
    "George",
    "Arthur",
    "Harry",
    "Jack",
    "Leo",
    "Oscar",
    "James",
    "Liam",
    "Sam",
    "Lena",
    "Marie",
    "Julia",
    "Anna",
    "Sofia",
    "Camille",
    "Léa",
    "Manon",
    "Sanne",
    "Femke",
    "Niamh",
    "Aoife",
    "Madison",
    "Emma",
    "Chen",
    "Yuki",
    "Thomas",
    "Daniel",
    "Ethan",
    "Mohammed",
    "Ibrahim",
    "Rory",
    "Callum",
    "Finn",
    "Ciara",
    "Eilidh",
    "Megan",
    "Poppy",
    "Imogen",
    "Harriet",
    "Jasmine",
    "Nadia",
    "Fatima",
    "Kiran",
    "Rohan",
    "Anika",
    "Lukas",
    "Jonas",
    "Felix",
    "Mila",
    "Hugo",
    "Louis",
    "Chloé",
    "Inès",
    "Daan",
    "Lotte",
    "Sean",
    "Cian",
    "Tyler",
    "Hailey",
    "Brooke",
    "Mateo",
    "Lucas",
    "Ayesha",
    "Sakura",
    "Wei",
]
_LAST_NAMES = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "Khan",
    "Hughes",
    "Edwards",
    "Green",
    "Hall",
    "Wood",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Martin",
    "Bernard",
    "Dubois",
    "Moreau",
    "de Vries",
    "Jansen",
    "Bakker",
    "Murphy",
    "Kelly",
    "O'Brien",
    "Walsh",
    "Miller",
    "Garcia",
    "Anderson",
    "Tremblay",
    "Roy",
    "Nguyen",
    "Lee",
    "Clarke",
    "Turner",
    "Harris",
    "Cooper",
    "Ward",
    "Morris",
    "King",
    "Baker",
    "Campbell",
    "Stewart",
    "MacDonald",
    "Fraser",
    "Ali",
    "Hussain",
    "Shah",
    "Begum",
    "Ahmed",
    "Sharma",
    "Weber",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Petit",
    "Durand",
    "Leroy",
    "Visser",
    "Smit",
    "Byrne",
    "Ryan",
    "Doyle",
    "Lopez",
    "Clark",
    "Lewis",
    "Young",
    "Gagnon",
    "Wong",
    "Chen",
    "Kim",
    "Singh",
    "Okafor",
]
_UK_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


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


# Realistic variety (issue 8): a few hundred customers in many postal districts, each with an address of
# their own, so the handful printed by `python -m store demo-cases` says nothing about anyone else's orders.
# Outward codes of real UK postal districts by town: (prefix, first, last) ranges plus named ones.
_GB_DISTRICTS: dict[str, list[str]] = {
    "London": [
        f"{p}{n}"
        for p, a, b in (("E", 1, 18), ("N", 1, 22), ("NW", 1, 11), ("SE", 1, 28), ("SW", 2, 20), ("W", 2, 14))
        for n in range(a, b + 1)
    ]
    + ["EC1V", "EC2A", "WC1N", "WC2H", "SW1A", "SW1V", "W1F", "W1T"],
    "Manchester": [f"M{n}" for n in range(1, 46)],
    "Leeds": [f"LS{n}" for n in range(1, 30)],
    "Bristol": [f"BS{n}" for n in range(1, 17)],
    "Edinburgh": [f"EH{n}" for n in range(1, 18)],
    "Birmingham": [f"B{n}" for n in range(1, 49)],
    "Glasgow": [f"G{n}" for n in range(1, 54)],
    "Cardiff": [f"CF{n}" for n in range(10, 25)],
    "Brighton": ["BN1", "BN2", "BN3", "BN41"],
    "Liverpool": [f"L{n}" for n in range(1, 39)],
    "Sheffield": [f"S{n}" for n in range(1, 21)],
    "Newcastle upon Tyne": [f"NE{n}" for n in range(1, 16)],
    "Nottingham": [f"NG{n}" for n in range(1, 12)],
    "Oxford": ["OX1", "OX2", "OX3", "OX4"],
    "Cambridge": ["CB1", "CB2", "CB3", "CB4", "CB5"],
    "York": ["YO1", "YO10", "YO23", "YO24", "YO26", "YO30", "YO31"],
    "Bath": ["BA1", "BA2"],
    "Norwich": [f"NR{n}" for n in range(1, 8)],
    "Belfast": [f"BT{n}" for n in range(1, 18)],
    "Aberdeen": [f"AB{n}" for n in range(10, 26)],
    "Leicester": [f"LE{n}" for n in range(1, 6)],
    "Southampton": [f"SO{n}" for n in range(14, 20)],
    "Exeter": ["EX1", "EX2", "EX4"],
}
#: Rough share of the UK customers per town (London largest).
_GB_TOWN_WEIGHTS = {"London": 30, "Manchester": 7, "Birmingham": 7, "Glasgow": 5, "Leeds": 5, "Liverpool": 4}


def _gb_city(rng: random.Random) -> tuple[str, Callable[[random.Random], str]]:
    towns = list(_GB_DISTRICTS)
    city = rng.choices(towns, weights=[_GB_TOWN_WEIGHTS.get(t, 2) for t in towns])[0]
    return city, lambda r: _uk_postcode(r, r.choice(_GB_DISTRICTS[city]))


def _cities(*entries: tuple[str, Callable[[random.Random], str]]) -> Callable[[random.Random], tuple[str, Any]]:
    return lambda rng: rng.choice(entries)


_GB_STREETS = [
    "High Street",
    "Church Road",
    "Station Road",
    "Victoria Road",
    "Park Lane",
    "Queen Street",
    "Mill Lane",
    "King's Road",
    "Albert Street",
    "Grove Road",
    "Manor Road",
    "The Crescent",
    "Springfield Road",
    "Orchard Close",
    "Windsor Avenue",
    "Chapel Street",
]
# country -> (customers, city picker giving (city, postcode maker), streets, street format)
_CUSTOMER_PLAN: list[tuple[str, int, Callable[[random.Random], tuple[str, Any]], list[str], str]] = [
    ("GB", 132, _gb_city, _GB_STREETS, "{n} {street}"),
    (
        "DE",
        24,
        _cities(
            ("Berlin", lambda r: str(r.randint(10115, 14199))),
            ("München", lambda r: str(r.randint(80331, 81929))),
            ("Hamburg", lambda r: str(r.randint(20095, 22769))),
            ("Köln", lambda r: str(r.randint(50667, 51149))),
            ("Frankfurt am Main", lambda r: str(r.randint(60306, 60599))),
            ("Leipzig", lambda r: str(r.randint(4103, 4357)).zfill(5)),
        ),
        ["Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schillerstraße", "Lindenallee", "Goethestraße"],
        "{street} {n}",
    ),
    (
        "FR",
        22,
        _cities(
            ("Paris", lambda r: f"750{r.randint(1, 20):02d}"),
            ("Lyon", lambda r: f"6900{r.randint(1, 9)}"),
            ("Marseille", lambda r: f"130{r.randint(1, 16):02d}"),
            ("Bordeaux", lambda r: r.choice(["33000", "33100", "33200", "33300", "33800"])),
            ("Toulouse", lambda r: r.choice(["31000", "31100", "31200", "31300", "31400", "31500"])),
            ("Lille", lambda r: r.choice(["59000", "59160", "59260", "59777", "59800"])),
            ("Nantes", lambda r: r.choice(["44000", "44100", "44200", "44300"])),
        ),
        ["Rue de la Paix", "Avenue Victor Hugo", "Rue du Commerce", "Boulevard Voltaire", "Rue Nationale"],
        "{n} {street}",
    ),
    (
        "NL",
        14,
        _cities(
            ("Amsterdam", lambda r: _nl_postcode(r, 1011, 1109)),
            ("Rotterdam", lambda r: _nl_postcode(r, 3011, 3089)),
            ("Utrecht", lambda r: _nl_postcode(r, 3511, 3585)),
            ("Den Haag", lambda r: _nl_postcode(r, 2491, 2599)),
        ),
        ["Prinsengracht", "Keizersgracht", "Oudegracht", "Witte de Withstraat", "Kerkstraat"],
        "{street} {n}",
    ),
    (
        "IE",
        14,
        _cities(
            ("Dublin", lambda r: _eircode(r, r.choice(["D01", "D02", "D04", "D06", "D07", "D08", "D12", "D24"]))),
            ("Cork", lambda r: _eircode(r, "T12")),
            ("Galway", lambda r: _eircode(r, "H91")),
            ("Limerick", lambda r: _eircode(r, "V94")),
        ),
        ["Main Street", "Grafton Street", "Patrick Street", "Shop Street", "O'Connell Street"],
        "{n} {street}",
    ),
    (
        "US",
        18,
        _cities(
            ("New York, NY", lambda r: f"{r.randint(10001, 10282)}"),
            ("Chicago, IL", lambda r: f"{r.randint(60601, 60661)}"),
            ("Los Angeles, CA", lambda r: f"{r.randint(90001, 90089)}"),
            ("Austin, TX", lambda r: f"{r.randint(78701, 78759)}"),
            ("Seattle, WA", lambda r: f"{r.randint(98101, 98199)}"),
            ("Boston, MA", lambda r: f"0{r.randint(2108, 2137)}"),
        ),
        ["Fifth Avenue", "Main Street", "Oak Street", "Maple Avenue", "Sunset Boulevard", "Elm Street"],
        "{n} {street}",
    ),
    (
        "CA",
        10,
        _cities(
            ("Toronto, ON", lambda r: _ca_postcode(r, r.choice(["M5V", "M4Y", "M6J", "M5A", "M4C", "M6G"]))),
            ("Vancouver, BC", lambda r: _ca_postcode(r, r.choice(["V6B", "V5K", "V6K", "V5L"]))),
            ("Montréal, QC", lambda r: _ca_postcode(r, r.choice(["H2X", "H3A", "H2T", "H2J"]))),
        ),
        ["King Street West", "Queen Street", "Robson Street", "Rue Sainte-Catherine"],
        "{n} {street}",
    ),
    (
        "AU",
        8,
        _cities(
            ("Sydney NSW", lambda r: str(r.randint(2000, 2234))),
            ("Melbourne VIC", lambda r: str(r.randint(3000, 3207))),
            ("Brisbane QLD", lambda r: str(r.randint(4000, 4179))),
        ),
        ["George Street", "Collins Street", "Queen Street", "Bourke Street"],
        "{n} {street}",
    ),
]
#: Mail domains of the demo customers (all under the reserved example.* names), with how common each is.
_EMAIL_DOMAINS = {
    "example.com": 24,
    "mail.example.com": 14,
    "example.net": 12,
    "example.org": 10,
    "post.example.org": 8,
    "inbox.example.net": 8,
    "home.example.com": 6,
    "web.example.net": 5,
    "posteo.example.org": 4,
    "me.example.com": 4,
}
#: Share of orders sent somewhere else than the customer's own address (gifts, work).
_GIFT_SHARE = 0.05
# --------------------------------------------------------------------------------------------- shipping

_ZONES: list[dict[str, Any]] = [
    {
        "code": "UK",
        "name": "United Kingdom",
        "countries": ["GB", "IM", "JE", "GG"],
        "fallback": False,
        "methods": [
            ("standard", "Royal Mail Tracked 48", 395, 4000, 2, 3),
            ("express", "Royal Mail Tracked 24", 595, 10000, 1, 2),
            ("next_day", "DPD Next Day", 795, None, 1, 1),
        ],
    },
    {
        "code": "EU",
        "name": "European Union",
        "countries": sorted(EU_COUNTRIES),
        "fallback": False,
        "methods": [
            ("standard", "EU Standard (DHL)", 795, 7500, 4, 7),
            ("express", "EU Express (DHL Express)", 1495, None, 2, 3),
        ],
    },
    {
        "code": "NA",
        "name": "US & Canada",
        "countries": ["CA", "US"],
        "fallback": False,
        "methods": [
            ("standard", "International Standard (UPS)", 1295, 12000, 6, 10),
            ("express", "UPS Worldwide Express", 2495, None, 3, 5),
        ],
    },
    {
        "code": "ROW",
        "name": "Rest of world",
        "countries": [],
        "fallback": True,
        "methods": [
            ("standard", "International Standard (DHL)", 1495, 15000, 7, 14),
            ("express", "DHL Express Worldwide", 2995, None, 4, 7),
        ],
    },
]
_ZONE_OF = {"GB": "UK", "DE": "EU", "FR": "EU", "NL": "EU", "IE": "EU", "US": "NA", "CA": "NA", "AU": "ROW"}

_STORES = [
    ("LDN-01", "Covent Garden", "London", "21 Long Acre", "WC2E 9LY", "Mon-Sat 10:00-20:00, Sun 12:00-18:00"),
    ("MAN-01", "King Street", "Manchester", "54 King Street", "M2 4LY", "Mon-Sat 09:30-19:00, Sun 11:00-17:00"),
    ("EDI-01", "George Street", "Edinburgh", "88 George Street", "EH2 3DF", "Mon-Sat 09:30-18:30, Sun 11:00-17:00"),
    (
        "BRS-01",
        "Cabot Circus",
        "Bristol",
        "12 Glass House, Cabot Circus",
        "BS1 3BX",
        "Mon-Sat 10:00-20:00, Sun 11:00-17:00",
    ),
]
#: Where each demo shop is (latitude, longitude), for "the nearest other shop that has it".
_STORE_COORDINATES = {
    "LDN-01": (51.5126, -0.1250),
    "MAN-01": (53.4810, -2.2446),
    "EDI-01": (55.9531, -3.1995),
    "BRS-01": (51.4584, -2.5850),
}


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
_FAILURE_REASONS = [
    "card declined by the issuing bank",
    "3-D Secure authentication was not completed",
    "insufficient funds",
    "card expired",
    "PayPal payment was not approved",
    "Klarna could not approve the instalment plan",
]
_RETURN_REASONS = [
    "wrong shade",
    "changed my mind",
    "arrived damaged",
    "did not suit my skin",
    "ordered the wrong size",
    "not as described",
    "allergic reaction",
]
_CARRIER_HUBS = {
    "Royal Mail": [
        "Northampton Mail Centre",
        "Warrington Mail Centre",
        "Heathrow Worldwide Distribution Centre",
        "Glasgow Mail Centre",
        "Bristol Mail Centre",
    ],
    "DPD": ["Hinckley Hub", "Birmingham Hub", "Oldbury Hub"],
    "DHL": ["East Midlands Hub", "Leipzig Hub", "Brussels Hub", "Cincinnati Hub", "Sydney Gateway"],
    "UPS": ["East Midlands", "Cologne/Bonn Air Hub", "Louisville Worldport", "Toronto Hub"],
}
_DELAY_REASONS = [
    "Delay: high parcel volumes at the sorting centre",
    "Delay: severe weather is disrupting deliveries",
    "Delay: vehicle breakdown, delivery rescheduled",
]
_CUSTOMS_DELAY = "Delay: held at customs awaiting clearance"


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
    domain = rng.choices(list(_EMAIL_DOMAINS), weights=list(_EMAIL_DOMAINS.values()))[0]
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


def _business_days_after(start: datetime, days: int) -> date:
    current = start.date()
    added = 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            added += 1
    return current


class _Seeder:
    """Builds the demo shop from one random generator so the same seed and anchor give the same rows."""

    def __init__(self, session: Session, seed: int, anchor: datetime, log: Callable[[str], None]) -> None:
        self.session = session
        self.seed = seed
        self.rng = random.Random(seed)
        # Who orders and where it goes: a generator of their own, so the order plan stays as it was.
        self.people_rng = random.Random(f"{seed}:orders-to")
        self.addresses: list[tuple[Callable[[random.Random], tuple[str, Any]], list[str], str]] = []
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
        for category in _CATEGORIES:
            combos = [(b, t) for t in category["types"] for b in category["brands"]]
            picked = rng.sample(combos, category["count"])
            picked.sort(key=lambda bt: (bt[1][0], bt[0]))
            for index, (brand, (kind, low, high, size, description)) in enumerate(picked, start=1):
                price = rng.randrange(low, high + 1, 50) - 1  # £xx.49 / £xx.99 style prices
                attrs = {"size": size, **category["attrs"](rng)}
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
        for index, (title, price, description) in enumerate(_GIFT_CARDS, start=1):
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
        stores = [
            m.PhysicalStore(
                id=i,
                name=n,
                city=c,
                address=a,
                postcode=p,
                opening_hours=h,
                latitude=_STORE_COORDINATES[i][0],
                longitude=_STORE_COORDINATES[i][1],
            )
            for i, n, c, a, p, h in _STORES
        ]
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
        for order, zone_data in enumerate(_ZONES):
            zone = m.ShippingZone(
                code=zone_data["code"], name=zone_data["name"], is_fallback=zone_data["fallback"], sort_order=order
            )
            zone.countries = [m.ShippingZoneCountry(country=c) for c in zone_data["countries"]]
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
        self.log(f"  {len(_ZONES)} shipping zones")

    def people(self) -> None:
        # Customers come from their own generator: the order plan's generator is shared by everything after.
        rng = random.Random(f"{self.seed}:people")
        emails: set[str] = set()
        for country, count, city_of, streets, fmt in _CUSTOMER_PLAN:
            for _ in range(count):
                first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
                city, postcode_maker = city_of(rng)
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
                self.addresses.append((city_of, streets, fmt))
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
        city_of, streets, fmt = self.addresses[self.customers.index(customer)]
        city, postcode_maker = city_of(rng)
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
        zone = _ZONE_OF[customer.country]
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
            order.payment_failure_reason = rng.choice(_FAILURE_REASONS)
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
        hubs = _CARRIER_HUBS[carrier]
        status = order.status
        placed = order.placed_at
        if status == "shipped":
            shipped_at = max(self.anchor - timedelta(hours=rng.uniform(2, 20)), placed + timedelta(hours=4))
        else:
            shipped_at = placed + timedelta(hours=rng.uniform(16, 30))
        shipped_at = shipped_at.replace(microsecond=0)
        eta = _business_days_after(shipped_at, method.max_days)
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
            reasons = _DELAY_REASONS + ([_CUSTOMS_DELAY] if zone != "UK" else [])
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
        reason = rng.choice(_RETURN_REASONS)
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
            completed_at = datetime.combine(_business_days_after(created, rng.randint(2, 7)), time(10, 0))
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
        stores=len(_STORES),
        zones=len(_ZONES),
        by_status=dict(sorted(by_status.items())),
    )
