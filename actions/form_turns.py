"""Answers a form's free-text question gets that are no answer and no wrong answer, and a way out of a loop.

A return's item and reason questions and an address change's address question take free text. "hang on, not
sure" there is not a wrong answer, and "could I swap it for another shade?" is a question the form cannot
take: answered here, the form asks its question again. The same "I couldn't tell" twice in a row is a loop:
the second time says how to leave it. This module imports no other action module but `actions.context` and
`actions.confirm`, so the topic modules (returns, orders) can share it.
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import confirm
from actions.context import Said, has, is_question, last_bot_turn, response_of

#: Hedges at a free-text question ("hmm hang on, not 100% sure", "hold on", "give me a sec") on top of the
#: confirmation's (`confirm.undecided`).
_WAIT = ("hang on", "hold on", "wait a sec", "wait a minute", "one sec", "one second", "one moment", "give me a sec",
         "give me a minute", "give me a moment", "not 100", "let me check", "let me think", "let me see",
         "think about it", "need a minute", "bear with me")  # fmt: skip
#: Swapping an item rather than returning it ("could i swap it for a different shade instead?").
_SWAP = ("swap*", "exchange*")
_OTHER_ONE = ("different shade", "different colour", "different color", "different size", "another shade",
              "another colour", "another color", "another size", "other shade", "other colour",
              "other size")  # fmt: skip
_INSTEAD = ("instead", "rather", "get it in", "get one in", "have it in", "can i get", "could i get", "can i have",
            "could i have", "can you send", "could you send")  # fmt: skip


def hedges(latest: Said) -> bool:
    """ "hang on, not sure", "let me think a sec": no answer yet (a question, a button or anything with a number,
    like an address, is something else)."""
    text = latest.text
    if latest.button or not text or is_question(text) or any(ch.isdigit() for ch in text.replace("100", "")):
        return False
    return confirm.undecided(text) or has(text, *_WAIT)


def wants_an_exchange(text: str) -> bool:
    """Swapping an item for another rather than returning it ("can I exchange it for another size?"); a reason
    like "it's a different shade from the picture" is not one."""
    if not text or has(text, "exchange rate*", "rate of exchange"):
        return False  # "what's the exchange rate to euros" is about prices
    return has(text, *_SWAP) or (has(text, *_OTHER_ONE) and has(text, *_INSTEAD))


def answer_in_form(dispatcher: CollectingDispatcher, latest: Said) -> bool:
    """Answer a hedge or an exchange asked at a free-text question; True when answered (the form asks again)."""
    if latest.button or not latest.text:
        return False
    if wants_an_exchange(latest.text):
        dispatcher.utter_message(response="utter_exchange")
        return True
    if hedges(latest):
        dispatcher.utter_message(response="utter_form_no_rush")
        return True
    return False


def said_in_last_turn(tracker: Tracker, response: str) -> bool:
    """Whether the bot's turn before the latest customer message used ``response``."""
    return any(response_of(event) == response for event in last_bot_turn(tracker))


def say_invalid(dispatcher: CollectingDispatcher, tracker: Tracker, response: str) -> None:
    """Say ``response`` ("I couldn't tell which item you mean"), or, when it was said the turn before too, how
    to leave the question instead of the same words again."""
    if said_in_last_turn(tracker, response):
        dispatcher.utter_message(response="utter_form_way_out")
    else:
        dispatcher.utter_message(response=response)
