"""The gateway's /metrics and request ids (connectors/metrics.py), against the fake rasa."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

from tests.connectors.gateway_fakes import FakeRasa


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text ``text`` (0.0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(r"^([a-z_]+)(?:\{(.*)\})? (\S+)$", line)
        if match and match.group(1) == name and ",".join(sorted((match.group(2) or "").split(","))) == wanted:
            return float(match.group(3))
    return 0.0


async def metrics(gateway: TestClient) -> str:
    resp = await gateway.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    return await resp.text()


async def test_a_turn_is_counted_timed_and_carries_its_request_id(gateway: TestClient, fake_rasa: FakeRasa) -> None:
    resp = await gateway.post(
        "/api/web/messages", json={"conversation_id": "m" * 16, "text": "hi"}, headers={"X-Request-ID": "lb-42"}
    )
    assert resp.status == 200
    assert resp.headers["X-Request-ID"] == "lb-42"
    text = await metrics(gateway)
    assert sample(text, "shop_gateway_turns_total", channel="web", kind="text", outcome="ok") == 1.0
    assert sample(text, "shop_gateway_turn_seconds_count", channel="web", kind="text") == 1.0
    assert sample(text, "shop_gateway_http_responses_total", route="/api/web/messages", status="200") == 1.0
    assert sample(text, "shop_gateway_events_total", event="web.inbound") == 1.0
    assert sample(text, "shop_gateway_rasa_up") == 1.0
    assert sample(text, "shop_gateway_shared_state_up") == 1.0


async def test_a_made_up_request_id_when_none_or_a_bad_one_comes(gateway: TestClient, fake_rasa: FakeRasa) -> None:
    resp = await gateway.post(
        "/api/web/messages", json={"conversation_id": "n" * 16, "text": "hi"}, headers={"X-Request-ID": "<script>"}
    )
    made = resp.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert fake_rasa.received[-1]["metadata"] == {"channel": "web"}  # the contract's body; the id is a header


async def test_errors_are_counted_by_the_code_the_customer_saw(gateway: TestClient, fake_rasa: FakeRasa) -> None:
    fake_rasa.status = 503
    resp = await gateway.post("/api/web/messages", json={"conversation_id": "e" * 16, "text": "hi"})
    assert resp.status == 503
    await gateway.post("/api/web/messages", json={"conversation_id": "e" * 16})  # malformed: 400
    text = await metrics(gateway)
    assert sample(text, "shop_gateway_turns_total", channel="web", kind="text", outcome="rasa_unavailable") == 1.0
    assert sample(text, "shop_gateway_http_responses_total", route="/api/web/messages", status="503") == 1.0
    assert sample(text, "shop_gateway_http_responses_total", route="/api/web/messages", status="400") == 1.0
    assert sample(text, "shop_gateway_events_total", event="web.rasa_unavailable") == 1.0


async def test_rasa_down_shows_in_rasa_up(gateway: TestClient, fake_rasa: FakeRasa) -> None:
    await fake_rasa.stop()
    text = await metrics(gateway)
    assert sample(text, "shop_gateway_rasa_up") == 0.0
    # raw paths (with ids) never become labels
    await gateway.get("/api/web/history?conversation_id=" + "x" * 16)
    assert "x" * 16 not in await metrics(gateway)
