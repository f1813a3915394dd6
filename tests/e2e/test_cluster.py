"""Two gateways, two rasa and two action servers behind HAProxy on real PostgreSQL and Redis (scripts/cluster.py).

One conversation spread over both gateways (and so over both rasa replicas) keeps its order and loses nothing,
even with two of its messages in flight at once (rasa's lock store in Redis); order news pushed through one
gateway reaches the customer's socket on the other (Redis fan-out), once; a resent message is answered once; every
process and the balancer expose their metrics.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectors.notify.translate import SIGNATURE_HEADER, sign
from scripts.cluster import Cluster, ClusterConfig
from scripts.services import postgres_bindir
from scripts.stack import StackError
from tests.e2e.conftest import Chat

pytestmark = pytest.mark.e2e

SECRET = "carrier-cluster-secret-0123456789"
MISSING = [
    name
    for name, found in (
        ("postgresql", postgres_bindir() is not None),
        ("redis-server", shutil.which("redis-server") is not None),
        ("haproxy", shutil.which("haproxy") is not None or Path("/usr/sbin/haproxy").exists()),
    )
    if not found
]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """The cluster, 2 replicas of each process, on a fresh folder (seeded shop in its PostgreSQL)."""
    if MISSING:
        pytest.skip(f"{', '.join(MISSING)} not installed: apt-get install postgresql redis-server haproxy (CI does)")
    folder = Path(tempfile.mkdtemp(prefix="cluster-e2e-"))
    config = ClusterConfig(
        folder,
        extra_env={
            "GATEWAY_WEB_RATE_PER_ADDRESS": "100000",
            "CARRIER_WEBHOOK_SECRET": SECRET,
            "NOTIFY_POLL_SECONDS": "0.5",
            "NOTIFY_RETRY_SECONDS": "1",
        },
    )
    running = Cluster(config)
    try:
        running.start(timeout=360, progress=sys.stderr)
    except StackError as error:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(str(error))
    try:
        yield running
    finally:
        dead = [r.name for r in running.dead()]
        running.stop()
        if not dead:
            shutil.rmtree(folder, ignore_errors=True)
        assert not dead, f"{dead} died during the cluster tests; logs in {folder / 'logs'}"


def cases(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """The demo cases of the cluster's shop (in its PostgreSQL)."""
    done = subprocess.run(
        [sys.executable, "-m", "store", "demo-cases"],
        env={"SHOP_DATABASE_URL": cluster.urls["shop"], "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return {case["case"]: case for case in json.loads(done.stdout)}


async def tracker_events(cluster: Cluster, conversation: str) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{cluster.rasa_url}/conversations/web:{conversation}/tracker", params={"token": cluster.config.api_token}
        ) as resp,
    ):
        assert resp.status == 200
        return (await resp.json())["events"]


async def test_one_conversation_over_both_gateways_keeps_order(cluster: Cluster) -> None:
    one, two = (r.url for r in cluster.of("gateway"))
    chat = Chat(one)
    texts = ["hi", "what is your return policy?", "how much is shipping to Germany for a £40 order?", "thanks a lot"]
    expected = ["I'm the shop's assistant", "30 days", "Delivery to Germany", "You're welcome"]
    for i, (text, phrase) in enumerate(zip(texts, expected, strict=True)):
        chat.base_url = (one, two, cluster.gateway_url)[i % 3]
        assert phrase in await chat.say(text), chat.dump()
    users = [e["text"] for e in await tracker_events(cluster, chat.conversation_id) if e["event"] == "user"]
    assert users == texts


