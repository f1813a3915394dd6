"""Register, list and revoke in-store tablets: ``python -m connectors.tablet register|list|revoke``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from connectors.db import create_schema, gateway_engine
from connectors.tablet.channel import ShopRecords
from connectors.tablet.devices import TabletError, TabletRegistry
from connectors.tablet.settings import database_urls
from connectors.tablet.translate import conversation_id
from store.db import make_engine
from store.service import OrderStore
from store.settings import Settings as StoreSettings


def _known_stores(shop_db_url: str) -> dict[str, str]:
    engine = make_engine(StoreSettings.from_env({"SHOP_DATABASE_URL": shop_db_url}).database_url)
    try:
        return {s.store_id: s.name for s in OrderStore(sessionmaker(engine)).stores()}
    finally:
        engine.dispose()


def _grants_ender(shop: ShopRecords) -> Callable[[list[str]], None]:
    def end(session_ids: list[str]) -> None:
        try:
            shop.end_grants([conversation_id(s) for s in session_ids])
        except SQLAlchemyError as exc:  # the tablet is revoked all the same; the store's idle limit ends them
            print(f"warning: could not end the grants of its session: {exc}", file=sys.stderr)

    return end


def main(argv: Sequence[str] | None = None) -> int:
    """Run the device command.

    Args:
        argv: arguments (default ``sys.argv[1:]``).

    Returns:
        0 on success, 2 on a usage or lookup error (the reason is printed to stderr).
    """
    gateway_default, shop_default = database_urls()
    parser = argparse.ArgumentParser(prog="python -m connectors.tablet", description=__doc__)
    parser.add_argument("--gateway-database-url", default=gateway_default, help="default: GATEWAY_DATABASE_URL")
    parser.add_argument("--shop-database-url", default=shop_default, help="default: SHOP_DATABASE_URL")
    commands = parser.add_subparsers(dest="command", required=True)
    register = commands.add_parser("register", help="register a tablet for a store and print its token once")
    register.add_argument("--store", required=True, help="store id from the order store, e.g. LDN-01")
    register.add_argument("--name", required=True, help='what staff call this tablet, e.g. "front door"')
    commands.add_parser("list", help="list registered tablets (never their tokens)")
    revoke = commands.add_parser("revoke", help="revoke a tablet: its token stops working at once")
    revoke.add_argument("device_id", type=int)
    args = parser.parse_args(argv)

    engine = gateway_engine(args.gateway_database_url)
    shop = ShopRecords(args.shop_database_url)  # nothing opened until a revoke ends a session
    try:
        create_schema(engine)
        # Revoking ends the tablet's open session, and what its conversation proved with it.
        registry = TabletRegistry(sessionmaker(engine, expire_on_commit=False), on_end=_grants_ender(shop))
        if args.command == "register":
            stores = _known_stores(args.shop_database_url)
            device, token = registry.register(args.store, args.name, stores)
            print(
                f'Registered tablet {device.device_id} "{device.name}" for {device.store_id} {stores[device.store_id]}.'
            )
            print(
                "Its device token (shown only now; enter it on the tablet at /tablet, or open /tablet#token=<token>):"
            )
            print(token)
        elif args.command == "list":
            devices = registry.devices()
            if not devices:
                print("No tablets registered.")
            for d in devices:
                state = "active" if d.active else f"revoked {d.revoked_at:%Y-%m-%d %H:%M}"
                print(f"{d.device_id}\t{d.store_id}\t{d.name}\tregistered {d.created_at:%Y-%m-%d %H:%M}\t{state}")
        else:
            device = registry.revoke(args.device_id)
            print(f'Revoked tablet {device.device_id} "{device.name}" ({device.store_id}).')
    except TabletError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(f"error: cannot use the database: {exc}", file=sys.stderr)
        return 2
    finally:
        shop.dispose()
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
