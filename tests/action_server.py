"""The real ``python -m actions.server`` in a subprocess, for tests that need it over HTTP.

One copy of the start-and-wait-for-/health loop that three test modules had each written out, and of the teardown
that leaves nothing of it running (its whole process group, not only the pid it started).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from scripts.stack import ROOT, free_port

PYTHON = ROOT / ".venv" / "bin" / "python"


def group_members(pgid: int) -> list[str]:
    """``pid state command`` of every live (not zombie) process in process group ``pgid``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # it exited while we looked
            continue
        # the command name in parentheses may hold spaces: the fields after the last ')' are fixed
        state, _ppid, group = stat.rsplit(")", 1)[1].split()[:3]
        if int(group) == pgid and state != "Z":
            found.append(f"{entry.name} {state} {cmdline}")
    return found


def stop_group(process: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    """SIGTERM the leader, wait up to ``grace`` s, then SIGKILL whatever is left of its process group.

    The process must have been started with ``start_new_session=True`` (its pid is its group's id).
    """
    if process.poll() is None:
        process.terminate()
        # a graceful stop waits for open connections; on a loaded box (load 5+) it has overrun 20 s once.
        # The test's verdict is already in: past `grace`, stop it for good rather than fail the teardown.
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def start_action_server(
    env: Mapping[str, str], log_path: Path, extra_args: Sequence[str] = (), port: int = 0
) -> tuple[subprocess.Popen[bytes], int]:
    """Start the action server in its own session with `env` (plus a loopback host and unbuffered output).

    Returns:
        The process and its port (`port`, or a free one when 0).
    """
    port = port or free_port()
    full_env = {"SANIC_HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1", **env}
    with open(log_path, "ab") as out:
        process = subprocess.Popen(
            [str(PYTHON), "-m", "actions.server", "--port", str(port), *extra_args],
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process, port


def wait_until_up(process: subprocess.Popen[bytes], port: int, log_path: Path, timeout: float = 60.0) -> None:
    """Wait for /health; fail the test with the log's tail if the server exits or stays silent `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):  # noqa: S310
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the action server did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)


@contextmanager
def running_action_server(
    env: Mapping[str, str], log_path: Path, extra_args: Sequence[str] = (), timeout: float = 60.0
) -> Iterator[int]:
    """Start the action server with `env` and yield its port once /health answers.

    Its output goes to `log_path`; the test fails with the log's tail if it exits or does not answer /health
    within `timeout` seconds. Its process group is stopped (SIGTERM, then SIGKILL) when the block ends.
    """
    process, port = start_action_server(env, log_path, extra_args)
    try:
        wait_until_up(process, port, log_path, timeout)
        yield port
    finally:
        stop_group(process)