async def test_two_messages_in_flight_at_once_are_answered_one_after_the_other(cluster: Cluster) -> None:
    one, two = (r.url for r in cluster.of("gateway"))
    conversation = uuid.uuid4().hex[:16]
    first, second = Chat(one, conversation), Chat(two, conversation)
    replies = await asyncio.gather(first.say("what is your return policy?"), second.say("which payment methods?"))
    assert "30 days" in replies[0] and "PayPal" in replies[1]
    events = await tracker_events(cluster, conversation)
    kinds = [e["event"] for e in events if e["event"] in ("user", "bot")]
    # the lock store let one turn finish before the other began: user, bot(s), user, bot(s)
    assert kinds.count("user") == 2
    second_user = kinds.index("user", kinds.index("user") + 1)
    assert "bot" in kinds[1:second_user] and "bot" in kinds[second_user:]


async def test_news_pushed_through_one_gateway_reaches_the_socket_on_the_other(cluster: Cluster) -> None:
    one, two = (r.url for r in cluster.of("gateway"))
    case = cases(cluster)["in_transit"]
    chat = Chat(one)
    await chat.say("where is my order?")
    await chat.say(case["order_number"])
    assert f"that matches order {case['order_number']}" in await chat.say(case["email"]), chat.dump()
    assert "I'll message you on the web chat" in await chat.say("notify me about my orders"), chat.dump()
    event = json.dumps({"order_number": case["order_number"], "event": "delayed", "event_id": uuid.uuid4().hex})
    async with aiohttp.ClientSession() as session:
        socket = await session.ws_connect(
            f"{two.replace('http', 'ws')}/api/web/ws?conversation_id={chat.conversation_id}"
        )
        async with session.post(
            f"{one}/api/carrier/events",
            data=event.encode(),
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(SECRET, event.encode())},
        ) as resp:
            assert resp.status == 202, await resp.text()
        frame = await socket.receive_json(timeout=30)
        assert frame["type"] == "bot" and frame["pushed"] is True
        assert case["order_number"] in frame["messages"][0]["text"]
        with pytest.raises(asyncio.TimeoutError):  # once, though both gateways run the notifier
            await socket.receive_json(timeout=4)
        await socket.close()


async def test_a_resent_message_is_answered_once(cluster: Cluster) -> None:
    conversation = f"web:{uuid.uuid4().hex[:16]}"
    body = {"sender": conversation, "message": "what is your return policy?", "metadata": {"channel": "web"}}
    headers = {"Authorization": f"Bearer {cluster.config.token}", "X-Message-ID": uuid.uuid4().hex}
    async with aiohttp.ClientSession() as session:
        answers = []
        for _ in range(2):
            async with session.post(f"{cluster.rasa_url}/webhooks/gateway/webhook", json=body, headers=headers) as r:
                assert r.status == 200
                answers.append(await r.json())
        assert answers[0] == answers[1] and "30 days" in answers[0][0]["text"]
        async with session.get(
            f"{cluster.rasa_url}/conversations/{conversation}/tracker", params={"token": cluster.config.api_token}
        ) as resp:
            events = (await resp.json())["events"]
    assert [e["event"] for e in events].count("user") == 1


async def test_every_process_and_the_balancer_expose_metrics(cluster: Cluster) -> None:
    async with aiohttp.ClientSession() as session:
        for gateway in cluster.of("gateway"):
            async with session.get(f"{gateway.url}/metrics") as resp:
                text = await resp.text()
                assert resp.status == 200 and "shop_gateway_turns_total" in text
                assert "shop_gateway_rasa_up 1.0" in text and "shop_gateway_shared_state_up 1.0" in text
        seen_runs = 0
        for action_server in cluster.of("actions"):
            async with session.get(f"{action_server.url}/metrics") as resp:
                assert resp.status == 200
                seen_runs += (await resp.text()).count("shop_actions_runs_total{")
        assert seen_runs > 0
        async with session.get(f"{cluster.stats_url}/metrics") as resp:
            text = await resp.text()
            assert 'haproxy_server_status{proxy="rasa",server="rasa-1",state="UP"} 1' in text
        async with session.get(f"{cluster.gateway_url}/metrics") as resp:
            assert resp.status == 404  # not for customers
