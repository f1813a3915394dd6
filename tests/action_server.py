"""The real ``python -m actions.server`` in a subprocess, for tests that need it over HTTP.

One copy of the start-and-wait-for-/health loop that three test modules had each written out.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from scripts.stack import ROOT, free_port

PYTHON = ROOT / ".venv" / "bin" / "python"


@contextmanager
def running_action_server(
    env: Mapping[str, str], log_path: Path, extra_args: Sequence[str] = (), timeout: float = 60.0
) -> Iterator[int]:
    """Start the action server with `env` (plus a loopback host and unbuffered output) and yield its port.

    Its output goes to `log_path`; the test fails with the log's tail if it exits or does not answer /health
    within `timeout` seconds. It is terminated when the block ends.
    """
    port = free_port()
    full_env = {"SANIC_HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1", **env}
    with open(log_path, "wb") as out:
        process = subprocess.Popen(
            [str(PYTHON), "-m", "actions.server", "--port", str(port), *extra_args],
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):  # noqa: S310
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the action server did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
                time.sleep(0.3)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # sanic's graceful stop waits for open connections; on a loaded box (load 5+) it has overrun 20 s
            # once. The test's verdict is already in: stop it for good rather than fail the teardown.
            process.kill()
            process.wait(timeout=10)
