"""A customer's photo during a hand-off relayed through Slack: it lands in the ticket's thread as a file."""

from __future__ import annotations

from connectors.handoff.translate import CLAIM_ACTION
from store.feedback import CustomerFeedback
from tests.connectors.handoff.conftest import CONVERSATION, STAFF_USER, SUPPORT_CHANNEL, HandoffGateway, handoff_reply
from tests.connectors.test_web_photos_ratings import jpeg_with_gps


async def test_a_photo_reaches_the_tickets_slack_thread_without_its_metadata(handoff_gateway: HandoffGateway) -> None:
    gw = handoff_gateway
    ticket = gw.store.open_handoff(f"web:{CONVERSATION}", channel="web", reason="complaint", summary="...")
    gw.rasa.replies = handoff_reply(ticket.ticket_number, reason="complaint")
    await gw.say("a person please")
    ticket_ts = "1732800000.000001"  # the fake's first ts: the ticket's message
    assert await gw.press(CLAIM_ACTION, ticket.ticket_number, STAFF_USER, "Sam") == 200

    raw = jpeg_with_gps()
    resp = await gw.client.post(
        "/api/web/attachments",
        data=raw,
        headers={"Content-Type": "image/jpeg", "X-Conversation-Id": CONVERSATION},
    )
    body = await resp.json()
    assert resp.status == 201, body
    assert body["photo"]["ticket"] == ticket.ticket_number

    [asked] = gw.fake.calls_to("files.getUploadURLExternal")
    [done] = gw.fake.calls_to("files.completeUploadExternal")
    assert (done.args["channel_id"], done.args["thread_ts"]) == (SUPPORT_CHANNEL, ticket_ts)
    assert done.args["initial_comment"] == "The customer sent a photo."
    [uploaded] = gw.fake.uploads.values()
    assert uploaded[:3] == b"\xff\xd8\xff" and b"PhoneMaker" not in uploaded  # the clean copy, not the original
    assert int(asked.args["length"]) == len(uploaded)
    kept = CustomerFeedback.of(gw.store).photo(body["photo"]["id"])
    assert kept.data == uploaded
    state = gw.desk.state
    assert state.get(ticket.ticket_number) is not None
    assert gw.desk.counts["handoff.slack_failed"] == 0
