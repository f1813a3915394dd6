"""The console's exception family, mapped to HTTP statuses by console.web and to exit codes by the CLI."""

from __future__ import annotations


class ConsoleError(Exception):
    """Base of every console error; ``status`` is the HTTP status it maps to."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        """Keep the user-facing message and the offending field, if any."""
        super().__init__(message)
        self.message = message
        self.field = field

    def to_json(self) -> dict[str, str]:
        """The JSON error body ``{"error", "code", "field"?}``."""
        body = {"error": self.message, "code": self.code}
        if self.field:
            body["field"] = self.field
        return body


class BadInput(ConsoleError):
    """A query parameter or body field is malformed."""


class NotSignedIn(ConsoleError):
    """No valid session (missing, unknown or expired)."""

    status = 401
    code = "not_signed_in"


class Forbidden(ConsoleError):
    """Signed in, but the role does not allow this."""

    status = 403
    code = "forbidden"


class CsrfFailed(ConsoleError):
    """A state-changing request without the session's CSRF token."""

    status = 403
    code = "csrf_failed"


class TooManyAttempts(ConsoleError):
    """Sign-in rate limit reached."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, retry_after: int) -> None:
        """Keep when the client may try again (seconds)."""
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(ConsoleError):
    """The conversation, message or correction does not exist."""

    status = 404
    code = "not_found"


class UserExists(ConsoleError):
    """``users add`` for an email that already has an account."""

    code = "user_exists"


class Unavailable(ConsoleError):
    """A database the request needs (the order store, the gateway's) cannot be read right now."""

    status = 503
    code = "unavailable"


class Conflict(ConsoleError):
    """The thing is not in a state that allows this (a ticket already claimed, or handled in Slack)."""

    status = 409
    code = "conflict"
