"""Action failures end in a polite reply, and logs carry no personal data: logsafe and the real action server."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.orm import sessionmaker

import logsafe
from scripts.demo_stack import seed_demo_shop
from scripts.stack import ROOT
from store.db import make_engine
from store.service import OrderStore
from tests.action_server import running_action_server
from tests.actions.helpers import make_tracker

# --------------------------------------------------------------------------------------------- logsafe

ACTION_TOKEN = "action-server-token-for-the-log-tests-0123"  # noqa: S105 - a test secret


@pytest.fixture
def captured() -> Iterator[list[str]]:
    """Lines written by a handler created after logsafe.install(), on a logger that does not propagate."""
    logsafe.install(allow_personal_data=False)
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(f"{self.format(record)} {getattr(record, 'request', '')}")

    logger = logging.getLogger("tests.security.logs")
    handler = Collect()
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logsafe.install(allow_personal_data=True)  # back to plain logging for the tests that follow


PERSONAL = [
    "noah.schmidt@example.com",
    "jöhn@exämple.de",
    "4111.1111.1111.1111",
    "+44 20 7946 0958",
    "SW1A 1AA",
    "12 Baker Street",
    "abcdefgh12345678",  # a web conversation id: a bearer secret
]


def test_log_lines_carry_no_personal_data(captured: list[str]) -> None:
    log = logging.getLogger("tests.security.logs")
    log.info(
        "customer %s wrote from web:abcdefgh12345678 about %s",
        "noah.schmidt@example.com",
        "jöhn@exämple.de, card 4111.1111.1111.1111, call +44 20 7946 0958, 12 Baker Street, SW1A 1AA",
        extra={"request": "GET /api/console/conversations/web%3Aabcdefgh12345678"},
    )
    text = "\n".join(captured)
    assert "customer [email] wrote from web:#" in text
    for value in PERSONAL:
        assert value not in text, value


def test_exception_messages_are_withheld_but_the_traceback_stays(captured: list[str]) -> None:
    log = logging.getLogger("tests.security.logs")
    tracker_echo = json.dumps({"request_body": {"tracker": {"slots": {"email": "noah.schmidt@example.com"}}}})
    try:
        try:
            raise ValueError(tracker_echo)
        except ValueError as inner:
            raise RuntimeError("500, Internal Server Error, body=" + tracker_echo) from inner
    except RuntimeError as exc:
        log.exception("action failed")
        log.warning("again: %s", exc)
    text = "\n".join(captured)
    assert "Traceback (most recent call last)" in text and "test_logs_actions.py" in text
    assert "ValueError: (message withheld" in text and "RuntimeError: (message withheld" in text
    assert "again: RuntimeError: (message withheld" in text
    assert "noah" not in text and "request_body" not in text and "slots" not in text


def test_network_errors_keep_their_message_and_debug_setting_keeps_everything(captured: list[str]) -> None:
    log = logging.getLogger("tests.security.logs")
    log.warning("rasa down: %s", ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5005)"))
    assert "Connect call failed ('127.0.0.1', 5005)" in captured[-1]
    assert logsafe.personal_data_allowed({"LOG_PERSONAL_DATA": "true"})
    try:
        logsafe.install(allow_personal_data=True)
        log.info("raw %s", "noah.schmidt@example.com")
        assert "noah.schmidt@example.com" in captured[-1]
    finally:
        logsafe.install(allow_personal_data=False)


def test_a_huge_message_is_cut(captured: list[str]) -> None:
    logging.getLogger("tests.security.logs").info("dump: %s", "x" * 100_000)
    assert len(captured[-1]) < logsafe.MAX_MESSAGE_CHARS + 200


# ---------------------------------------------------------------------------------- the action server


@dataclass
class ActionServer:
    """The real rasa-sdk action server on a seeded demo shop, and its log."""

    url: str
    log_path: Path
    shop_path: Path
    cases: dict[str, dict[str, Any]]
    store: OrderStore

    def call(self, action: str, sender: str, **tracker_args: Any) -> tuple[int, dict[str, Any]]:
        """POST an action call as rasa makes it; returns the status and the JSON answer."""
        tracker = make_tracker(sender, **tracker_args).current_state()
        body = {
            "next_action": action,
            "sender_id": sender,
            "tracker": tracker,
            "domain": yaml.safe_load((ROOT / "domain.yml").read_text()),
            "version": "3.6.21",
        }
        request = urllib.request.Request(  # noqa: S310 (loopback)
            f"{self.url}/webhook?token={ACTION_TOKEN}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 (loopback)
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def log(self) -> str:
        """Everything the action server wrote so far."""
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    var = tmp_path_factory.mktemp("actions")
    shop = seed_demo_shop(var)
    log_path = var / "actions.log"
    env = {
        "PATH": "/usr/bin:/bin",
        "SHOP_DATABASE_URL": shop.db_url,
        "RECOMMENDER_ARTIFACTS": str(var / "no-recommender"),
        "ACTION_SERVER_TOKEN": ACTION_TOKEN,
    }
    engine = make_engine(shop.db_url)
    try:
        with running_action_server(env, log_path) as port:
            yield ActionServer(
                f"http://127.0.0.1:{port}", log_path, shop.path, shop.cases, OrderStore(sessionmaker(engine))
            )
    finally:
        engine.dispose()


def test_an_unpaid_orders_invoice_gets_a_sensible_answer(action_server: ActionServer) -> None:
    case = action_server.cases["payment_failed"]
    sender = "web:invoiceunpaid0001"
    action_server.store.verify(sender, case["order_number"], case["email"])
    status, answer = action_server.call(
        "action_continue_goal", sender, slots={"order_number": case["order_number"], "goal": "invoice"}
    )
    assert status == 200, answer
    assert [r.get("response") for r in answer["responses"]] == ["utter_invoice_unpaid"]
    reply = answer["responses"][0]
    assert reply["order_number"] == case["order_number"] and reply["reason"] == "its payment failed"
    assert "pay again" in reply["detail"].lower() or "place a new order" in reply["detail"].lower()


def test_a_crashing_action_answers_an_apology_and_logs_no_personal_data(action_server: ActionServer) -> None:
    case = action_server.cases["in_transit"]
    sender = "web:crashingaction0001"
    action_server.store.verify(sender, case["order_number"], case["email"])
    # The order store loses its orders table under the running server: every order action now fails with
    # an SQL error whose message holds the query's parameters.
    with sqlite3.connect(action_server.shop_path) as db:
        db.execute("ALTER TABLE orders RENAME TO orders_elsewhere")
    try:
        status, answer = action_server.call(
            "action_continue_goal",
            sender,
            slots={"order_number": case["order_number"], "goal": "track", "email": case["email"]},
            text=f"it's {case['email']}, I live at {case['postcode']}",
        )
    finally:
        with sqlite3.connect(action_server.shop_path) as db:
            db.execute("ALTER TABLE orders_elsewhere RENAME TO orders")
    assert status == 200, answer
    assert answer["events"] == []
    (reply,) = answer["responses"]
    assert reply["text"].startswith("Sorry, something went wrong on my side")
    assert reply["buttons"] == [{"title": "Talk to a person", "payload": "/human_handoff"}]
    time.sleep(0.5)  # the worker's log line reaches the file
    log = action_server.log()
    assert "action action_continue_goal failed" in log
    for secret in (case["email"], case["postcode"], "crashingaction0001", "request_body", '"slots"'):
        assert secret not in log, secret


def test_staff_and_tablets_get_an_apology_without_the_handoff_button(action_server: ActionServer) -> None:
    with sqlite3.connect(action_server.shop_path) as db:
        db.execute("ALTER TABLE orders RENAME TO orders_elsewhere")
    try:
        answers = {
            channel: action_server.call(
                "action_continue_goal",
                f"{channel}:someone0001",
                slots={"order_number": "ORD-100001", "goal": "track"},
                metadata={"channel": channel},
            )
            for channel in ("tablet", "slack")
        }
    finally:
        with sqlite3.connect(action_server.shop_path) as db:
            db.execute("ALTER TABLE orders_elsewhere RENAME TO orders")
    for channel, (status, answer) in answers.items():
        assert status == 200, (channel, answer)
        (reply,) = answer["responses"]
        assert "buttons" not in reply
        assert ("staff in the shop" in reply["text"]) == (channel == "tablet")


def test_a_malformed_action_call_is_refused_without_echo(action_server: ActionServer) -> None:
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"{action_server.url}/webhook?token={ACTION_TOKEN}",
        data=b'{"next_action": "action_continue_goal", "tracker": "noah.schmidt@example.com", "domain": {}}',
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 (loopback)
        answer = json.loads(resp.read())
    assert "noah" not in json.dumps(answer)
    assert answer["responses"][0]["text"].startswith("Sorry")


# ----------------------------------------------------------------------------------------------- rasa

RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"


@pytest.mark.skipif(not RASA_PYTHON.exists(), reason="the rasa environment (.venv-rasa) is not installed")
def test_rasa_started_through_logsafe_logs_no_tracker_echo() -> None:
    done = subprocess.run(
        [str(RASA_PYTHON), "-m", "logsafe.run", "tests.security.rasa_log_probe"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout + done.stderr
    assert "Encountered an exception while running action 'action_continue_goal'" in out
    assert "ClientResponseError: (message withheld" in out
    for secret in ("emma.lee@example.com", "BN1 1GL", "feed47b1179543fe", "request_body", "invoice please"):
        assert secret not in out, secret
