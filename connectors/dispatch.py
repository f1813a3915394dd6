"""What every channel hands its inbound messages to, and the Channel protocol channels implement."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Protocol

from aiohttp import web

from connectors.admission import Admission
from connectors.errors import Abandoned, Busy, ButtonNotOffered, RasaAuthError, RasaError, RasaUnavailable
from connectors.models import Button, InboundMessage, OutboundMessage
from connectors.offers import Offers
from connectors.rasa_client import RasaClient
from connectors.rich import custom_type
from connectors.text import clean_typed_text

log = logging.getLogger(__name__)


class HandoffHook(Protocol):
    """What the dispatcher asks around each turn when hand-offs are relayed (``connectors.handoff.HandoffDesk``)."""

    async def intercept(self, inbound: InboundMessage) -> list[OutboundMessage] | None:
        """None to let rasa answer; otherwise the replies while a person holds the conversation."""
        ...

    async def after_turn(self, inbound: InboundMessage, replies: Sequence[OutboundMessage]) -> list[OutboundMessage]:
        """Open tickets for ``handoff`` payloads in ``replies``; return what the customer sees."""
        ...


#: The one apology for a turn without anything to show (rasa answered nothing, an action failed, a flow
#: ended without a sentence). Each channel ends it with its way to a person (`empty_turn_apology`); tests and
#: the conversation runner recognise it with `is_empty_turn_apology`.
EMPTY_TURN_APOLOGY = "Sorry, I couldn't finish answering that just now. Please try again in a moment"


def empty_turn_apology(inbound: InboundMessage) -> OutboundMessage:
    """What a customer sees when rasa answered nothing: an apology and, where a person can help, the way to one."""
    if inbound.channel == "slack":
        return OutboundMessage(text=f"{EMPTY_TURN_APOLOGY}; the rasa and action-server logs say what went wrong.")
    if inbound.channel == "tablet":
        return OutboundMessage(text=f"{EMPTY_TURN_APOLOGY}, or ask any member of staff in the shop.")
    return OutboundMessage(
        text=f"{EMPTY_TURN_APOLOGY}, or I can pass you to a person from our team.",
        buttons=(Button("Talk to a person", "/human_handoff"),),
    )


def is_empty_turn_apology(text: str | None) -> bool:
    """True when ``text`` is the gateway's empty-turn apology (on any channel)."""
    return (text or "").strip().startswith(EMPTY_TURN_APOLOGY)


def _is_handoff_payload(message: OutboundMessage) -> bool:
    return custom_type(message) == "handoff"


#: Custom payloads a channel turns into something the customer sees (cards; a tablet's staff call becomes
#: "someone is on their way" or "please ask at the till"). Any other custom payload alone is not an answer.
SHOWN_CUSTOM = frozenset({"product_cards", "staff_call"})


def shows_something(message: OutboundMessage) -> bool:
    """True when the customer sees this message (text, buttons, an image, or a drawn custom payload)."""
    if message.text and message.text.strip():
        return True
    if message.buttons or message.image or message.attachment:
        return True
    return custom_type(message) in SHOWN_CUSTOM


