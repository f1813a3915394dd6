"""The classes of failure the tenth blind batch (tests/conversations/blind_j.yml) showed in conv11b's share of
it, one test per class: the reason for a return given with the items was dropped (so the summary asked why
again and "yes, go ahead" there created nothing)."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.returns import ValidateReturnForm
from tests.actions.helpers import grant, make_tracker

SENDER = "web:test-conversation"


# --------------------------------------------------------------------------------- returns


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("All of the items, please. Unfortunately the sizes were not as described.", "sizes were not as described"),
        ("ok back to the return - all of it, it irritated my skin", "it irritated my skin"),
        ("everything, because it arrived damaged", "arrived damaged"),
    ],
)
def test_a_reason_given_with_the_items_is_kept(store, cases, text, reason) -> None:
    """The summary then asks for the yes to the whole return, not the reason again."""
    number = grant(store, cases["returnable"])
    lines = store.return_eligibility(SENDER, number).returnable_lines
    tracker = make_tracker(slots={"order_number": number}, active_loop="return_form", text=text)
    out = ValidateReturnForm().validate_return_items(text, CollectingDispatcher(), tracker, {})
    assert out["return_items"] == ",".join(str(line.line_id) for line in lines)
    assert reason in (out.get("return_reason") or ""), out


@pytest.mark.parametrize("text", ["all of them", "all of them please, thanks", "ok, all the items"])
def test_a_pick_alone_is_no_reason(store, cases, text) -> None:
    number = grant(store, cases["returnable"])
    tracker = make_tracker(slots={"order_number": number}, active_loop="return_form", text=text)
    out = ValidateReturnForm().validate_return_items(text, CollectingDispatcher(), tracker, {})
    assert out["return_items"] and out.get("return_reason") is None, out
