"""Pseudonymous conversation ids for the console: a keyed hash of the sender id, never the sender id itself.

A web customer's conversation id is their only secret: whoever holds it can read the transcript
(``GET /api/web/history``) and write as the customer. The console therefore names every conversation by
``"{channel}-{HMAC-SHA256(key, sender_id)}"`` (20 base32 characters, 100 bits) in every response, page,
link and export; ``console_conversation_cards`` maps a pseudonym back for the routes that take one.
The key is made once per gateway database (``console_secrets``), so every gateway process sharing that
database agrees, and nobody without the database can go from a pseudonym to the conversation.
Used by the indexer (``console.tracker``), the API (``console.web``) and the hand-off queue.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from console.models import ConsoleConversationCard, ConsoleSecret

KEY_NAME = "pseudonyms"
#: What a pseudonym looks like: a channel name, a dash and 20 base32 letters and digits.
PUBLIC_ID = re.compile(r"^[a-z]{1,16}-[a-z2-7]{20}$")
_CHANNEL = re.compile(r"^[a-z]{1,16}$")


class Pseudonyms:
    """Turns sender ids into console ids (thread-safe; the key is read or made on first use)."""

    def __init__(self, sessions: sessionmaker[Session], *, key: bytes | None = None) -> None:
        """Keep the gateway database's sessions (where the key lives) or use ``key`` (tests)."""
        self._sessions = sessions
        self._key = key
        self._lock = threading.Lock()

    def _secret(self) -> bytes:
        if self._key is None:
            with self._lock:
                if self._key is None:
                    self._key = self._load_or_make()
        return self._key

    def _load_or_make(self) -> bytes:
        with self._sessions() as session:
            row = session.get(ConsoleSecret, KEY_NAME)
            if row is None:
                session.add(ConsoleSecret(name=KEY_NAME, value=secrets.token_hex(32)))
                try:
                    session.commit()
                except IntegrityError:  # another gateway process made it first: use theirs
                    session.rollback()
                row = session.get(ConsoleSecret, KEY_NAME)
            assert row is not None
            return bytes.fromhex(row.value)

    def of(self, sender_id: str) -> str:
        """The console id of a conversation, e.g. ``web-k2m7q4x9c3vb5n8d6f2a``.

        The channel is the sender id's own ``"{channel}:"`` prefix (``unknown`` without one), so the
        pseudonym says where the conversation happened without saying anything else.
        """
        prefix, sep, _rest = sender_id.partition(":")
        channel = prefix if sep and _CHANNEL.match(prefix) else "unknown"
        digest = hmac.new(self._secret(), sender_id.encode("utf-8"), hashlib.sha256).digest()
        return f"{channel}-{base64.b32encode(digest).decode('ascii').lower()[:20]}"

    def resolve(self, session: Session, public_id: str) -> str | None:
        """The sender id behind a console id, if the console has indexed that conversation."""
        if not PUBLIC_ID.match(public_id):
            return None
        return session.scalar(
            select(ConsoleConversationCard.sender_id).where(ConsoleConversationCard.public_id == public_id)
        )

    def resolve_many(self, session: Session, public_ids: list[str]) -> dict[str, str]:
        """Console id -> sender id for those of ``public_ids`` the console has indexed."""
        wanted = [p for p in dict.fromkeys(public_ids) if PUBLIC_ID.match(p)]
        if not wanted:
            return {}
        rows = session.execute(
            select(ConsoleConversationCard.public_id, ConsoleConversationCard.sender_id).where(
                ConsoleConversationCard.public_id.in_(wanted)
            )
        )
        return {public: sender for public, sender in rows}
