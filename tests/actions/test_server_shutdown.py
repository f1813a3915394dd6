"""The real ``python -m actions.server`` stops on SIGTERM: every process of it gone, a call in flight answered.

Sanic's default manager-plus-worker could spin forever at 100% CPU in ``WorkerManager.wait_for_ack`` after SIGTERM
(sanic-org/sanic#2997); stray servers then ate a core for an hour after the benches. The server is one process now
(actions/server.py); these tests hold it to what the stack and the fault bench need of it.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.action_server import group_members, start_action_server, stop_group, wait_until_up
from tests.actions.slow_probe_actions import ANSWER

TOKEN = "action-server-token-for-the-shutdown-test"  # noqa: S105 - a test secret
#: How long the process group may outlive SIGTERM once no call is in flight (a loaded box: 2 cores, other benches).
GONE_WITHIN = 5.0


def _env(var: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "SHOP_DATABASE_URL": f"sqlite:///{var / 'shop.db'}",
        "RECOMMENDER_ARTIFACTS": str(var / "no-recommender"),
        "ACTION_SERVER_TOKEN": TOKEN,
        "SLOW_PROBE_STARTED": str(var / "slow-started"),
        "SLOW_PROBE_SECONDS": "3",
    }


def _wait_group_gone(pgid: int, within: float) -> list[str]:
    """The group's live members left after up to `within` s (empty: all gone)."""
    deadline = time.monotonic() + within
    while (left := group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _slow_call(port: int, result: dict[str, Any]) -> None:
    tracker = {"sender_id": "web:slow0001", "slots": {}, "latest_message": {"metadata": {"channel": "web"}}}
    body = json.dumps({"next_action": "probe_slow", "sender_id": "web:slow0001", "tracker": tracker, "domain": {}})
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"http://127.0.0.1:{port}/webhook?token={TOKEN}",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback
            result["status"] = answer.status
            result["body"] = json.loads(answer.read())
    except Exception as error:  # noqa: BLE001 - the test reports whatever went wrong
        result["error"] = repr(error)


def test_sigterm_stops_every_process_of_it(tmp_path: Path) -> None:
    log = tmp_path / "actions.log"
    process, port = start_action_server(_env(tmp_path), log, ["--actions", "tests.actions.slow_probe_actions"])
    try:
        wait_until_up(process, port, log)
        assert [m.split()[0] for m in group_members(process.pid)] == [str(process.pid)], "one process, no manager"
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=GONE_WITHIN)
        assert _wait_group_gone(process.pid, GONE_WITHIN) == []
    finally:
        stop_group(process, grace=1)


def test_sigterm_lets_the_call_in_flight_finish_then_exits(tmp_path: Path) -> None:
    log = tmp_path / "actions.log"
    process, port = start_action_server(_env(tmp_path), log, ["--actions", "tests.actions.slow_probe_actions"])
    result: dict[str, Any] = {}
    caller = threading.Thread(target=_slow_call, args=(port, result))
    try:
        wait_until_up(process, port, log)
        caller.start()
        deadline = time.monotonic() + 20
        while not (tmp_path / "slow-started").exists():
            assert time.monotonic() < deadline, f"the slow action never started:\n{log.read_text()[-2000:]}"
            time.sleep(0.05)
        sent = time.monotonic()
        os.kill(process.pid, signal.SIGTERM)
        caller.join(timeout=20)
        # the call was answered in full, not cut off: the graceful stop waited for it
        assert result.get("status") == 200, result
        assert [r["text"] for r in result["body"]["responses"]] == [ANSWER]
        process.wait(timeout=GONE_WITHIN)
        assert _wait_group_gone(process.pid, GONE_WITHIN) == []
        assert time.monotonic() - sent < 3 + 2 * GONE_WITHIN
    finally:
        caller.join(timeout=1)
        stop_group(process, grace=1)


def test_sigkill_then_a_restart_on_the_same_port_answers(tmp_path: Path) -> None:
    """What the fault bench does to a replica: kill -9 its group, start it again on its port."""
    log = tmp_path / "actions.log"
    process, port = start_action_server(_env(tmp_path), log)
    try:
        wait_until_up(process, port, log)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        assert _wait_group_gone(process.pid, GONE_WITHIN) == []
    finally:
        stop_group(process, grace=1)
    again, _ = start_action_server(_env(tmp_path), log, port=port)
    try:
        wait_until_up(again, port, log)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/actions?token={TOKEN}", timeout=5) as answer:  # noqa: S310
            assert answer.status == 200
    finally:
        stop_group(again)


def test_ctrl_c_stops_it_too(tmp_path: Path) -> None:
    log = tmp_path / "actions.log"
    process, port = start_action_server(_env(tmp_path), log)
    try:
        wait_until_up(process, port, log)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=GONE_WITHIN)
        assert _wait_group_gone(process.pid, GONE_WITHIN) == []
    finally:
        stop_group(process, grace=1)
