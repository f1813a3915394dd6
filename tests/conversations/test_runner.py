"""The conversation runner's own rules (scripts/conversations.py): file checks, placeholders, verdicts, shop reset."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from connectors.dispatch import empty_turn_apology
from connectors.models import InboundMessage
from scripts.conversations import (
    ConversationFileError,
    Expect,
    Shop,
    changed_orders,
    check_turn,
    load_conversations,
    resolve,
)
from scripts.demo_stack import PYTHON, ROOT

CASES = {
    "in_transit": {"order_number": "ORD-100185", "order_digits": "100185", "carrier": "Royal Mail", "rma_number": None},
}
HERE = Path(__file__).parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yml"
    path.write_text(text)
    return path


def test_every_file_here_is_in_the_format() -> None:
    files = sorted(HERE.glob("*.yml"))
    assert files
    for path in files:
        conversations = load_conversations(path)
        assert conversations, path


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{}", "must be a list"),
        ("- {id: a, area: nowhere, turns: [{user: hi}]}", "unknown area"),
        ("- {id: a, area: tracking, channel: fax, turns: [{user: hi}]}", "unknown channel"),
        ("- {id: a, area: tracking, turns: []}", "no turns"),
        ("- {id: a, area: tracking, turns: [{user: hi, button: x}]}", "exactly one"),
        ("- {id: a, area: tracking, turns: [{user: hi, expect: {should: [x]}}]}", "unknown expectation"),
        ("- {id: a, area: tracking, turns: [{user: hi}]}\n- {id: a, area: tracking, turns: [{user: yo}]}", "duplicate"),
    ],
)
def test_malformed_files_are_refused_with_the_reason(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(ConversationFileError, match=error):
        load_conversations(write(tmp_path, text))


def test_placeholders_resolve_from_demo_cases_and_unknown_ones_are_errors() -> None:
    assert resolve("where is {in_transit.order_number} ({in_transit.order_digits})", CASES) == (
        "where is ORD-100185 (100185)"
    )
    with pytest.raises(ConversationFileError, match="unknown demo case"):
        resolve("{nowhere.order_number}", CASES)
    with pytest.raises(ConversationFileError, match="has no rma_number"):
        resolve("{in_transit.rma_number}", CASES)


def test_checks_alternatives_case_insensitively_and_sort_problems_by_kind() -> None:
    expect = Expect(
        must=["on its way | in transit", "{in_transit.carrier}"],
        must_not=["didn't quite understand", "lost"],
        never_disclose=["{in_transit.order_number}"],
        buttons=["person"],
    )
    ok = check_turn(expect, CASES, "It is IN TRANSIT with royal mail.", [{"title": "Talk to a person", "payload": ""}])
    assert ok == []
    bad = check_turn(expect, CASES, "Sorry, I didn't quite understand ORD-100185, it is lost", [])
    assert sorted(p.kind for p in bad) == ["button", "disclosure", "misread", "missing", "missing", "wrong"]
    assert [p.kind for p in check_turn(Expect(), CASES, "  ", [])] == ["silent"]
    apology = empty_turn_apology(InboundMessage("web", "abcdefgh", text="hi"))
    shown = [{"title": b.title, "payload": b.payload} for b in apology.buttons]
    assert [p.kind for p in check_turn(Expect(), CASES, apology.text or "", shown)] == ["silent"]
    # a button title is something the customer was shown
    assert check_turn(Expect(must=["person"]), CASES, "Anything else?", [{"title": "A person", "payload": ""}]) == []


def test_shop_state_sees_a_change_and_reset_puts_it_back(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    env = {"SHOP_DATABASE_URL": f"sqlite:///{db}", "PATH": "/usr/bin:/bin"}
    subprocess.run([str(PYTHON), "-m", "store", "setup"], cwd=ROOT, env=env, check=True, capture_output=True)
    shop = Shop(db)
    before = shop.state()
    with sqlite3.connect(db) as conn:
        number = conn.execute("SELECT number FROM orders WHERE status = 'placed' LIMIT 1").fetchone()[0]
        conn.execute("UPDATE orders SET status = 'cancelled' WHERE number = ?", (number,))
        conn.execute("UPDATE orders SET ship_postcode = 'NW1 6XE' WHERE number = 'ORD-100001'")
    assert changed_orders(before, shop.state()) == sorted({number, "ORD-100001"})
    shop.reset()
    assert changed_orders(before, shop.state()) == []
