"""Transcript lines the gateway database could not take (an outage): kept in memory and written when it is back.

Used by connectors.web.channel (a customer message and its replies, a failed turn) and connectors.web.feedback
(photos, ratings). A customer is answered whether or not the transcript could be written; what could not be
written waits here, in order per conversation, bounded in number, and ``Transcript.store_kept`` writes it
later without doubling what is already there (a customer row is found again by its client message id, and a
message already ``answered`` is left alone). Only the process's memory holds it: a gateway that stops while the
database is still away loses what it could not write (counted as ``web.transcript_lost``).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

#: Default bound on the lines kept across all conversations (each holds one message and its replies).
DEFAULT_LIMIT = 5000


@dataclass(slots=True)
class KeptLine:
    """One transcript write that is waiting for the database.

    Attributes:
        conversation_id: the web conversation id.
        client_message_id: the client's id of the customer message (None: the client gave none).
        body: the customer's line (``{"text"}``...), None when its row is already stored (``row_id``).
        status: what the customer row becomes: ``answered`` or ``failed``.
        replies: the bot's rendered replies to store with it (empty for a failed turn, a photo or a rating).
        row_id: the customer row when it was stored before the outage and only its replies or failure are missing.
        at: when it happened (the stored rows carry this time, not the time they could be written).
    """

    conversation_id: str
    client_message_id: str | None
    body: dict[str, Any] | None
    status: str
    replies: list[dict[str, Any]] = field(default_factory=list)
    row_id: int | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


class TranscriptBacklog:
    """Kept lines per conversation, oldest first, at most ``limit`` in all.

    Only the event loop touches it: callers write one line at a time in a worker thread and then :meth:`done`.
    """

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        """Keep at most ``limit`` lines (later ones are refused by :meth:`keep`)."""
        if limit < 1:
            raise ValueError("the transcript backlog must hold at least one line")
        self.limit = limit
        self._lines: dict[str, deque[KeptLine]] = {}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def keep(self, line: KeptLine) -> bool:
        """Queue ``line`` behind the conversation's earlier ones; False (nothing kept) when the backlog is full."""
        if self._size >= self.limit:
            return False
        self._lines.setdefault(line.conversation_id, deque()).append(line)
        self._size += 1
        return True

    def has(self, conversation_id: str) -> bool:
        """Whether the conversation has lines waiting (its new lines must then queue behind them)."""
        return conversation_id in self._lines

    def conversations(self) -> list[str]:
        """The conversations with lines waiting, a snapshot."""
        return list(self._lines)

    def first(self, conversation_id: str) -> KeptLine | None:
        """The conversation's oldest waiting line."""
        lines = self._lines.get(conversation_id)
        return lines[0] if lines else None

    def done(self, line: KeptLine) -> None:
        """Drop ``line`` (the conversation's oldest) once it is written."""
        lines = self._lines.get(line.conversation_id)
        if not lines or lines[0] is not line:
            raise RuntimeError("only a conversation's oldest kept line can be done")
        lines.popleft()
        self._size -= 1
        if not lines:
            del self._lines[line.conversation_id]

    def answered(self, conversation_id: str, client_message_id: str) -> list[dict[str, Any]] | None:
        """The kept replies to a message (a resend while they wait), or None."""
        for line in self._lines.get(conversation_id, ()):
            if line.client_message_id == client_message_id and line.status == "answered":
                return [dict(reply) for reply in line.replies]
        return None

    def __iter__(self) -> Iterator[KeptLine]:
        for lines in self._lines.values():
            yield from lines
