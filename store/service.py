"""`OrderStore`: the order store's business API (access rule, returns, shipping, ...) used by actions and gateway.

The class is a facade: each area lives in its own module (`store.verification`, `store.orders`, `store.returns`,
`store.payments`, `store.changes`, `store.shipping`, `store.catalogue`, `store.handoffs`, `store.demo.cases`) on
the shared `store.core.StoreCore`; shop policy constants live in `store.policy`.
"""

from __future__ import annotations

from sqlalchemy.orm import sessionmaker

from store.catalogue import Catalogue
from store.changes import OrderChanges
from store.core import StoreCore, add_business_days, default_proof_hasher, live_grant
from store.db import get_session_factory, make_engine
from store.demo.cases import DemoCases
from store.handoffs import Handoffs
from store.orders import Orders
from store.payments import Payments
from store.policy import (
    CHANGEABLE_STATUSES,
    EU_COUNTRIES,
    MAX_FAILED_VERIFICATIONS,
    PAYMENT_METHODS,
    RETURNS_ADDRESS,
    STAFF_ROLES,
    VAT_RATE,
)
from store.proofs import ProofLimits
from store.returns import Returns
from store.settings import Settings
from store.shipping import Shipping
from store.verification import Verification

__all__ = [
    "CHANGEABLE_STATUSES",
    "EU_COUNTRIES",
    "MAX_FAILED_VERIFICATIONS",
    "PAYMENT_METHODS",
    "RETURNS_ADDRESS",
    "STAFF_ROLES",
    "VAT_RATE",
    "OrderStore",
    "StoreCore",
    "add_business_days",
    "default_proof_hasher",
    "live_grant",
]


class OrderStore(
    DemoCases, Verification, Orders, Returns, Payments, OrderChanges, Shipping, Catalogue, Handoffs, StoreCore
):
    """The order store's API. Every method opens its own short unit of work and returns dataclasses.

    Access rule: nothing about an order is returned or changed unless the conversation verified it
    (`verify`), which records a grant for (conversation, order).
    """

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> OrderStore:
        """Build a store on the process-wide engine (``SHOP_DATABASE_URL``), created lazily.

        Args:
            settings: Settings to use instead of the environment; gets its own engine.

        Returns:
            A ready store.
        """
        limits = ProofLimits.from_env()
        if settings is None:
            return cls(get_session_factory(), limits=limits)
        engine = make_engine(settings.database_url, echo=settings.echo_sql)
        return cls(sessionmaker(bind=engine, expire_on_commit=False), limits=limits)
