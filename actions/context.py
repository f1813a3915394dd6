"""What every order-goal handler gets: who is asking, about which verified order, and where to reply."""

from __future__ import annotations

from dataclasses import dataclass

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from store.service import OrderStore


@dataclass(frozen=True)
class OrderContext:
    """A verified order question in one conversation."""

    dispatcher: CollectingDispatcher
    tracker: Tracker
    store: OrderStore
    conversation_id: str
    order_number: str
