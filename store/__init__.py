"""The order store: typed SQLAlchemy 2 library for orders, returns, shipping and catalogue (never imports rasa)."""

from store.errors import (
    DatabaseNotReady,
    InvalidInput,
    NotAllowed,
    NotAuthorized,
    OrderNotFound,
    ProductNotFound,
    ReturnNotFound,
    StoreError,
    StoreNotFound,
    UnknownDestination,
    VerificationFailed,
    VerificationLocked,
    VerificationPaused,
)
from store.records import ReturnPolicy
from store.service import OrderStore

__all__ = [
    "DatabaseNotReady",
    "InvalidInput",
    "NotAllowed",
    "NotAuthorized",
    "OrderNotFound",
    "OrderStore",
    "ProductNotFound",
    "ReturnNotFound",
    "ReturnPolicy",
    "StoreError",
    "StoreNotFound",
    "UnknownDestination",
    "VerificationFailed",
    "VerificationLocked",
    "VerificationPaused",
]
