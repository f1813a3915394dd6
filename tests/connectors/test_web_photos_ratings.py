"""Photos and ratings through the web API against a fake rasa and a real (migrated) order store.

A photo is checked from its bytes and re-encoded without metadata, kept with the conversation's ticket or
return, shown in its history, and served only to the conversation that sent it. A rating is taken once,
and only where the assistant asked for one.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image, PngImagePlugin
from sqlalchemy.orm import sessionmaker

from connectors.rasa_client import RasaClient
from connectors.web.photos import PhotoRejected, check_photo
from gateway import create_app
from store.db import make_engine
from store.feedback import CustomerFeedback
from store.service import OrderStore
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, make_settings
from tests.connectors.tablet_fixtures import make_shop_db

CID = "photo-conversation-0001"
OTHER = "photo-conversation-0002"
GPS_LATITUDE = 2  # EXIF GPS tag ids
GPS_TAG = 0x8825


def jpeg_with_gps(width: int = 64, height: int = 48, orientation: int | None = None) -> bytes:
    """A JPEG carrying an EXIF GPS position, a camera name and (optionally) an orientation."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    if orientation:
        exif[0x0112] = orientation
    gps = exif.get_ifd(GPS_TAG)
    gps[1], gps[GPS_LATITUDE] = "N", (51.0, 30.0, 26.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "home address: 12 Baker Street")
    out = io.BytesIO()
    Image.new("RGBA", (20, 10), (0, 128, 0, 255)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


# ------------------------------------------------------------------------------------------ pure checks


def test_a_jpeg_loses_its_exif_and_gps_and_is_turned_upright() -> None:
    raw = jpeg_with_gps(64, 48, orientation=6)  # 6: the camera was turned; upright it is 48 x 64
    assert b"PhoneMaker" in raw
    photo = check_photo(raw)
    assert (photo.content_type, photo.width, photo.height) == ("image/jpeg", 48, 64)
    assert b"PhoneMaker" not in photo.data and b"Exif" not in photo.data
    with Image.open(io.BytesIO(photo.data)) as kept:
        assert not kept.getexif() and kept.format == "JPEG"


def test_png_text_chunks_go_and_the_type_comes_from_the_bytes() -> None:
    photo = check_photo(png_with_text())
    assert photo.content_type == "image/png" and b"Baker Street" not in photo.data


@pytest.mark.parametrize(
    ("raw", "code", "status"),
    [
        (b"", "empty_photo", 400),
        (b"just some text, named photo.jpg", "not_a_photo", 415),
        (b"GIF", "not_a_photo", 415),  # replaced by a real GIF below: no decoder but ours reads the bytes
        (b"HALF", "broken_photo", 400),  # a real JPEG cut in half (below)
    ],
)
def test_what_is_not_a_jpeg_png_or_webp_photo_is_refused(raw: bytes, code: str, status: int) -> None:
    if raw == b"GIF":
        gif = io.BytesIO()
        Image.new("P", (4, 4)).save(gif, "GIF")
        raw = gif.getvalue()
    if raw == b"HALF":
        whole = jpeg_with_gps(200, 200)
        raw = whole[: len(whole) // 2]
    with pytest.raises(PhotoRejected) as caught:
        check_photo(raw)
    assert (caught.value.code, caught.value.status) == (code, status)


def test_too_many_bytes_or_pixels_are_refused_before_decoding() -> None:
    with pytest.raises(PhotoRejected) as caught:
        check_photo(jpeg_with_gps(), max_bytes=100)
    assert caught.value.status == 413
    bomb = io.BytesIO()
    Image.new("L", (8000, 8000)).save(bomb, "PNG")  # compresses to a few KB, 64 megapixels decoded
    with pytest.raises(PhotoRejected) as caught:
        check_photo(bomb.getvalue())
    assert (caught.value.code, caught.value.status) == ("photo_too_large", 413)


def test_big_photos_are_scaled_down() -> None:
    out = io.BytesIO()
    Image.new("RGB", (4000, 1000), (1, 2, 3)).save(out, "WEBP")
    photo = check_photo(out.getvalue())
    assert (photo.content_type, photo.width, photo.height) == ("image/webp", 2048, 512)


# ------------------------------------------------------------------------------------------ the API


@dataclass
class Gateway:
    client: TestClient
    shop_url: str
    fake_rasa: FakeRasa

    async def say(self, conversation: str, text: str) -> dict[str, Any]:
        resp = await self.client.post("/api/web/messages", json={"conversation_id": conversation, "text": text})
        body = await resp.json()
        assert resp.status == 200, body
        return body

    async def upload(self, conversation: str | None, data: bytes, content_type: str = "image/jpeg", **headers: str):
        if conversation is not None:
            headers["X-Conversation-Id"] = conversation
        resp = await self.client.post(
            "/api/web/attachments", data=data, headers={"Content-Type": content_type, **headers}
        )
        return resp.status, await resp.json()

    async def download(self, photo_id: object, conversation: str | None) -> tuple[int, bytes, Any]:
        headers = {"X-Conversation-Id": conversation} if conversation else {}
        resp = await self.client.get(f"/api/web/attachments/{photo_id}", headers=headers)
        return resp.status, await resp.read(), resp.headers

    def store(self) -> OrderStore:
        return OrderStore(sessionmaker(make_engine(self.shop_url)))


def bot(body: dict[str, Any]) -> list[dict[str, Any]]:
    if body["message"] == "bye":
        return [{"text": "Bye for now!"}, {"custom": {"type": "rating_request"}}]
    return [{"text": f"echo: {body['message']}"}]


@pytest_asyncio.fixture
async def web(fake_rasa: FakeRasa, tmp_path: Path) -> AsyncIterator[Gateway]:
    fake_rasa.replies = bot
    shop_url = make_shop_db(tmp_path)
    settings = make_settings(fake_rasa.url, shop_db_url=shop_url)
    app = create_app(settings, RasaClient(settings.rasa_url, TOKEN, 2.0, health_timeout=0.5))
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        yield Gateway(client, shop_url, fake_rasa)


async def test_a_photo_goes_with_the_open_ticket_and_only_its_sender_can_fetch_it(web: Gateway) -> None:
    await web.say(CID, "the lid arrived cracked")
    ticket = web.store().open_handoff(f"web:{CID}", channel="web", reason="complaint", summary="cracked lid")
    raw = jpeg_with_gps()
    status, body = await web.upload(CID, raw, **{"X-Client-Message-Id": "photo-msg-0001"})
    assert status == 201, body
    photo = body["photo"]
    assert (photo["ticket"], photo["content_type"], photo["width"], photo["height"]) == (
        ticket.ticket_number,
        "image/jpeg",
        64,
        48,
    )
    assert body["entry"]["text"] == f"Photo for {ticket.ticket_number}"

    status, data, headers = await web.download(photo["id"], CID)
    assert status == 200 and data[:3] == b"\xff\xd8\xff" and b"PhoneMaker" not in data
    assert headers["Cache-Control"] == "private, no-store" and "sandbox" in headers["Content-Security-Policy"]
    # Nobody else gets anything, and cannot tell a wrong guess from someone else's photo.
    await web.say(OTHER, "hello")
    refused = [
        await web.download(photo["id"], OTHER),  # another conversation
        await web.download(photo["id"], None),  # no conversation at all
        await web.download(photo["id"] + 1, CID),  # a guessed id
        await web.download("1%20OR%201=1", CID),  # not an id
    ]
    assert [(s, d) for s, d, _ in refused] == [(404, b'{"error": "no such photo", "code": "not_found"}')] * 4
    # Kept in the order store with the ticket (staff see it in the console and, with Slack, in the thread).
    kept = CustomerFeedback.of(web.store()).photos_for_tickets([ticket.ticket_number])[ticket.ticket_number]
    assert [p.photo_id for p in kept] == [photo["id"]]

    # The history shows it, and a resend with the same client id keeps one.
    assert (await web.upload(CID, raw, **{"X-Client-Message-Id": "photo-msg-0001"}))[0] == 201
    resp = await web.client.get(f"/api/web/history?conversation_id={CID}")
    entries = (await resp.json())["entries"]
    photos = [e for e in entries if e.get("photo")]
    assert len(photos) == 1 and photos[0]["photo"]["id"] == photo["id"] and photos[0]["status"] == "answered"
    assert [b["message"] for b in web.fake_rasa.received] == ["the lid arrived cracked", "hello"]  # not to rasa


async def test_bad_uploads_get_a_clear_answer_and_nothing_is_kept(web: Gateway) -> None:
    await web.say(CID, "wrong shade")
    assert (await web.upload("never-wrote-0001", jpeg_with_gps()))[0:2] == (
        404,
        {"error": "send a message first: this conversation has not started", "code": "unknown_conversation"},
    )
    assert (await web.upload(None, jpeg_with_gps()))[0] == 400
    status, body = await web.upload(CID, b"%PDF-1.4 not a picture", "image/jpeg")  # the header lies
    assert (status, body["code"]) == (415, "not_a_photo")
    assert (await web.upload(CID, b"<svg/>", "image/svg+xml"))[1]["code"] == "unsupported_media_type"
    status, body = await web.upload(CID, b"\xff" * (8 * 1024 * 1024 + 1))
    assert (status, body["code"]) == (413, "photo_too_large")
    assert CustomerFeedback.of(web.store()).photos_for_conversations([f"web:{CID}"]) == {}


async def test_a_png_sent_as_jpeg_is_kept_as_png_and_uploads_are_limited(web: Gateway) -> None:
    await web.say(CID, "here is the wrong shade")
    status, body = await web.upload(CID, png_with_text(), "image/jpeg")
    assert status == 201 and body["photo"]["content_type"] == "image/png"
    for _ in range(9):
        assert (await web.upload(CID, png_with_text(), "image/png"))[0] == 201
    status, body = await web.upload(CID, png_with_text(), "image/png")
    assert (status, body["code"]) == (429, "rate_limited") and body["retry_after"] > 0


async def test_a_rating_is_taken_once_and_only_where_it_was_asked_for(web: Gateway) -> None:
    await web.say(CID, "thanks")

    async def rate(**body: Any) -> tuple[int, dict[str, Any]]:
        resp = await web.client.post("/api/web/ratings", json={"conversation_id": CID, **body})
        return resp.status, await resp.json()

    assert (await rate(score=5))[1]["code"] == "not_asked"  # the assistant has not said goodbye yet
    await web.say(CID, "bye")  # answered with a rating_request
    for bad in ({"score": 0}, {"score": 6}, {"score": "5"}, {"score": True}, {"score": 4, "comment": "x" * 1001}):
        assert (await rate(**bad))[0] == 400, bad
    assert (await rate(score=4, ticket="HO-000001"))[1]["code"] == "not_asked"  # no such hand-off asked
    status, body = await rate(score=4, comment="quick, thanks")
    assert status == 201 and body["rating"] == {"score": 4, "subject": "conversation", "outcome": "assistant"}
    assert (await rate(score=1))[0:2] == (409, {"error": "thank you, this was rated already", "code": "already_rated"})
    [kept] = CustomerFeedback.of(web.store()).ratings()
    assert (kept.conversation_id, kept.channel, kept.score, kept.comment) == (f"web:{CID}", "web", 4, "quick, thanks")
    resp = await web.client.get(f"/api/web/history?conversation_id={CID}")
    assert [e["rating"] for e in (await resp.json())["entries"] if e.get("rating")] == [body["rating"]]


async def test_a_resolved_handoff_is_rated_by_its_ticket(web: Gateway) -> None:
    from connectors.handoff.translate import resolved_message  # noqa: PLC0415
    from connectors.keys import PUSH_KEY  # noqa: PLC0415

    await web.say(CID, "a person please")
    store = web.store()
    ticket = store.open_handoff(f"web:{CID}", channel="web", reason="customer asked for a person", summary="")
    await web.client.app[PUSH_KEY].push(f"web:{CID}", [resolved_message(ticket.ticket_number)])
    body = {"conversation_id": CID, "score": 2, "ticket": ticket.ticket_number}
    resp = await web.client.post("/api/web/ratings", json=body)
    assert (resp.status, (await resp.json())["code"]) == (404, "not_asked")  # asked, but not resolved in the store
    store.close_handoff(ticket.ticket_number)
    resp = await web.client.post("/api/web/ratings", json=body)
    assert resp.status == 201 and (await resp.json())["rating"]["outcome"] == "handoff"


async def test_ratings_are_bounded_per_client_source(
    fake_rasa: FakeRasa, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R2-4: every new chat that says "bye" is asked for a rating, so ten new chats gave ten one-star ratings
    monkeypatch.setenv("GATEWAY_WEB_RATINGS_PER_SOURCE", "3")
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", "127.0.0.1")  # so the test can stand for several clients
    fake_rasa.replies = bot
    shop_url = make_shop_db(tmp_path)
    settings = make_settings(fake_rasa.url, shop_db_url=shop_url)
    app = create_app(settings, RasaClient(settings.rasa_url, TOKEN, 2.0, health_timeout=0.5))
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:

        async def new_chat_rates(n: int, client_address: str) -> tuple[int, dict[str, Any], Any]:
            conversation = f"stuffing-{client_address.replace('.', '-')}-{n:03d}"
            headers = {"X-Forwarded-For": client_address}
            body = {"conversation_id": conversation, "text": "bye"}
            assert (await client.post("/api/web/messages", json=body, headers=headers)).status == 200
            resp = await client.post(
                "/api/web/ratings", json={"conversation_id": conversation, "score": 1}, headers=headers
            )
            return resp.status, await resp.json(), resp.headers

        answers = [await new_chat_rates(n, "203.0.113.7") for n in range(6)]
        assert [status for status, _, _ in answers] == [201, 201, 201, 429, 429, 429]
        status, body, headers = answers[-1]
        assert body["code"] == "rate_limited" and 3000 < int(headers["Retry-After"]) <= 3600, body
        # another client is not held back by the first one's ratings
        assert (await new_chat_rates(0, "198.51.100.20"))[0] == 201
    kept = CustomerFeedback.of(OrderStore(sessionmaker(make_engine(shop_url)))).ratings()
    assert len(kept) == 4 and {r.score for r in kept} == {1}
