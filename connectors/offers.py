"""Which button payloads the assistant offered a conversation; checked by the Dispatcher.

A payload (``/affirm``, ``/inform{"order_number": "ORD-100123"}``) reaches rasa as an intent with entities,
and entities set slots. Any client can send any payload: the web and tablet APIs take one in the body, a
modified Telegram client can put anything in a callback, a Slack button's value is what the message said. So
the gateway forwards a payload only when

* the assistant offered exactly that payload to that conversation (a button, or a product card's button;
  the last ``MAX_OFFERED`` distinct ones stay pressable, so a customer may still press a card shown two
  replies ago), or
* the channel always offers it (the tablet's fixed "Recommend something" and "Call a staff member"), or
* the gateway built it itself (Telegram's ``/start``, the tablet's stock question).

Any other press is read as typed text: the title the customer saw on the button, as natural language (a
stale "Yes, cancel it" means what typing it means now). A press without a title is refused
(``ButtonNotOffered``): no button of ours lacks one. Typed text itself never starts with ``/``
(``connectors.text.clean_typed_text``, ``InboundMessage.rasa_text``).

What was offered is kept in the gateways' shared state (``connectors.shared_state``: this process, or Redis
for several gateways) for a day, keyed by a hash of the conversation id (a web conversation id is a secret).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from connectors.models import OutboundMessage
from connectors.rich import card_payloads
from connectors.shared_state import LocalState

#: Shared-state scope of the offered payloads.
SCOPE = "offers"
#: How long a reply's buttons stay pressable (a customer may come back to a tab the next morning).
OFFERS_TTL_SECONDS = 24 * 3600
#: Most payloads kept per conversation (the newest): bounded whatever a conversation is shown.
MAX_OFFERED = 64


def payloads_in(replies: Iterable[OutboundMessage]) -> frozenset[str]:
    """Every payload a customer could press in ``replies``: buttons, and product cards' (``connectors.rich``)."""
    found: set[str] = set()
    for message in replies:
        found.update(button.payload for button in message.buttons)
        found.update(card_payloads(message))
    return frozenset(p for p in found if p.startswith("/"))


class Offers:
    """The payloads each conversation may press now (the newest ``MAX_OFFERED`` it was offered), in the gateways'
    shared state."""

    def __init__(self, state: LocalState | None = None, ttl: float = OFFERS_TTL_SECONDS) -> None:
        """Keep offers in ``state`` (default: this process only) for ``ttl`` seconds."""
        self.state = state or LocalState()
        self.ttl = ttl

    @staticmethod
    def _key(conversation_id: str) -> str:
        return hashlib.sha256(conversation_id.encode()).hexdigest()[:32]

    async def record(self, conversation_id: str, replies: Iterable[OutboundMessage]) -> None:
        """``replies`` went to ``conversation_id``: their payloads may be pressed from now on too."""
        new = sorted(payloads_in(replies))
        if not new:
            return
        earlier = [p for p in await self._list(conversation_id) if p not in new]
        payloads = (earlier + new)[-MAX_OFFERED:]
        await self.state.remember(SCOPE, self._key(conversation_id), json.dumps(payloads), self.ttl)

    async def offered(self, conversation_id: str) -> frozenset[str]:
        """The payloads ``conversation_id`` was offered and may press (none when unknown or expired)."""
        return frozenset(await self._list(conversation_id))

    async def _list(self, conversation_id: str) -> list[str]:
        raw = await self.state.recall(SCOPE, self._key(conversation_id))
        if raw is None:
            return []
        try:
            payloads = json.loads(raw)
        except ValueError:
            return []
        return [p for p in payloads if isinstance(p, str)] if isinstance(payloads, list) else []
