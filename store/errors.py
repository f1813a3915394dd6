"""The order store's one exception family, raised by `OrderStore` and its sibling APIs, mapped to replies by callers."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error the order store raises on purpose."""


class InvalidInput(StoreError, ValueError):
    """Something the caller passed (an order number, an address, ...) could not be understood."""


class DatabaseNotReady(StoreError):
    """The database has no tables yet: run ``python -m store migrate`` (or ``setup``)."""


class OrderNotFound(StoreError):
    """No order with that number exists (only raised where revealing this is harmless)."""


class ReturnNotFound(StoreError):
    """No return with that RMA number exists."""


class ProductNotFound(StoreError):
    """No product with that SKU exists."""


class StoreNotFound(StoreError):
    """No physical store with that id exists."""


class NotAuthorized(StoreError):
    """The conversation holds no verified access grant for the order."""

    def __init__(self, order_number: str | None = None) -> None:
        """Create the error.

        Args:
            order_number: The (normalised, when possible) order number that was asked about.
        """
        self.order_number = order_number
        super().__init__(f"conversation is not verified for order {order_number}" if order_number else "not verified")


class VerificationFailed(StoreError):
    """The proof did not match (same error whether the order exists or not)."""

    def __init__(self, attempts_left: int) -> None:
        """Create the error.

        Args:
            attempts_left: Failed attempts the conversation may still make before it is locked (0 = locked now).
        """
        self.attempts_left = attempts_left
        super().__init__(f"verification failed; {attempts_left} attempt(s) left")


class VerificationLocked(StoreError):
    """Too many failed verifications in this conversation: every further verify is refused."""

    def __init__(self) -> None:
        """Create the error."""
        super().__init__("too many failed verification attempts in this conversation")


class VerificationPaused(StoreError):
    """Too many failed proofs for this order number or from this source: self-service checks wait.

    Raised before the proof is looked at, in the same words whether the order exists or not, so a pause
    tells nobody anything about the order (``store.proofs`` has the rule).
    """

    def __init__(self, retry_after_seconds: int, scope: str) -> None:
        """Create the error.

        Args:
            retry_after_seconds: Seconds until a check may be tried again (at least 1).
            scope: ``order`` or ``source``: which count paused it (for logs and staff, never for customers).
        """
        self.retry_after_seconds = max(1, int(retry_after_seconds))
        self.scope = scope
        super().__init__(f"verification paused ({scope}); retry after {self.retry_after_seconds} s")


class NotAllowed(StoreError):
    """A business rule refuses the action; ``reason_code`` is stable, ``message`` is human-readable."""

    def __init__(self, reason_code: str, message: str) -> None:
        """Create the error.

        Args:
            reason_code: Stable machine-readable reason (e.g. ``final_sale``, ``already_shipped``).
            message: One sentence a person can read.
        """
        self.reason_code = reason_code
        self.message = message
        super().__init__(f"{reason_code}: {message}")


class UnknownDestination(StoreError):
    """A shipping destination could not be mapped to a country we ship to."""

    def __init__(self, destination: str | None = None) -> None:
        """Create the error.

        Args:
            destination: What the caller gave (country and/or postcode text).
        """
        self.destination = destination
        super().__init__(f"unknown destination: {destination!r}")
