"""`make run`'s launcher: starts all three processes, says where to go, and Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from scripts.stack import ROOT, free_port
from tests.e2e.conftest import MODEL

pytestmark = pytest.mark.e2e


def _children(pid: int) -> set[int]:
    """Every live process whose session is one the launcher started (its children lead their own)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.add(int(entry.name))
    return found


def test_launcher_starts_everything_and_ctrl_c_stops_all_three(tmp_path: Path) -> None:
    if not MODEL.exists():
        pytest.fail("no trained model: run the suite with `make test`")
    ports = {"RASA_PORT": free_port(), "ACTIONS_PORT": free_port(), "GATEWAY_PORT": free_port()}
    env = dict(
        os.environ,
        SHOP_DATABASE_URL=f"sqlite:///{tmp_path / 'shop.db'}",
        TRACKER_DB_URL=f"sqlite:///{tmp_path / 'tracker.db'}",
        GATEWAY_TOKEN="launcher-test-token",
        **{k: str(v) for k, v in ports.items()},
    )
    python = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run([python, "-m", "store", "setup"], cwd=ROOT, env=env, check=True, capture_output=True)
    launcher = subprocess.Popen(
        [python, "-m", "scripts.run"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 240
        assert launcher.stdout is not None
        while time.monotonic() < deadline:
            line = launcher.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Press Ctrl-C" in line:
                break
        text = "".join(output)
        assert "==> Ready." in text, text
        assert f"http://127.0.0.1:{ports['GATEWAY_PORT']}/" in text
        children = _children(launcher.pid)
        assert len(children) == 3, (children, text)
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['GATEWAY_PORT']}/healthz", timeout=5) as resp:
            assert b'"rasa": true' in resp.read()
        launcher.send_signal(signal.SIGINT)
        rest, _ = launcher.communicate(timeout=60)
        assert launcher.returncode == 0, rest
        assert "==> Stopped." in rest
        assert not [pid for pid in children if Path(f"/proc/{pid}").exists() and _is_running(pid)]
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()


def _is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
