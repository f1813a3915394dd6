"""The gateway's exception family and how each error is put to a customer; raised across connectors/."""

from __future__ import annotations

from dataclasses import dataclass

RESTARTING = "the assistant is restarting, please try again in a moment"


class GatewayError(Exception):
    """Base class of every error the gateway raises on purpose."""


class SettingsError(GatewayError):
    """The environment does not describe a usable gateway configuration."""


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
