"""The input channel the gateway talks to; loaded by `rasa run` from credentials.yml.

Like Rasa's `rest` channel, but it checks a shared bearer token, validates the body instead of
crashing on it, passes the gateway's metadata (channel, store, verified customer) to the tracker and
answers with every bot message of the turn as one JSON list.
"""

from __future__ import annotations

import hmac
import logging
import os
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Dict, List

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.tracker_store import lock_held

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4000
MAX_SENDER_CHARS = 128


class GatewayInput(InputChannel):
    """`POST /webhooks/gateway/webhook` with `{"sender", "message", "metadata"}`."""

    @classmethod
    def name(cls) -> str:
        """The channel name used in the webhook path."""
        return "gateway"

    def __init__(self, token: str | None = None) -> None:
        """Keep the shared secret; an empty one refuses every request.

        Args:
            token: the bearer token the gateway must present (from `${GATEWAY_TOKEN}`).
        """
        self.token = (token or os.environ.get("GATEWAY_TOKEN") or "").strip()
        if not self.token:
            logger.error("GATEWAY_TOKEN is not set: the gateway channel will refuse every request")

    @classmethod
    def from_credentials(cls, credentials: Dict[str, Any] | None) -> GatewayInput:
        """Build the channel from its credentials.yml section."""
        return cls(token=(credentials or {}).get("token"))

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        supplied = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        return bool(self.token) and hmac.compare_digest(supplied.encode(), self.token.encode())

    @staticmethod
    def _parse(request: Request) -> tuple[str, str, Dict[str, Any]]:
        try:
            body = request.json
        except Exception as exc:  # sanic raises InvalidUsage on malformed JSON
            raise ValueError("body must be JSON") from exc
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        sender, message = body.get("sender"), body.get("message")
        metadata = body.get("metadata") or {}
        if not isinstance(sender, str) or not sender or len(sender) > MAX_SENDER_CHARS:
            raise ValueError(f"'sender' must be a non-empty string of at most {MAX_SENDER_CHARS} chars")
        if not isinstance(message, str) or not message.strip():
            raise ValueError("'message' must be a non-empty string")
        if len(message) > MAX_MESSAGE_CHARS:
            raise ValueError(f"'message' is longer than {MAX_MESSAGE_CHARS} characters")
        if not isinstance(metadata, dict):
            raise ValueError("'metadata' must be a JSON object")
        return sender, message, metadata

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The webhook routes."""
        webhook = Blueprint("gateway_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self._authorized(request):
                return response.json({"error": "missing or wrong bearer token"}, status=401)
            try:
                sender, message, metadata = self._parse(request)
            except ValueError as exc:
                return response.json({"error": str(exc)}, status=400)
            collector = CollectingOutputChannel()
            message_id = _message_id(request)
            request_id = request.headers.get("X-Request-ID", "")
            if request_id and len(request_id) <= 64 and request_id.replace("-", "").isalnum():
                metadata = {**metadata, "request_id": request_id}  # for the action server's logs
            user_message = UserMessage(
                message,
                collector,
                sender,
                input_channel=str(metadata.get("channel") or self.name()),
                metadata=metadata,
                message_id=message_id,
            )
            agent = getattr(request.app.ctx, "agent", None)
            try:
                if message_id and agent is not None and agent.is_ready():
                    # the gateway may resend a message (it lost the replica that had it): look for it in the
                    # tracker while holding the conversation's lock, so a first copy still being answered
                    # elsewhere is waited for and then replayed, never answered twice
                    # lock_held: the tracker store asks the database once for this turn, not for both reads
                    async with agent.lock_store.lock(sender):
                        with lock_held(sender):
                            if not await _replay(agent, sender, message_id, collector):
                                await agent.processor.handle_message(user_message)
                else:
                    await on_new_message(user_message)
            except CancelledError:
                logger.error("gateway turn for %s timed out", sender)
                return response.json({"error": "the turn timed out"}, status=504)
            except Exception:
                logger.exception("gateway turn for %s failed", sender)
                return response.json({"error": "the assistant failed on this message"}, status=500)
            messages: List[Dict[str, Any]] = collector.messages
            return response.json(messages)

        return webhook


#: Events searched back for a resent message id (the gateway resends within seconds, a few turns at most).
REPLAY_WINDOW = 200


def _message_id(request: Request) -> str | None:
    """The gateway's id for this message (header ``X-Message-ID``, optional): hex or dashes, at most 64 chars."""
    value = request.headers.get("X-Message-ID")
    if isinstance(value, str) and 0 < len(value) <= 64 and value.replace("-", "").isalnum():
        return value
    return None


async def _replay(agent: Any, sender: str, message_id: str, collector: CollectingOutputChannel) -> bool:
    """Put the stored replies of an already answered message into ``collector``; False when it is new."""
    from rasa.shared.core.events import BotUttered, UserUttered

    if agent.tracker_store is None:
        return False
    tracker = await agent.tracker_store.retrieve(sender)
    if tracker is None:
        return False
    recent = list(tracker.events)[-REPLAY_WINDOW:]
    start = next(
        (
            i
            for i in range(len(recent) - 1, -1, -1)
            if isinstance(recent[i], UserUttered) and recent[i].message_id == message_id
        ),
        None,
    )
    if start is None:
        return False
    for event in recent[start + 1 :]:
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            await collector.send_response(sender, event.message())
    logger.info("message %s of %s was answered already; replayed its replies", message_id, sender)
    return True
