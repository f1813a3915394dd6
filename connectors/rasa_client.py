"""HTTP client for rasa's ``gateway`` input channel (docs/CONTRACTS.md); owned by the gateway app."""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp

from connectors.errors import InvalidMessage, RasaAuthError, RasaError, RasaUnavailable
from connectors.models import InboundMessage, OutboundMessage, parse_rasa_reply
from observability.logs import HEADER as REQUEST_ID_HEADER
from observability.logs import request_id

__all__ = ["RasaAuthError", "RasaClient", "RasaError", "RasaUnavailable"]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/gateway/webhook"
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
    ) -> None:
        """Configure the client.

        Args:
            base_url: rasa's base URL, e.g. ``http://127.0.0.1:5005``.
            token: the bearer token rasa's gateway input channel expects.
            timeout: seconds to wait for the answer to one message.
            health_timeout: seconds :meth:`is_healthy` waits.
        """
        self.base_url = base_url.rstrip("/")
        self.webhook_url = self.base_url + WEBHOOK_PATH
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._health_timeout = aiohttp.ClientTimeout(total=health_timeout)
        self._session: aiohttp.ClientSession | None = None

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
            "metadata": {**inbound.metadata, "channel": inbound.channel},
        }
        headers = {"Authorization": f"Bearer {self._token}"}
        current = request_id.get()
        if current:  # the action server finds it in the message metadata, for its logs
            headers[REQUEST_ID_HEADER] = current
            body["metadata"]["request_id"] = current
        try:
            async with self._get_session().post(
                self.webhook_url, json=body, headers=headers
            ) as resp:
                status = resp.status
                raw = await resp.read()
        except (TimeoutError, aiohttp.ClientConnectionError) as exc:
            raise RasaUnavailable(
                f"cannot reach rasa at {self.webhook_url}: {_describe(exc)}"
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

    def _raise_for_status(self, status: int, raw: bytes) -> None:
        excerpt = raw[:200].decode("utf-8", "replace")
        if status in _UNAVAILABLE_STATUSES:
            raise RasaUnavailable(f"rasa answered {status}: {excerpt}")
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
