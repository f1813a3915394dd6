"""The store's settings from the environment (pydantic-settings via envsettings): defaults, ranges, messages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from envsettings import InvalidSettings
from store.proofs import ProofLimits
from store.settings import Settings


def test_proof_limits_read_their_variables_and_keep_defaults() -> None:
    assert ProofLimits.from_env({}) == ProofLimits()
    limits = ProofLimits.from_env(
        {
            "SHOP_PROOF_FAILURES_PER_ORDER": " 5 ",
            "SHOP_PROOF_FAILURES_PER_SOURCE": "",  # empty keeps the default
            "SHOP_PROOF_FIRST_PAUSE_SECONDS": "10",
            "SHOP_GRANT_IDLE_MINUTES": "30",
        }
    )
    assert (limits.per_order, limits.per_source) == (5, 10)
    assert limits.first_pause == timedelta(seconds=10) and limits.grant_idle == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SHOP_PROOF_FAILURES_PER_ORDER": "0"}, "SHOP_PROOF_FAILURES_PER_ORDER must be at least 1, got '0'"),
        ({"SHOP_PROOF_FAILURES_PER_PROOF": "three"}, "SHOP_PROOF_FAILURES_PER_PROOF must be a whole number"),
        ({"SHOP_PROOF_FIRST_PAUSE_SECONDS": "-5"}, "SHOP_PROOF_FIRST_PAUSE_SECONDS must be a positive whole number"),
        ({"SHOP_GRANT_IDLE_MINUTES": "1.5"}, "SHOP_GRANT_IDLE_MINUTES must be a positive whole number of minutes"),
    ],
)
def test_a_bad_proof_limit_names_its_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidSettings, match=message) as caught:
        ProofLimits.from_env(env)
    assert isinstance(caught.value, ValueError)  # callers that caught ValueError still do


def test_building_settings_directly_never_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_PROOF_FAILURES_PER_ORDER", "not a number")
    monkeypatch.setenv("SHOP_DATABASE_URL", "postgresql://u@h/x")
    assert ProofLimits().per_order == 3
    assert Settings().database_url.startswith("sqlite:///")
    assert Settings.from_env().database_url == "postgresql+psycopg://u@h/x"


def test_echo_flag_is_lenient_as_before() -> None:
    assert Settings.from_env({"SHOP_DATABASE_ECHO": "ON"}).echo_sql is True
    assert Settings.from_env({"SHOP_DATABASE_ECHO": "maybe"}).echo_sql is False
