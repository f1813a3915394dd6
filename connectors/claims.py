"""Signed claims about one message (channel, source, staff, shop): made by the gateway, checked by the actions.

Rasa carries a message's metadata to the action server inside the tracker, and anything that can write a
tracker (rasa's HTTP API, a forged action call) can write metadata. So the action server believes nothing
there except one claim the gateway signs with a secret only the two of them hold
(``GATEWAY_CLAIMS_SECRET``; rasa never sees it): an HMAC-SHA256 over the conversation id, the channel, the
source, the staff id and role, the shop of a tablet, and an expiry a couple of minutes away. A claim copied
to another conversation, altered or expired is refused by `verify_claim`.

Signed by `connectors.rasa_client.RasaClient.send` (``metadata["claim"]``), checked by
`actions.common.channel_context`. Pure standard library, so both processes import it cheaply.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

#: Key of the signed claim in a message's metadata.
CLAIM_KEY = "claim"
#: Seconds a claim stays valid: long enough for a turn (rasa waits at most ``RASA_TIMEOUT`` for it).
DEFAULT_TTL = 120
#: Clock difference tolerated between the gateway and the action server.
MAX_SKEW = 30
_PREFIX = "v1"
_CONTEXT = b"shop-assistant gateway claim v1\n"
MAX_TOKEN_CHARS = 2048


class ClaimError(ValueError):
    """A claim is missing or cannot be believed; ``reason`` is a short code for logs."""

    def __init__(self, reason: str) -> None:
        """Create the error.

        Args:
            reason: ``missing``, ``no_secret``, ``malformed``, ``bad_signature``, ``expired``,
                ``not_yet_valid`` or ``wrong_sender``.
        """
        self.reason = reason
        super().__init__(f"gateway claim refused: {reason}")


@dataclass(frozen=True)
class Claim:
    """What the gateway vouches for about one message.

    Attributes:
        sender: The rasa conversation id (``"web:<id>"``); the claim is good for this conversation only.
        channel: ``web``, ``tablet``, ``telegram`` or ``slack``.
        source: Who sent it, for counting failed proofs: ``web:ip:203.0.113.7`` (behind a trusted proxy the
            forwarded client), ``tablet:device:3``, ``telegram:user:42``, ``slack:user:T1-U2``.
        staff_id: A Slack user on the staff allowlist of the app's own workspace, else None.
        staff_role: Their role (``staff`` or ``manager``), else None.
        store_id: The shop of an in-store tablet (fixed by its device token), else None.
        issued_at: Unix seconds when signed.
        expires_at: Unix seconds after which it is refused.
    """

    sender: str
    channel: str
    source: str
    staff_id: str | None = None
    staff_role: str | None = None
    store_id: str | None = None
    issued_at: int = 0
    expires_at: int = 0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, body: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), _CONTEXT + body.encode("ascii"), hashlib.sha256).digest()


def sign_claim(
    secret: str,
    *,
    sender: str,
    channel: str,
    source: str,
    staff_id: str | None = None,
    staff_role: str | None = None,
    store_id: str | None = None,
    ttl: int = DEFAULT_TTL,
    now: float | None = None,
) -> str:
    """Make the claim token for one message.

    Args:
        secret: ``GATEWAY_CLAIMS_SECRET``.
        sender: The rasa conversation id.
        channel: The channel.
        source: The message's source (see `Claim`).
        staff_id: Allowlisted Slack user id, or None.
        staff_role: Their role, or None.
        store_id: The tablet's shop, or None.
        ttl: Seconds the claim stays valid.
        now: Unix time (tests).

    Returns:
        ``"v1.<payload>.<mac>"`` (URL-safe base64 parts).

    Raises:
        ClaimError: ``no_secret`` when ``secret`` is empty.
    """
    if not secret:
        raise ClaimError("no_secret")
    issued = int(time.time() if now is None else now)
    claim = Claim(sender, channel, source, staff_id, staff_role, store_id, issued, issued + int(ttl))
    body = _b64(json.dumps(asdict(claim), sort_keys=True, separators=(",", ":")).encode("utf-8"))
    return f"{_PREFIX}.{body}.{_b64(_mac(secret, body))}"


def verify_claim(secret: str, token: Any, *, sender: str, now: float | None = None) -> Claim:
    """Check a claim token and return what it says.

    Args:
        secret: ``GATEWAY_CLAIMS_SECRET`` of the action server.
        token: ``metadata["claim"]`` as it arrived (anything).
        sender: The conversation the tracker belongs to; the claim must name it.
        now: Unix time (tests).

    Returns:
        The claim.

    Raises:
        ClaimError: with the reason it cannot be believed.
    """
    if not secret:
        raise ClaimError("no_secret")
    if token is None or token == "":
        raise ClaimError("missing")
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise ClaimError("malformed")
    prefix, _, rest = token.partition(".")
    body, _, mac = rest.partition(".")
    if prefix != _PREFIX or not body or not mac:
        raise ClaimError("malformed")
    try:
        supplied = _unb64(mac)
    except (ValueError, TypeError):
        raise ClaimError("malformed") from None
    if not hmac.compare_digest(supplied, _mac(secret, body)):
        raise ClaimError("bad_signature")
    try:
        data = json.loads(_unb64(body))
        claim = Claim(**data)
    except (ValueError, TypeError):
        raise ClaimError("malformed") from None
    texts = (claim.sender, claim.channel, claim.source)
    optional = (claim.staff_id, claim.staff_role, claim.store_id)
    if (
        not all(isinstance(v, str) for v in texts)
        or not all(v is None or isinstance(v, str) for v in optional)
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in (claim.issued_at, claim.expires_at))
    ):
        raise ClaimError("malformed")
    moment = time.time() if now is None else now
    if claim.expires_at < moment - MAX_SKEW:
        raise ClaimError("expired")
    if claim.issued_at > moment + MAX_SKEW:
        raise ClaimError("not_yet_valid")
    if not hmac.compare_digest(claim.sender.encode("utf-8"), str(sender).encode("utf-8")):
        raise ClaimError("wrong_sender")
    return claim
