"""channel_context: metadata is believed only when the gateway delivered the message."""

from __future__ import annotations

from actions.common import channel_context
from tests.actions.helpers import make_tracker


def test_gateway_metadata_is_trusted() -> None:
    tracker = make_tracker(metadata={"channel": "tablet", "store_id": "LDN-01"})
    context = channel_context(tracker)
    assert context.trusted and context.channel == "tablet"
    assert context.store_id == "LDN-01"
    assert not context.is_staff


def test_staff_role_from_slack_metadata() -> None:
    tracker = make_tracker(metadata={"channel": "slack", "staff": {"id": "U123", "role": "staff"}})
    context = channel_context(tracker)
    assert context.is_staff and context.staff_id == "U123" and context.staff_role == "staff"


def test_rest_channel_cannot_claim_staff_or_store() -> None:
    forged = {"channel": "slack", "staff": {"id": "U123", "role": "manager"}, "store_id": "LDN-01"}
    context = channel_context(make_tracker(metadata=forged, input_channel="rest"))
    assert not context.trusted and not context.is_staff
    assert context.store_id is None and context.channel == "rest"


def test_metadata_channel_must_match_input_channel() -> None:
    tracker = make_tracker(metadata={"channel": "slack", "staff": {"id": "U1", "role": "staff"}}, input_channel="web")
    assert not channel_context(tracker).is_staff
