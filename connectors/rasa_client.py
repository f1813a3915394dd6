"""HTTP client for rasa's ``gateway`` input channel (docs/CONTRACTS.md); owned by the gateway app."""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import logging
import time
import uuid
from typing import Any

import aiohttp

from connectors.claims import CLAIM_KEY, DEFAULT_TTL, sign_claim
from connectors.errors import InvalidMessage, RasaAuthError, RasaError, RasaUnavailable
from connectors.models import InboundMessage, OutboundMessage, parse_rasa_reply
from connectors.source import source_of
from observability.logs import HEADER as REQUEST_ID_HEADER
from observability.logs import request_id

__all__ = ["RasaAuthError", "RasaClient", "RasaError", "RasaUnavailable"]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/gateway/webhook"
#: Header with the gateway's id of a message, kept when the message is resent (bot/channel.py replays it).
MESSAGE_ID_HEADER = "X-Message-ID"
#: A channel's own stable id of the message being sent (the web widget's ``client_message_id``): a customer's
#: resend through another gateway then carries the same ``X-Message-ID`` and rasa answers it once.
resend_key: contextvars.ContextVar[str] = contextvars.ContextVar("resend_key", default="")
# Statuses a proxy or a (re)starting server gives while rasa is not serving yet.
_UNAVAILABLE_STATUSES = frozenset({502, 503, 504})


