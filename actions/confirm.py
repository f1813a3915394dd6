"""The yes to a summary before an order changes (a cancellation, an address change, a return).

Used by the cancel, address and return forms (actions/orders.py, actions/returns.py): their ask actions put a
yes button bound to the summary on the question (`buttons`), their validators read the answer (`read`). Used
by `action_handoff` (a person offered while a confirmation is open ends it: `interrupted`) and by
`action_follow_up` (a confirmation button pressed when none is open).

A yes is recognised, never guessed: a typed answer confirms only when every word of it belongs to a small
vocabulary of consent ("yes", "sure", "ok", "go ahead", "please", "thanks", the words of this action such as
"cancel it"), at least one of them says yes, nothing marks a doubt or a question ("?", "...", a negation, a
question word), and it is not a brush-off made of yes-words alone ("yeah right", "sure sure", "yeah yeah": a
yes-word said twice in a row, or "right" straight after one). Any other word, however the intent classifier
filed the message, makes the answer unclear: the question is asked again and nothing changes. A new hedge ("I
reckon", "yes I suppose") is therefore refused without anyone having to list it. A button confirms only the
summary it was shown with: its payload carries `token(action, order, details)`, and a yes press carrying
another token (or none: an older `/affirm`) is refused as stale.
"""

from __future__ import annotations

import hashlib
import json
import re
from enum import Enum
from typing import Any

from rasa_sdk import Tracker

from actions.context import FILLERS, QUESTION_WORDS, has, last_bot_response, words

#: The order changes that need a yes to a summary.
CANCEL = "cancel"
ADDRESS = "address"
RETURN = "return"
#: The entity a confirmation button carries (``/affirm{"confirm": "cancel:ORD-100123"}``); only payloads set it.
ENTITY = "confirm"

#: Words that say yes on their own ("yes", "sure", "ok", "correct").
_YES_WORDS = frozenset(
    """yes yeah yep yup yea ya yh aye y sure ok okay alright absolutely definitely certainly correct affirmative
    confirm confirmed ja oui si sí sì""".split()  # noqa: SIM905
)
#: Phrases that say yes ("go ahead", "please do", "that's right").
_YES_PHRASES = ("go ahead", "do it", "please do", "go on", "all right", "sounds good", "that's right",
                "thats right", "that is right", "that's correct", "thats correct", "that is correct")  # fmt: skip
#: Words that may stand next to a yes without changing it (politeness, "it", "now", "I want to").
_ALONGSIDE = frozenset(
    """please pls plz thanks thank you thx ta cheers then now just it that that's thats is the this one my for me
    go ahead do on right fine good great perfect lovely cool brilliant sounds all of them i i'm im want to and
    very much yes""".split()  # noqa: SIM905
)
#: The words of each action ("yes cancel it", "yes change it", "yes set it up"); another action's are not a yes.
_ACTION_WORDS = {
    CANCEL: frozenset({"cancel", "order"}),
    ADDRESS: frozenset({"change", "update", "send", "there", "address", "new", "deliver"}),
    RETURN: frozenset({"set", "up", "start", "return", "send", "back", "items"}),
}
_ACTION_PHRASES = {
    CANCEL: ("cancel it", "cancel the order", "cancel my order", "cancel that"),
    ADDRESS: ("change it", "update it", "send it there", "change the address", "change my address"),
    RETURN: ("set it up", "start it", "start the return", "return it", "return them"),
}
#: Never part of a yes, whatever else the message says (the vocabulary above already leaves them out; this
#: keeps them out if it ever grows).
_DOUBT = frozenset(
    """no not nope nah never don't dont won't wont can't cant but if maybe perhaps possibly probably guess
    suppose think wait hold unless or""".split()  # noqa: SIM905
)
#: Only letters, spaces and plain punctuation; an emoji, brackets or a question mark make the answer unclear.
_PLAIN = re.compile(r"[\w\s,.!'’-]*")
_MAX_WORDS = 12


#: Undecided: neither a yes nor a no, however NLU filed it ("hmm not sure actually" reads as a deny).
_UNDECIDED = ("not sure", "unsure", "don't know", "dont know", "do not know", "dunno", "let me think",
              "need to think", "not certain", "undecided", "in two minds", "on the fence")  # fmt: skip


def undecided(text: str) -> bool:
    """Whether typed ``text`` hedges ("hmm not sure actually", "I don't know yet"): the summary is asked again
    and nothing changes, where a plain "no" would drop it."""
    return bool(text) and has(text, *_UNDECIDED)


class Reply(Enum):
    """What an answer to a confirmation question is."""

    YES = "yes"
    NO = "no"
    UNCLEAR = "unclear"
    STALE = "stale"