class Dispatcher:
    """Forwards normalized messages to rasa, counting and logging every failure once.

    Channel-independent concerns live here, so each channel stays a translation layer: the bounded queue
    toward rasa and one message per conversation at a time (``connectors.admission``), button presses checked
    against what the assistant offered (``connectors.offers``), a person holding the conversation, empty turns.

    Attributes:
        counts: counters such as ``web.inbound``, ``web.rasa_unavailable``, ``web.rasa_error``, ``web.busy``,
            ``web.abandoned``, ``web.payload_not_offered``.
        admission: the gate in front of rasa.
        offers: the payloads each conversation may press.
    """

    def __init__(self, rasa: RasaClient, *, admission: Admission | None = None, offers: Offers | None = None) -> None:
        """Use ``rasa`` for every message.

        Args:
            rasa: the client (its session opens on first use).
            admission: the gate in front of rasa (default: `AdmissionSettings` defaults).
            offers: where offered payloads are kept (default: this process; the app passes the shared state).
        """
        self.rasa = rasa
        self.counts: Counter[str] = Counter()
        self.admission = admission or Admission()
        self.offers = offers or Offers()
        self._standing: dict[str, frozenset[str]] = {}
        # Set by connectors.handoff.install (with Slack): a person holding a conversation silences the bot.
        self.handoff: HandoffHook | None = None

    def always_offer(self, channel: str, payloads: Iterable[str]) -> None:
        """Payloads ``channel`` offers at all times (fixed buttons of its page, not from a reply)."""
        self._standing[channel] = self._standing.get(channel, frozenset()) | frozenset(payloads)

    async def dispatch(
        self, inbound: InboundMessage, still_wanted: Callable[[], bool] | None = None
    ) -> list[OutboundMessage]:
        """Send one message to rasa and return the replies.

        Args:
            inbound: the normalized message.
            still_wanted: returns False once the customer has gone (a closed connection); a message still
                waiting for its turn is then dropped instead of sent.

        Returns:
            The bot messages.

        Raises:
            Busy: the assistant (or this conversation) has too much to answer; nothing was sent.
            Abandoned: the customer went away before the message's turn; nothing was sent.
            ButtonNotOffered: a press of a button the assistant did not offer, without a title.
            RasaUnavailable, RasaAuthError, RasaError: re-raised after being counted and logged;
                the channel maps them to a reply with ``connectors.errors.describe_for_user``.
        """
        channel = inbound.channel
        self.counts[f"{channel}.inbound"] += 1
        try:
            async with self.admission.turn(inbound.conversation_id, still_wanted):
                inbound = await self._pressable(inbound)
                replies = await self._answer(inbound)
                await self.offers.record(inbound.conversation_id, replies)
                return replies
        except Busy:
            self.counts[f"{channel}.busy"] += 1
            raise
        except Abandoned:
            self.counts[f"{channel}.abandoned"] += 1
            raise

    async def _pressable(self, inbound: InboundMessage) -> InboundMessage:
        """The message as rasa may see it: a payload only if it was offered, else its button's title as text."""
        payload = inbound.payload
        if payload is None or inbound.payload_from_gateway or payload in self._standing.get(inbound.channel, ()):
            return inbound
        if payload in await self.offers.offered(inbound.conversation_id):
            return inbound
        self.counts[f"{inbound.channel}.payload_not_offered"] += 1
        title = clean_typed_text(inbound.text or "")
        if not title:
            raise ButtonNotOffered("a button press the assistant did not offer, without a title")
        log.info("a %s button press was never offered in this conversation: read as its title", inbound.channel)
        return replace(inbound, payload=None, text=title)

    async def _answer(self, inbound: InboundMessage) -> list[OutboundMessage]:
        channel = inbound.channel
        if self.handoff is not None:
            held = await self.handoff.intercept(inbound)
            if held is not None:
                self.counts[f"{channel}.to_person"] += 1
                return held
        try:
            replies = await self.rasa.send(inbound)
        except RasaUnavailable as exc:
            self.counts[f"{channel}.rasa_unavailable"] += 1
            log.warning("rasa unavailable (%s message): %s", channel, exc)
            raise
        except RasaAuthError as exc:
            self.counts[f"{channel}.rasa_error"] += 1
            log.error("gateway misconfigured: %s", exc)
            raise
        except RasaError as exc:
            self.counts[f"{channel}.rasa_error"] += 1
            log.error("rasa error (%s message): %s", channel, exc)
            raise
        # Two actions failing in one turn each send the action server's apology: say it once.
        replies = [m for i, m in enumerate(replies) if i == 0 or m != replies[i - 1]]
        if self.handoff is not None:
            replies = await self.handoff.after_turn(inbound, replies)
        else:
            # Without a desk nobody relays tickets; the payload is staff-only, so customers never get it.
            replies = [m for m in replies if not _is_handoff_payload(m)]
        replies = self.never_silent(inbound, replies)
        self.counts[f"{channel}.replies"] += len(replies)
        return replies

    def never_silent(self, inbound: InboundMessage, replies: list[OutboundMessage]) -> list[OutboundMessage]:
        """Every customer message gets an answer: a turn with nothing to show becomes `empty_turn_apology`.

        Rasa goes quiet when an action fails or the action server is unreachable ("the actions events are
        lost"), and a flow that ends without a sentence is a dialogue bug; either way the customer must still
        hear something and know how to reach a person. Checked after the hand-off desk, so a staff-only
        payload alone counts as nothing. Counted as ``{channel}.silent_turn`` and logged with the channel
        only: never the text, nor the conversation id (a web customer's bearer secret).
        A person holding the conversation (``intercept``) is not a silent turn: that path returns earlier.
        """
        if any(shows_something(m) for m in replies):
            return replies
        self.counts[f"{inbound.channel}.silent_turn"] += 1
        log.warning("rasa answered nothing to a %s message; sent the apology instead", inbound.channel)
        return [*replies, empty_turn_apology(inbound)]


class Channel(Protocol):
    """A front door (web, tablet, Telegram, Slack) plugged into the gateway app.

    ``setup`` adds the channel's routes and, for channels that poll or hold connections
    (Telegram long polling, Slack Socket Mode), a ``cleanup_ctx`` that starts and stops them.
    """

    name: str

    def setup(self, app: web.Application, dispatcher: Dispatcher) -> None:
        """Register routes and background tasks on ``app``; connect nothing yet."""
        ...