class RasaClient:
    """Sends normalized messages to rasa and parses its replies.

    The HTTP session is created on first use (inside the running event loop) and closed by
    :meth:`close`, which the app calls on shutdown. Nothing connects in ``__init__``.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: float = 30.0,
        *,
        health_timeout: float = 2.0,
        claims_secret: str | None = None,
        retry_seconds: float = 0.0,
    ) -> None:
        """Configure the client.

        Args:
            base_url: rasa's base URL, e.g. ``http://127.0.0.1:5005``.
            token: the bearer token rasa's gateway input channel expects.
            timeout: seconds to wait for the answer to one message.
            health_timeout: seconds :meth:`is_healthy` waits.
            claims_secret: ``GATEWAY_CLAIMS_SECRET``, shared with the action server only: each message
                carries a claim signed with it (``connectors.claims``). Without it no claim is sent, and
                the actions treat every message as unvouched (no staff, no tablet shop, unattributed).
            retry_seconds: how long to keep resending a message rasa could not be reached for (connection
                refused or dropped, 502/503 from a balancer): another replica answers it, and rasa answers a
                resend of a message it already answered with the same replies (its ``message_id``). 0: no retry.
        """
        self.base_url = base_url.rstrip("/")
        self.webhook_url = self.base_url + WEBHOOK_PATH
        self._token = token
        self._claims_secret = claims_secret or ""
        # A claim outlives a turn by a little: rasa gives up on the turn after `timeout` anyway.
        self._claim_ttl = max(DEFAULT_TTL, int(timeout) + 30)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._health_timeout = aiohttp.ClientTimeout(total=health_timeout)
        self._session: aiohttp.ClientSession | None = None
        self._retry_seconds = retry_seconds
        self.retries = 0

    def __repr__(self) -> str:
        """Show the URL, never the token."""
        return f"RasaClient({self.base_url!r})"

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def send(self, inbound: InboundMessage) -> list[OutboundMessage]:
        """Post one message to rasa and return the bot's replies.

        Args:
            inbound: the normalized message; ``metadata.channel`` is set from its channel.

        Returns:
            The bot messages, in order (possibly none).

        Raises:
            RasaUnavailable: rasa cannot be reached, timed out, or answered 502/503/504.
            RasaAuthError: rasa answered 401/403 (the tokens differ).
            RasaError: any other non-200 answer or a malformed body.
        """
        body: dict[str, Any] = {
            "sender": inbound.conversation_id,
            "message": inbound.rasa_text,
            "metadata": self.metadata(inbound),
        }
        headers = {"Authorization": f"Bearer {self._token}"}
        current = request_id.get()
        if current:  # rasa's gateway channel puts it in the message metadata, where the action server finds it
            headers[REQUEST_ID_HEADER] = current
        # the same on every resend, by this gateway or another: rasa answers it once
        key = resend_key.get()
        headers[MESSAGE_ID_HEADER] = hashlib.sha256(key.encode()).hexdigest()[:32] if key else uuid.uuid4().hex
        deadline, delay = time.monotonic() + self._retry_seconds, 0.25
        while True:
            try:
                return await self._send_once(body, headers)
            except RasaUnavailable as exc:
                if not exc.retryable or time.monotonic() + delay > deadline:
                    raise
                self.retries += 1
                log.warning("rasa unavailable (%s); sending the message again in %.2f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _send_once(self, body: dict[str, Any], headers: dict[str, str]) -> list[OutboundMessage]:
        try:
            async with self._get_session().post(
                self.webhook_url, json=body, headers=headers
            ) as resp:
                status = resp.status
                raw = await resp.read()
        except TimeoutError as exc:  # rasa may still be answering it: never resent
            raise RasaUnavailable(f"rasa at {self.webhook_url} did not answer in time: {_describe(exc)}") from exc
        except aiohttp.ClientConnectionError as exc:
            raise RasaUnavailable(
                f"cannot reach rasa at {self.webhook_url}: {_describe(exc)}", retryable=True
            ) from exc
        except aiohttp.ClientError as exc:
            raise RasaError(
                f"talking to rasa at {self.webhook_url} failed: {_describe(exc)}"
            ) from exc
        if status != 200:
            self._raise_for_status(status, raw)
        try:
            return parse_rasa_reply(json.loads(raw))
        except (ValueError, InvalidMessage) as exc:
            # json.JSONDecodeError and UnicodeDecodeError are ValueErrors too.
            raise RasaError(f"rasa answered with a malformed body: {exc}") from exc

    def metadata(self, inbound: InboundMessage) -> dict[str, Any]:
        """The metadata rasa receives: the connector's, the channel, and the signed claim.

        The claim is the only part the action server believes (``actions.common.channel_context``): staff
        only from Slack, a shop only from a tablet, and the message's source for counting failed proofs.
        """
        metadata: dict[str, Any] = {**inbound.metadata, "channel": inbound.channel}
        metadata.pop(CLAIM_KEY, None)
        if not self._claims_secret:
            return metadata
        staff = metadata.get("staff") if inbound.channel == "slack" else None
        staff = staff if isinstance(staff, dict) else {}
        store_id = metadata.get("store_id") if inbound.channel == "tablet" else None
        metadata[CLAIM_KEY] = sign_claim(
            self._claims_secret,
            sender=inbound.conversation_id,
            channel=inbound.channel,
            source=source_of(inbound),
            staff_id=str(staff["id"]) if staff.get("id") else None,
            staff_role=str(staff["role"]) if staff.get("role") else None,
            store_id=str(store_id) if store_id else None,
            ttl=self._claim_ttl,
        )
        return metadata

    def _raise_for_status(self, status: int, raw: bytes) -> None:
        excerpt = raw[:200].decode("utf-8", "replace")
        if status in _UNAVAILABLE_STATUSES:
            # 502/503: no replica could take it (or the one that had it died): resendable; 504: still running
            raise RasaUnavailable(f"rasa answered {status}: {excerpt}", retryable=status in (502, 503))
        if status in (401, 403):
            raise RasaAuthError(
                f"rasa rejected the gateway token ({status}): GATEWAY_TOKEN must equal the token "
                "rasa's gateway input channel is configured with"
            )
        if status == 404:
            raise RasaError(
                f"rasa has no gateway input channel at {self.webhook_url} (404): "
                "is it listed in credentials.yml?"
            )
        raise RasaError(f"rasa answered {status}: {excerpt}")

    async def is_healthy(self) -> bool:
        """Check cheaply whether rasa is serving (``GET /`` answers 200 within the health timeout).

        Returns:
            True if rasa answered 200, False otherwise (the reason is logged at debug level).
        """
        try:
            async with self._get_session().get(
                self.base_url + "/", timeout=self._health_timeout
            ) as resp:
                return resp.status == 200
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.debug("rasa health check failed: %r", exc)
            return False

    async def close(self) -> None:
        """Close the HTTP session, if one was opened. Safe to call more than once."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def _describe(exc: BaseException) -> str:
    """A short reason for logs; timeouts have an empty str()."""
    return str(exc) or type(exc).__name__
