"""Rasa's own checks on the project: data validation, test stories, and domain <-> actions consistency."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from rasa_sdk import Action

import actions.account
import actions.follow_up
import actions.goals
import actions.handoff
import actions.identity
import actions.orders
import actions.payments
import actions.products
import actions.returns
import actions.session
import actions.shipping

ROOT = Path(__file__).resolve().parents[2]
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
MODEL = ROOT / "models" / "current.tar.gz"
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())
ACTION_MODULES = [
    actions.account,
    actions.follow_up,
    actions.goals,
    actions.handoff,
    actions.identity,
    actions.orders,
    actions.payments,
    actions.products,
    actions.returns,
    actions.session,
    actions.shipping,
]


def rasa(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([str(RASA), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.rasa
def test_rasa_data_validate() -> None:
    result = rasa("data", "validate", "--config", "config.yml", "--domain", "domain.yml", "--data", "nlu_data")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "conflict" not in result.stdout.lower().replace("no story structure conflicts", "")


@pytest.mark.rasa
def test_rasa_test_stories_all_pass(tmp_path: Path) -> None:
    if not MODEL.exists():
        pytest.fail("no trained model: run the suite with `make test`, which trains it once")
    out = tmp_path / "results"
    result = rasa(
        "test",
        "core",
        "--model",
        str(MODEL),
        "--stories",
        "tests/stories",
        "--out",
        str(out),
        "--fail-on-prediction-errors",
    )
    failed = out / "failed_test_stories.yml"
    details = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, details or (result.stdout[-3000:] + result.stderr[-3000:])
    assert "# None of the test stories failed" in details or details.strip() == "", details


def _implemented_actions() -> dict[str, type[Action]]:
    found: dict[str, type[Action]] = {}
    for module in ACTION_MODULES:
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Action) and cls.__module__ == module.__name__:
                found[cls().name()] = cls
    return found


def test_every_domain_action_is_implemented_and_every_action_declared() -> None:
    implemented = set(_implemented_actions())
    declared = set(DOMAIN["actions"])
    assert declared == implemented


def test_every_response_is_used_by_a_rule_form_or_action() -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "actions").glob("*.py"))
    sources += "\n".join(p.read_text() for p in (ROOT / "nlu_data").rglob("*.yml"))
    forms = DOMAIN["forms"]
    asked = {f"utter_ask_{slot}" for form in forms.values() for slot in form["required_slots"]}
    unused = [r for r in DOMAIN["responses"] if r not in sources and r not in asked and r != "utter_default"]
    assert unused == []


def test_every_placeholder_an_action_fills_exists_in_its_response() -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "actions").glob("*.py"))
    for name, variants in DOMAIN["responses"].items():
        for variant in variants:
            for placeholder in re.findall(r"{(\w+)}", variant.get("text", "")):
                assert placeholder in sources or placeholder in DOMAIN["slots"], (name, placeholder)
