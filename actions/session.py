"""A new rasa session or a restart ends what the conversation had proved: `action_session_start`, `action_restart`.

Rasa starts a new session after ``session_expiration_time`` (domain.yml, 60 minutes) without a message, and on
``/session_start``; ``/restart`` wipes the conversation. Whoever types next in that conversation may not be
the person who proved the order (a shared computer keeps the widget's conversation id), so both end the
conversation's grants in the order store (`OrderStore.revoke_grants`). Failed proofs are kept: neither gives
a conversation its attempts back. The store also ends grants left idle for ``SHOP_GRANT_IDLE_MINUTES`` on its
own, should a session outlive that.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, Restarted, SessionStarted
from rasa_sdk.executor import CollectingDispatcher

from actions.common import conversation_id, get_store

logger = logging.getLogger(__name__)


def _revoke(tracker: Tracker, why: str) -> None:
    ended = get_store().revoke_grants(conversation_id(tracker))
    if ended:
        logger.info("%s: ended %d grant(s) of the conversation", why, ended)


class ActionSessionStart(Action):
    """Rasa's session start, plus: the new session holds no grants."""

    def name(self) -> str:
        """Action name (rasa's default action, overridden)."""
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """End the grants, then begin the session as rasa's default does (slots are not carried over)."""
        _revoke(tracker, "new session")
        return [SessionStarted(), ActionExecuted("action_listen")]


class ActionRestart(Action):
    """Rasa's restart, plus: the restarted conversation holds no grants."""

    def name(self) -> str:
        """Action name (rasa's default action, overridden)."""
        return "action_restart"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """End the grants and restart the conversation."""
        _revoke(tracker, "restart")
        return [Restarted()]