def token(action: str, order: str, details: str = "") -> str:
    """What a yes button of this summary carries: the action, the order and a digest of what would change.

    Args:
        action: `CANCEL`, `ADDRESS` or `RETURN`.
        order: the order number the summary names.
        details: what else the summary states (the new address; the items and the reason of a return), so a
            yes to an earlier version of the summary does not confirm a corrected one.
    """
    if action not in _ACTION_WORDS:
        raise ValueError(f"unknown confirmation action {action!r}")
    bound = f"{action}:{order}"
    if details:
        bound += ":" + hashlib.sha256(" ".join(details.lower().split()).encode()).hexdigest()[:8]
    return bound


def buttons(bound: str, yes_title: str, no_title: str) -> list[dict[str, str]]:
    """The yes/no buttons of a summary whose token is ``bound`` (see `token`)."""
    return [
        {"title": yes_title, "payload": "/affirm" + json.dumps({ENTITY: bound})},
        {"title": no_title, "payload": "/deny"},
    ]


def is_clear_yes(text: str, action: str) -> bool:
    """Whether typed ``text`` is an unambiguous yes to a summary of ``action`` (see the module docstring)."""
    text = (text or "").strip()
    if not text or not _PLAIN.fullmatch(text) or "..." in text or _asks(text):
        return False
    tokens = words(text)
    if not tokens or len(tokens) > _MAX_WORDS or any(t in _DOUBT for t in tokens):
        return False
    allowed = _YES_WORDS | _ALONGSIDE | _ACTION_WORDS[action]
    if any(t not in allowed for t in tokens):
        return False
    if _dismissive(tokens):
        return False
    padded = " " + " ".join(tokens) + " "
    return any(t in _YES_WORDS for t in tokens) or any(
        f" {phrase} " in padded for phrase in _YES_PHRASES + _ACTION_PHRASES[action]
    )


def _dismissive(tokens: list[str]) -> bool:
    """A brush-off: "yeah right", "sure sure", "yeah, yeah", "ok ok ok". A yes-word repeated at once, or "right"
    straight after one, dismisses a question as often as it agrees; for an order change it is asked again
    ("that's right", "all right" and "yes please go ahead" stay yeses)."""
    return any(
        word in _YES_WORDS and (following == word or following == "right")
        for word, following in zip(tokens, tokens[1:], strict=False)
    )


def _asks(text: str) -> bool:
    """A question without a question mark ("ok is that right"): a sentence opening with a question word after
    the fillers, except the imperative "do it" ("sure, do it", "please do")."""
    for sentence in re.split(r"[.!;,\n]+", text):
        tokens = words(sentence)
        while tokens and tokens[0] in FILLERS:
            tokens.pop(0)
        if tokens and tokens[0] in QUESTION_WORDS:
            if tokens[0] == "do" and tokens[1:2] in ([], ["it"], ["that"], ["so"]):
                continue
            return True
    return False


def read(latest: Any, *, action: str, expected: str) -> Reply:
    """The answer ``latest`` (an `actions.context.Said`) gives to the summary whose token is ``expected``.

    A yes button confirms only with ``expected`` as its token (else `Reply.STALE`); a no button is a no; any
    other button is no answer. Typed text is a yes only by `is_clear_yes` (and never when NLU read a no or a
    request for a person); the caller judges a typed no with its form's own words, and everything else is
    `Reply.UNCLEAR`.
    """
    if latest.button:
        if latest.intent == "affirm":
            return Reply.YES if latest.entity(ENTITY) == expected else Reply.STALE
        if latest.intent == "deny":
            return Reply.NO
        return Reply.UNCLEAR
    if latest.intent in {"deny", "human_handoff", "complaint"}:
        return Reply.UNCLEAR
    return Reply.YES if is_clear_yes(latest.text, action) else Reply.UNCLEAR


#: The questions of the forms that end in a yes to a summary -> the change they lead to.
_QUESTIONS = {
    "utter_ask_confirm_cancel": CANCEL,
    "utter_ask_new_address": ADDRESS,
    "utter_ask_confirm_address": ADDRESS,
    "utter_ask_return_items": RETURN,
    "utter_ask_return_reason": RETURN,
    "utter_ask_return_reason_summary": RETURN,
    "utter_ask_confirm_return": RETURN,
}
_FORMS = {"cancel_form": CANCEL, "address_form": ADDRESS, "return_form": RETURN}


def interrupted(tracker: Tracker) -> str | None:
    """The order change whose question the latest message answered instead (`CANCEL`, `ADDRESS`, `RETURN`), or
    None: the form still running, or the form question the bot asked last."""
    form = _FORMS.get(str((tracker.active_loop or {}).get("name") or ""))
    return form or _QUESTIONS.get(last_bot_response(tracker) or "")


def is_form(name: str | None) -> bool:
    """Whether ``name`` is one of the forms that end in a confirmation."""
    return name in _FORMS
