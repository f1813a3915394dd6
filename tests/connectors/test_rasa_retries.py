"""RasaClient resends a message rasa could not take (another replica answers it), with the same message id."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.errors import RasaUnavailable
from connectors.models import InboundMessage
from connectors.rasa_client import RasaClient
from tests.connectors.gateway_fakes import TOKEN, FakeRasa


def inbound() -> InboundMessage:
    return InboundMessage(channel="web", sender_id="r" * 16, text="where is my order?")


class FlakyRasa(FakeRasa):
    """Answers 503, then 502, then normally: a balancer while a rasa replica is replaced."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses = iter([503, 502])
        self.message_ids: list[str] = []

    async def webhook(self, request: Any) -> Any:
        self.status = next(self.statuses, 200)
        self.message_ids.append(request.headers.get("X-Message-ID", ""))
        return await super().webhook(request)


async def test_a_503_is_resent_with_the_same_message_id() -> None:
    rasa = FlakyRasa()
    rasa.replies = lambda body: [{"recipient_id": body["sender"], "text": "Which order is it about?"}]
    await rasa.start()
    client = RasaClient(rasa.url, TOKEN, 2.0, retry_seconds=5.0)
    try:
        replies = await client.send(inbound())
    finally:
        await client.close()
        await rasa.stop()
    assert [r.text for r in replies] == ["Which order is it about?"]
    assert len(rasa.received) == 3
    assert len(set(rasa.message_ids)) == 1 and len(rasa.message_ids[0]) == 32
    assert client.retries == 2


async def test_without_a_retry_budget_the_first_failure_is_final(fake_rasa: FakeRasa) -> None:
    fake_rasa.status = 503
    client = RasaClient(fake_rasa.url, TOKEN, 2.0)
    try:
        with pytest.raises(RasaUnavailable):
            await client.send(inbound())
    finally:
        await client.close()
    assert len(fake_rasa.received) == 1


async def test_a_timeout_is_never_resent(fake_rasa: FakeRasa) -> None:
    fake_rasa.delay = 1.5  # rasa may still be answering it: a resend could answer it twice
    client = RasaClient(fake_rasa.url, TOKEN, 0.5, retry_seconds=5.0)
    try:
        with pytest.raises(RasaUnavailable) as caught:
            await client.send(inbound())
    finally:
        await client.close()
    assert caught.value.retryable is False
    assert len(fake_rasa.received) == 1


async def test_a_refused_connection_is_resent_until_the_budget_runs_out(fake_rasa: FakeRasa) -> None:
    url = fake_rasa.url
    await fake_rasa.stop()
    client = RasaClient(url, TOKEN, 2.0, retry_seconds=1.0)
    try:
        with pytest.raises(RasaUnavailable) as caught:
            await client.send(inbound())
    finally:
        await client.close()
    assert caught.value.retryable is True
    assert client.retries >= 2
