"""The action server on a real PostgreSQL that stops mid-turn: rasa's call gets the real answer once it is back.

bench-faults on c8058f2: "how much is shipping to Germany for a £40 order?" during a PostgreSQL restart got the
guard's apology, and the customer had to ask again. Here the real ``python -m actions.server`` runs on a PostgreSQL
cluster of the test's own; the cluster is stopped, the action server then answers 503 (nothing about the failure in
the body but the apology), and rasa's call (bot/turn_speedups.py, in the rasa environment) made while the database
is down returns the quote once the database is started again 3 s later.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.stack import ROOT
from tests.action_server import running_action_server
from tests.actions.helpers import make_tracker
from tests.store.conftest import _Cluster, throwaway_cluster

PYTHON = ROOT / ".venv" / "bin" / "python"
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
TOKEN = "action-server-token-for-the-outage-test-01"  # noqa: S105 - a test secret
QUESTION = "how much is shipping to Germany for a £40 order?"

pytestmark = pytest.mark.skipif(not RASA_PYTHON.exists(), reason="the rasa environment (.venv-rasa) is not installed")


@pytest.fixture
def cluster() -> Iterator[_Cluster]:
    with throwaway_cluster() as started:
        yield started


@pytest.fixture
def action_server(cluster: _Cluster, tmp_path: Path) -> Iterator[str]:
    env = {"PATH": "/usr/bin:/bin", "SHOP_DATABASE_URL": cluster.url}
    subprocess.run([str(PYTHON), "-m", "store", "setup"], cwd=ROOT, env=env, check=True, capture_output=True)
    env |= {"RECOMMENDER_ARTIFACTS": str(tmp_path / "no-recommender"), "ACTION_SERVER_TOKEN": TOKEN}
    with running_action_server(env, tmp_path / "actions.log") as port:
        yield f"http://127.0.0.1:{port}/webhook"


def _call() -> dict[str, Any]:
    tracker = make_tracker(
        "web:outage0001",
        intent="shipping_cost",
        text=QUESTION,
        entities=[{"entity": "country", "value": "Germany"}, {"entity": "amount", "value": "£40"}],
    ).current_state()
    return {
        "next_action": "action_shipping_info",
        "sender_id": "web:outage0001",
        "tracker": tracker,
        "domain": yaml.safe_load((ROOT / "domain.yml").read_text()),
        "version": "3.6.21",
    }


def _post(url: str, call: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"{url}?token={TOKEN}", data=json.dumps(call).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 (loopback)
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _said(answer: dict[str, Any]) -> str:
    """The responses as JSON: texts, and the templates' names and values (the quote is a template)."""
    return json.dumps(answer["responses"])


def test_a_turn_during_a_postgres_restart_gets_the_real_answer(cluster: _Cluster, action_server: str) -> None:
    call = _call()
    status, before = _post(action_server, call)
    assert status == 200, before
    assert "utter_shipping_quote" in _said(before) and "Germany" in _said(before), before

    probe = subprocess.Popen(
        [str(RASA_PYTHON), str(Path(__file__).with_name("action_retry_probe.py")), action_server, TOKEN],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert probe.stdout is not None and probe.stdin is not None
        assert probe.stdout.readline().strip() == "ready"
        cluster.pause()
        status, during = _post(action_server, call)
        assert status == 503, during
        (apology,) = during["responses"]
        assert apology["text"].startswith("Sorry, something went wrong on my side")
        assert set(during) == {"events", "responses"}  # nothing about the failure

        probe.stdin.write(json.dumps(call) + "\n")
        probe.stdin.flush()
        time.sleep(3.0)
        cluster.resume()
        out, err = probe.communicate(timeout=90)
    finally:
        if probe.poll() is None:
            probe.kill()
        if not (cluster.base / "data" / "postmaster.pid").exists():
            cluster.resume()
    done = subprocess.CompletedProcess(probe.args, probe.returncode, out, err)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["seconds"] >= 2.5  # it waited for the database
    assert result["answer"]["responses"] == before["responses"]
    assert result["answer"]["events"] == before["events"]
