"""The follow-up reader as the topic actions call it: a message read against the conversation first.

Every answering action first lets `actions.follow_up` read the latest message against the conversation
(`in_context`: "and to canada?", "why not?", a yes to an offer), adds the second question of a two-question
message (`also_asked`), and a form answers a question asked in passing (`answer_aside`). Reading a follow-up
takes the answers of every topic module (orders, payments, returns, shipping, products), so `actions.follow_up`
sits above them and they cannot import it. They call it through this module, which imports no other action
module: `actions.follow_up` installs its three functions here when it is imported, and `actions/__init__.py`
imports it, so every import of an action module finds them installed. Imports go one way:
topic modules -> reader <- follow_up -> topic modules.
"""

from __future__ import annotations

from typing import Any, Callable, List, Protocol

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.context import Said


class InContext(Protocol):
    """`actions.follow_up.in_context`."""

    def __call__(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, *, caller: str
    ) -> List[EventType] | None: ...  # pragma: no cover


class AlsoAsked(Protocol):
    """`actions.follow_up.also_asked`."""

    def __call__(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, *, answered_topic: str
    ) -> List[EventType]: ...  # pragma: no cover


AnswerAside = Callable[[CollectingDispatcher, Tracker, Said], bool]

_installed: dict[str, Any] = {}


def install(*, in_context: InContext, also_asked: AlsoAsked, answer_aside: AnswerAside) -> None:
    """Called once by `actions.follow_up` when it is imported."""
    _installed.update(in_context=in_context, also_asked=also_asked, answer_aside=answer_aside)


def _reader(name: str) -> Any:
    try:
        return _installed[name]
    except KeyError:
        raise RuntimeError(
            f"no follow-up reader installed for {name}: import the actions package (actions/__init__.py imports "
            "actions.follow_up, which installs it)"
        ) from None


def in_context(dispatcher: CollectingDispatcher, tracker: Tracker, *, caller: str) -> List[EventType] | None:
    """The events of an answer from the conversation's context, or None (`actions.follow_up.in_context`)."""
    answered: List[EventType] | None = _reader("in_context")(dispatcher, tracker, caller=caller)
    return answered


def also_asked(dispatcher: CollectingDispatcher, tracker: Tracker, *, answered_topic: str) -> List[EventType]:
    """Answer a second question of the same message (`actions.follow_up.also_asked`)."""
    events: List[EventType] = _reader("also_asked")(dispatcher, tracker, answered_topic=answered_topic)
    return events


def answer_aside(dispatcher: CollectingDispatcher, tracker: Tracker, latest: Said) -> bool:
    """Answer a question asked while a form waits for something else (`actions.follow_up.answer_aside`)."""
    return bool(_reader("answer_aside")(dispatcher, tracker, latest))
