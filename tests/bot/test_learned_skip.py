"""LearnedEntityExtractor skips its model only where the model's entities would all be dropped."""

from __future__ import annotations

from tests.bot.rasa_probe import needs_rasa, run_probe

pytestmark = needs_rasa


def test_skipping_the_model_on_covered_texts_changes_no_result() -> None:
    result = run_probe("learned_skip_probe.py")
    assert result["same"] == result["cases"]
    # the model was skipped exactly on the covered texts, and there were many of both kinds
    assert result["skipped"] == result["covered"]
    assert 500 < result["covered"] < result["cases"] - 500
    assert result["covers_examples"] == [True, True, False, False, True, True]
