"""`make run`'s launcher: starts all three processes, says where to go, and Ctrl-C stops them all."""

from __future__ import annotations

import contextlib
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


def _stat(pid: int | str) -> list[str]:
    """The fields of /proc/PID/stat after the command name (state, ppid, pgrp, ...); [] once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _children(pid: int) -> set[int]:
    """The launcher's direct children (each leads its own session and process group)."""
    return {int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit() and _stat(e.name)[1:2] == [str(pid)]}


def _in_groups(groups: set[int]) -> set[int]:
    """Every live process in one of ``groups``: the services and whatever they started (workers, managers)."""
    found = set()
    for entry in Path("/proc").iterdir():
        fields = _stat(entry.name) if entry.name.isdigit() else []
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) in groups:
            found.add(int(entry.name))
    return found


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# A non-interactive shell starts `cmd &` with SIGINT ignored, and Python keeps it so: Ctrl-C must still stop.
@pytest.mark.parametrize("sigint", ["default", "inherited ignored"])
def test_launcher_starts_everything_and_ctrl_c_stops_all_three(tmp_path: Path, sigint: str) -> None:
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
        [python, "-m", "scripts.run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_ignore_sigint if sigint == "inherited ignored" else None,  # noqa: PLW1509 (no threads here)
    )
    output: list[str] = []
    started: set[int] = set()
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
        started = _in_groups(children)  # the services and their workers
        assert started >= children
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['GATEWAY_PORT']}/healthz", timeout=5) as resp:
            assert b'"rasa": true' in resp.read()
        launcher.send_signal(signal.SIGINT)
        rest, _ = launcher.communicate(timeout=60)  # stop() kills what is left after 10 s
        assert launcher.returncode == 0, rest
        assert "==> Stopped." in rest
        assert not [pid for pid in started if _is_running(pid)], "a process of the stack outlived Ctrl-C"
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
        # a launcher that failed to stop leaves its services running (orphans of 2-3 GB): the test cleans up
        for pgid in {int(f[2]) for f in map(_stat, started) if len(f) > 2}:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)


def _is_running(pid: int) -> bool:
    state = _stat(pid)[:1]
    return bool(state) and state != ["Z"]
