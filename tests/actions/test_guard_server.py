"""The guard in the real ``python -m actions.server``: the per-call write record reaches the error handler.

Two probe actions (tests/actions/guard_probe_actions.py) fail with the same transient error; the one that committed
a write first is answered with the apology (200), never sent again, the other 503. Every call goes over one kept
connection, as rasa's do, so a record left over from the call before would show.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.action_server import running_action_server

TOKEN = "action-server-token-for-the-guard-test-0"  # noqa: S105 - a test secret


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    var = tmp_path_factory.mktemp("guard-server")
    env = {
        "PATH": "/usr/bin:/bin",
        "SHOP_DATABASE_URL": f"sqlite:///{var / 'shop.db'}",
        "RECOMMENDER_ARTIFACTS": str(var / "no-recommender"),
        "ACTION_SERVER_TOKEN": TOKEN,
    }
    with running_action_server(env, var / "actions.log", ["--actions", "tests.actions.guard_probe_actions"]) as port:
        yield port


def _call(connection: http.client.HTTPConnection, action: str) -> tuple[int, dict[str, Any]]:
    tracker = {"sender_id": "web:guard0001", "slots": {}, "latest_message": {"metadata": {"channel": "web"}}}
    body = json.dumps({"next_action": action, "sender_id": "web:guard0001", "tracker": tracker, "domain": {}})
    connection.request("POST", f"/webhook?token={TOKEN}", body, {"Content-Type": "application/json"})
    answer = connection.getresponse()
    return answer.status, json.loads(answer.read())


def test_only_a_call_that_wrote_nothing_is_sent_back_for_a_retry(server: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
    try:
        statuses = [_call(connection, action)[0] for action in ("probe_reads_then_fails", "probe_writes_then_fails")]
        after_a_write, body = _call(connection, "probe_reads_then_fails")
    finally:
        connection.close()
    assert statuses == [503, 200]
    assert after_a_write == 503  # the record is per call, not per connection
    assert body["responses"][0]["text"].startswith("Sorry, something went wrong on my side")
