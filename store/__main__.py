"""Command line of the order store: ``python -m store migrate|seed|setup|demo-cases|info|shipment-event``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, time

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from store import models as m
from store.accounts import CustomerAccounts
from store.db import is_migrated, make_engine, session_scope
from store.errors import DatabaseNotReady, OrderNotFound, StoreError
from store.migrate import current_revision, head_revision, upgrade
from store.seed import clear, is_empty, seed
from store.service import OrderStore
from store.settings import Settings


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _require_migrated(engine: Engine) -> None:
    if not is_migrated(engine):
        raise DatabaseNotReady("The database has no tables yet. Run `python -m store migrate` first.")


def cmd_migrate(engine: Engine) -> None:
    """Upgrade the database to the newest schema (idempotent)."""
    before = current_revision(engine)
    head = head_revision()
    if before == head:
        _log(f"Database already at revision {head}; nothing to do.")
        return
    _log(f"Migrating from {before or 'an empty database'} to {head} ...")
    upgrade(engine)
    _log(f"Database now at revision {current_revision(engine)}.")


def cmd_seed(engine: Engine, *, seed_value: int, if_empty: bool, reset: bool, anchor: datetime | None) -> None:
    """Fill the database with the demo shop."""
    _require_migrated(engine)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with session_scope(factory) as session:
        if not is_empty(session):
            if reset:
                _log("Deleting existing data (--reset) ...")
                clear(session)
                session.flush()
            elif if_empty:
                products = session.execute(select(func.count(m.Product.id))).scalar_one()
                orders = session.execute(select(func.count(m.Order.id))).scalar_one()
                _log(f"Database already has data ({products} products, {orders} orders); not seeding (--if-empty).")
                return
            else:
                raise StoreError(
                    "The database already has data. Use --if-empty to skip seeding, or --reset to replace it."
                )
        report = seed(session, seed=seed_value, anchor=anchor, log=_log)
    statuses = ", ".join(f"{k} {v}" for k, v in report.by_status.items())
    _log(
        f"Seeded {report.products} products, {report.customers} customers, {report.orders} orders "
        f"({statuses}), {report.shipments} shipments, {report.returns} returns, {report.refunds} refunds, "
        f"{report.stores} stores, {report.zones} shipping zones."
    )


def cmd_demo_cases(engine: Engine, limit: int) -> None:
    """Print ready-to-try demo cases as JSON on stdout."""
    _require_migrated(engine)
    store = OrderStore(sessionmaker(bind=engine, expire_on_commit=False))
    print(json.dumps(store.demo_cases(limit=limit), indent=2, ensure_ascii=False))


def cmd_info(engine: Engine) -> None:
    """Print the revision and row counts."""
    _log(f"Revision: {current_revision(engine)} (head {head_revision()})")
    if not is_migrated(engine):
        _log("No tables yet: run `python -m store migrate`.")
        return
    with engine.connect() as conn:
        for table in m.Base.metadata.sorted_tables:
            count = conn.execute(select(func.count()).select_from(table)).scalar_one()
            _log(f"  {table.name:<26} {count}")


def cmd_shipment_event(engine: Engine, order: str, kind: str, event_id: str | None) -> None:
    """Record a carrier event (stands for the carrier's webhook); the gateway's notifier sends the news."""
    _require_migrated(engine)
    accounts = CustomerAccounts(sessionmaker(bind=engine, expire_on_commit=False))
    try:
        recorded = accounts.record_event(order, kind.replace("-", "_"), event_id)
    except OrderNotFound:
        raise StoreError(f"there is no order {order!r} in this database") from None
    if recorded.created:
        _log(f"Recorded {recorded.kind} for {recorded.order_number}; opted-in customers hear of it on their channels.")
    else:
        _log(
            f"{recorded.order_number} {recorded.kind} was already recorded ({recorded.event_key}); nothing sent again."
        )


def _anchor(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.combine(datetime.strptime(text, "%Y-%m-%d").date(), time(0, 0), tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(prog="python -m store", description="Order store database tasks.")
    parser.add_argument("--database-url", help="Overrides SHOP_DATABASE_URL for this command.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="Create or upgrade the tables (idempotent).")
    for name, text in (("seed", "Fill the database with the demo shop."), ("setup", "migrate + seed --if-empty.")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        p.add_argument("--anchor", help="Date (YYYY-MM-DD) the demo is relative to (default: today UTC).")
        if name == "seed":
            p.add_argument("--if-empty", action="store_true", help="Do nothing when data already exists.")
            p.add_argument("--reset", action="store_true", help="Delete existing data first.")
    demo = sub.add_parser("demo-cases", help="Print ready-to-try cases as JSON.")
    demo.add_argument("--limit", type=int, default=12)
    sub.add_parser("info", help="Show the schema revision and row counts.")
    event = sub.add_parser(
        "shipment-event", help="Record a shipment status change or an issued refund (stands for the carrier)."
    )
    event.add_argument("order", help="Order number, e.g. ORD-100234.")
    event.add_argument(
        "kind",
        choices=["delayed", "out_for_delivery", "out-for-delivery", "delivered", "refund_issued", "refund-issued"],
    )
    event.add_argument("--event-id", help="The carrier's event id (the same id is recorded once).")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        Process exit code: 0 ok, 1 store error, 2 database not ready or unreachable.
    """
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    url = (
        Settings.from_env({"SHOP_DATABASE_URL": args.database_url}).database_url
        if args.database_url
        else (settings.database_url)
    )
    engine = make_engine(url)
    try:
        if args.command != "demo-cases":
            _log(f"Database: {_redacted(url)}")
        if args.command == "migrate":
            cmd_migrate(engine)
        elif args.command == "seed":
            cmd_seed(
                engine, seed_value=args.seed, if_empty=args.if_empty, reset=args.reset, anchor=_anchor(args.anchor)
            )
        elif args.command == "setup":
            cmd_migrate(engine)
            cmd_seed(engine, seed_value=args.seed, if_empty=True, reset=False, anchor=_anchor(args.anchor))
        elif args.command == "demo-cases":
            cmd_demo_cases(engine, args.limit)
        elif args.command == "shipment-event":
            cmd_shipment_event(engine, args.order, args.kind, args.event_id)
        else:
            cmd_info(engine)
    except DatabaseNotReady as exc:
        _log(f"error: {exc}")
        return 2
    except StoreError as exc:
        _log(f"error: {exc}")
        return 1
    except SQLAlchemyError as exc:
        _log(f"error: cannot use the database at {_redacted(url)}: {exc.__class__.__name__}: {exc}".splitlines()[0])
        return 2
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
