"""The gateway's exception family and how each error is put to a customer; raised across connectors/."""

from __future__ import annotations

import math
from dataclasses import dataclass

from envsettings import InvalidSettings

RESTARTING = "the assistant is restarting, please try again in a moment"
BUSY = "I'm answering a lot of people right now. Please send your message again in a moment"
WAIT_FOR_ANSWER = "I'm still answering your previous message. Please wait for my reply, then send this one again"
BUTTON_NOT_OFFERED = "That button is no longer available. Please type your answer instead"


class GatewayError(Exception):
    """Base class of every error the gateway raises on purpose."""


class SettingsError(GatewayError, InvalidSettings):
    """The environment does not describe a usable gateway configuration (the message names the variable)."""


class InvalidMessage(GatewayError, ValueError):
    """A message (inbound or from rasa) does not fit the normalized model."""


class RasaUnavailable(GatewayError):
    """Rasa could not be reached, timed out, or said it is temporarily unavailable.

    Attributes:
        retryable: the message certainly or possibly never reached a working rasa (connection refused or
            dropped, 502/503), so sending it again is safe; not after a timeout (rasa may still answer it).
    """

    def __init__(self, message: str = "", *, retryable: bool = False) -> None:
        """Keep the message and whether a resend is safe."""
        super().__init__(message)
        self.retryable = retryable


class Busy(GatewayError):
    """The assistant has too much to answer right now (``scope`` ``gateway``), or this conversation's previous
    message is still being answered (``scope`` ``conversation``); nothing reached rasa.

    Attributes:
        retry_after: whole seconds after which a resend likely gets through.
        scope: ``gateway`` or ``conversation``.
    """

    def __init__(self, retry_after: float, scope: str = "gateway") -> None:
        """Keep when to try again and which limit refused the message."""
        self.retry_after = max(1, min(60, math.ceil(retry_after)))
        self.scope = scope
        super().__init__(f"busy ({scope}); retry after {self.retry_after} s")


class Abandoned(GatewayError):
    """The customer went away while the message waited for its turn; it was not sent to rasa."""


class ButtonNotOffered(InvalidMessage):
    """A button press the assistant never offered in this conversation, without a title to read instead
    (``connectors.offers``); nothing reached rasa."""


class RasaError(GatewayError):
    """Rasa answered, but not with a usable reply (bad status, malformed body)."""


class RasaAuthError(RasaError):
    """Rasa's gateway input channel rejected our token (GATEWAY_TOKEN mismatch)."""


@dataclass(frozen=True, slots=True)
class UserFacingError:
    """How an error is shown to a customer: an HTTP status, a stable code and a sentence.

    Attributes:
        status: HTTP status for HTTP channels.
        code: stable machine-readable code (``rasa_unavailable``...).
        message: a sentence a customer can read.
    """

    status: int
    code: str
    message: str


def describe_for_user(exc: GatewayError) -> UserFacingError:
    """Map a gateway error to what a customer sees, the same way on every channel.

    Args:
        exc: the error raised while answering a message.

    Returns:
        The status, code and sentence to show.
    """
    if isinstance(exc, Busy):
        if exc.scope == "conversation":
            return UserFacingError(429, "busy", WAIT_FOR_ANSWER)
        return UserFacingError(503, "busy", BUSY)
    if isinstance(exc, Abandoned):
        return UserFacingError(499, "abandoned", "the message was not answered because the connection closed")
    if isinstance(exc, ButtonNotOffered):
        return UserFacingError(400, "button_not_offered", BUTTON_NOT_OFFERED)
    if isinstance(exc, RasaUnavailable):
        return UserFacingError(503, "rasa_unavailable", RESTARTING)
    if isinstance(exc, RasaAuthError):
        return UserFacingError(
            502,
            "gateway_misconfigured",
            "the assistant cannot answer because of a configuration problem on our side; "
            "please try again later",
        )
    if isinstance(exc, RasaError):
        return UserFacingError(
            502,
            "rasa_error",
            "the assistant could not answer just now, please try again later",
        )
    if isinstance(exc, InvalidMessage):
        return UserFacingError(400, "invalid_message", str(exc))
    return UserFacingError(500, "internal_error", "something went wrong on our side")
