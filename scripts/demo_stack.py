"""A fresh demo shop and the three processes on free ports in one folder: shared by tests/e2e and bench/."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.stack import ROOT, StackConfig, free_port

PYTHON = ROOT / ".venv" / "bin" / "python"
MODEL = ROOT / "models" / "current.tar.gz"


class DemoSetupError(RuntimeError):
    """Seeding the shop or training the recommender failed; the message carries the command's output."""


@dataclass(frozen=True)
class DemoShop:
    """A seeded demo shop: its database and the ready-to-try cases (`python -m store demo-cases`) by name."""

    db_url: str
    path: Path
    cases: dict[str, dict[str, Any]]


def _run(argv: list[str], env: Mapping[str, str], what: str) -> str:
    # A minimal environment: the shop URL must come from here, never from the caller's own settings.
    done = subprocess.run(argv, cwd=ROOT, env=dict(env), capture_output=True, text=True)
    if done.returncode != 0:
        raise DemoSetupError(f"{what} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def seed_demo_shop(var: Path) -> DemoShop:
    """Migrate and seed a demo shop in ``var/shop.db`` and list its demo cases.

    Args:
        var: a fresh folder for the shop's SQLite file.

    Returns:
        The shop's URL, file and demo cases.

    Raises:
        DemoSetupError: ``python -m store setup`` or ``demo-cases`` failed.
    """
    var.mkdir(parents=True, exist_ok=True)
    path = var / "shop.db"
    db_url = f"sqlite:///{path}"
    env = {"SHOP_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"}
    _run([str(PYTHON), "-m", "store", "setup"], env, "python -m store setup")
    listed = _run([str(PYTHON), "-m", "store", "demo-cases"], env, "python -m store demo-cases")
    return DemoShop(db_url, path, {case["case"]: case for case in json.loads(listed)})


def train_recommender(var: Path, shop: DemoShop) -> Path:
    """Train recommender artifacts from ``shop`` into ``var/recommender`` (product answers need them).

    Returns:
        The artifacts folder, for ``RECOMMENDER_ARTIFACTS``.

    Raises:
        DemoSetupError: the training command failed.
    """
    artifacts = var / "recommender"
    _run(
        [str(PYTHON), "-m", "recommender", "train", "--from-store", "--out", str(artifacts), "--quiet"],
        {"SHOP_DATABASE_URL": shop.db_url, "PATH": "/usr/bin:/bin"},
        "python -m recommender train",
    )
    return artifacts


def local_stack_config(
    var: Path, shop: DemoShop, extra_env: Mapping[str, str] | None = None, *, model: Path = MODEL
) -> StackConfig:
    """A stack on free loopback ports whose tracker, gateway state and logs all live in ``var``.

    Args:
        var: the folder of the shop; tracker.db, gateway.db and log/ go next to it.
        shop: the seeded shop the action server and gateway use.
        extra_env: settings for the three processes (rate limits, channel tokens, fake API URLs...).
        model: the trained rasa model.

    Returns:
        The configuration for :class:`scripts.stack.Stack`, with a random gateway token.
    """
    return StackConfig(
        shop_db_url=shop.db_url,
        tracker_db_url=f"sqlite:///{var / 'tracker.db'}",
        gateway_db_url=f"sqlite:///{var / 'gateway.db'}",  # nothing a run registers lands in var/
        token=uuid.uuid4().hex,
        log_dir=var / "log",
        model=model,
        rasa_port=free_port(),
        actions_port=free_port(),
        gateway_port=free_port(),
        extra_env=dict(extra_env or {}),
    )
