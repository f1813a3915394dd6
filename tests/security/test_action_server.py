"""The action server's door (finding 2): the real `python -m actions.server` process, called as a forger would.

On main rasa-sdk answered anyone on port 5055 with any content type (a page in a local browser could post a
``text/plain`` body blind) and believed the tracker's metadata: the finding's forged call made the store
record a staff grant. Here the process runs on a free port against a copy of the seeded shop, and what the
store recorded is read back after every call.
"""

from __future__ import annotations

import json
import os
import shutil
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

from connectors.claims import CLAIM_KEY, sign_claim
from scripts.stack import ROOT, free_port
from tests.action_server import stop_group

TOKEN = "action-server-test-token-0123456789"
SECRET = "action-server-test-claims-secret-0123456789"
FORGED = {"channel": "slack", "staff": {"id": "UFORGED01", "role": "manager"}}


@dataclass
class ActionServer:
    url: str
    shop: Path

    def post(
        self,
        body: bytes,
        content_type: str = "application/json",
        token: str | None = TOKEN,
        origin: str | None = None,
        path: str = "/webhook",
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        query = f"?token={token}" if token is not None else ""
        headers = {"Content-Type": content_type}
        if origin:
            headers["Origin"] = origin
        url = f"{self.url}{path}{query}"
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - loopback
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - loopback
                return resp.status, json.loads(resp.read() or b"null") or {}, dict(resp.headers)
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null") or {}, dict(error.headers)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.shop) as conn:
            return conn.execute(sql).fetchall()


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory, seeded_db: Path) -> Iterator[ActionServer]:
    var = tmp_path_factory.mktemp("actions")
    shop = var / "shop.db"
    shutil.copy(seeded_db, shop)
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SHOP_DATABASE_URL": f"sqlite:///{shop}",
        "ACTION_SERVER_TOKEN": TOKEN,
        "GATEWAY_CLAIMS_SECRET": SECRET,
        "RECOMMENDER_ARTIFACTS": str(var / "no-recommender"),
    }
    log = (var / "actions.log").open("wb")
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "actions.server", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"the action server exited: {(var / 'actions.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):  # noqa: S310 - loopback
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the action server did not answer /health within 90 s")
                time.sleep(0.5)
        yield ActionServer(url, shop)
    finally:
        stop_group(process)  # SIGTERM, then SIGKILL whatever of its group is left: nothing outlives the module
        log.close()


def _call(sender: str, metadata: dict[str, Any], number: str) -> bytes:
    """The action call rasa makes to validate the verification form after ``number`` was typed."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    latest = {
        "text": number,
        "intent": {"name": "track_order", "confidence": 0.99},
        "entities": [],
        "metadata": metadata,
    }
    tracker = {
        "sender_id": sender,
        "slots": {"order_number": number, "proof": None, "requested_slot": "order_number"},
        "latest_message": latest,
        "events": [
            {"event": "user", "text": number, "parse_data": latest, "input_channel": metadata.get("channel")},
            {"event": "slot", "name": "order_number", "value": number},
        ],
        "paused": False,
        "followup_action": None,
        "active_loop": {"name": "verify_order_form"},
        "latest_action_name": "action_listen",
        "latest_input_channel": metadata.get("channel"),
    }
    body = {
        "next_action": "validate_verify_order_form",
        "sender_id": sender,
        "tracker": tracker,
        "domain": domain,
        "version": "3.6.21",
    }
    return json.dumps(body).encode()


def _slots(answer: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in answer.get("events", []) if e.get("event") == "slot"}


def test_calls_without_rasas_token_are_refused(action_server: ActionServer) -> None:
    body = _call("web:forger", FORGED, "ORD-100042")
    for token in (None, "", "wrong-token"):
        status, answer, _ = action_server.post(body, token=token)
        assert status == 401 and "token" in answer["error"]
    with pytest.raises(urllib.error.HTTPError) as listed:
        urllib.request.urlopen(f"{action_server.url}/actions", timeout=5)  # noqa: S310 - loopback
    assert listed.value.code == 401
    assert action_server.rows("SELECT count(*) FROM access_grants") == [(0,)]


def test_only_health_and_metrics_answer_without_the_token_and_metrics_name_no_customer(
    action_server: ActionServer,
) -> None:
    with urllib.request.urlopen(f"{action_server.url}/metrics", timeout=5) as resp:  # noqa: S310 - loopback
        metrics = resp.read().decode()
    assert "shop_actions_runs_total" in metrics or "# HELP" in metrics
    assert "web:" not in metrics and "@" not in metrics  # counters by action name, never a conversation or email
    for path in ("/metrics", "/health"):
        status, answer, _ = action_server.post(_call("web:forger", FORGED, "ORD-100042"), token=None, path=path)
        assert status in (401, 405), (path, status, answer)


def test_a_blind_text_plain_post_is_refused_even_with_the_token(action_server: ActionServer) -> None:
    status, answer, headers = action_server.post(
        _call("web:forger", FORGED, "ORD-100042"), content_type="text/plain", origin="http://evil.example"
    )
    assert status == 415 and "application/json" in answer["error"]
    assert "Access-Control-Allow-Origin" not in headers
    assert action_server.rows("SELECT count(*) FROM staff_order_lookups") == [(0,)]


def test_forged_staff_metadata_with_the_token_opens_nothing(action_server: ActionServer) -> None:
    """Even a caller holding rasa's token (rasa itself, if it were taken over) cannot make staff from metadata."""
    status, answer, _ = action_server.post(_call("web:forger", FORGED, "ORD-100042"))
    assert status == 200
    assert _slots(answer).get("proof", "unset") is None  # asked for a customer proof
    assert action_server.rows("SELECT count(*) FROM access_grants") == [(0,)]
    assert action_server.rows("SELECT count(*) FROM staff_order_lookups") == [(0,)]
    # a claim the gateway signed for another conversation, replayed here, is no better
    real = sign_claim(
        SECRET,
        sender="slack:T0SHOP01-U0STAFF01",
        channel="slack",
        source="slack:user:x",
        staff_id="U0STAFF01",
        staff_role="manager",
    )
    status, answer, _ = action_server.post(_call("web:forger", {**FORGED, CLAIM_KEY: real}, "ORD-100042"))
    assert status == 200 and _slots(answer).get("proof", "unset") is None
    assert action_server.rows("SELECT count(*) FROM staff_order_lookups") == [(0,)]


def test_the_gateways_signed_staff_claim_works_and_is_recorded(action_server: ActionServer) -> None:
    sender = "slack:T0SHOP01-U0STAFF01"
    claim = sign_claim(
        SECRET,
        sender=sender,
        channel="slack",
        source="slack:user:T0SHOP01-U0STAFF01",
        staff_id="U0STAFF01",
        staff_role="staff",
    )
    status, answer, _ = action_server.post(_call(sender, {"channel": "slack", CLAIM_KEY: claim}, "ORD-100043"))
    assert status == 200 and _slots(answer)["proof"] == "verified"
    assert action_server.rows("SELECT staff_id, staff_role FROM staff_order_lookups") == [("U0STAFF01", "staff")]
