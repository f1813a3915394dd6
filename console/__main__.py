"""``python -m console``: accounts, merging exported corrections, retention and per-customer deletion."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from connectors.db import create_schema, gateway_engine
from connectors.settings import REPO_ROOT
from console import models as _models  # noqa: F401  (declares the console_ tables)
from console.auth import add_user
from console.corrections import NLU_DIR, merge_corrections
from console.errors import ConsoleError
from console.models import ROLES, ConsoleUser
from console.privacy import forget_customer, retention
from console.tracker import Indexer, tracker_engine


def _url(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or f"sqlite:///{REPO_ROOT / 'var' / default}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m console", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    users = sub.add_parser("users", help="console accounts").add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="create an account (password from a prompt or --password-stdin)")
    add.add_argument("--email", required=True)
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    users.add_parser("list", help="list accounts")
    merge = sub.add_parser("merge-corrections", help="merge an exported corrections file into nlu_data/nlu/")
    merge.add_argument("export", type=Path)
    merge.add_argument("--nlu-dir", type=Path, default=NLU_DIR)
    merge.add_argument("--domain", type=Path, default=REPO_ROOT / "domain.yml")
    keep = sub.add_parser("retention", help="delete conversations whose last activity is older than N days")
    keep.add_argument("--days", type=int, required=True)
    forget = sub.add_parser("forget-customer", help="delete a customer's conversations and channel identities")
    forget.add_argument("--email", required=True)
    sub.add_parser("index", help="bring the conversation index up to date")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command.

    Databases come from ``GATEWAY_DATABASE_URL``, ``TRACKER_DB_URL`` and ``SHOP_DATABASE_URL``
    (defaults under var/, like the gateway).

    Returns:
        The exit status: 0 done, 1 merge found conflicts, 2 bad input.
    """
    args = _parser().parse_args(argv)
    gateway = gateway_engine(_url("GATEWAY_DATABASE_URL", "gateway.db"))
    create_schema(gateway)
    sessions = sessionmaker(gateway, expire_on_commit=False)
    try:
        if args.command == "users":
            if args.users_command == "list":
                with sessions() as session:
                    for user in session.scalars(select(ConsoleUser).order_by(ConsoleUser.email)):
                        print(f"{user.email}\t{user.role}\t{'active' if user.active else 'disabled'}")
                return 0
            if args.password_stdin:
                password = sys.stdin.readline().rstrip("\r\n")
            else:
                password = getpass.getpass("Password: ")
                if getpass.getpass("Again: ") != password:
                    print("the passwords differ", file=sys.stderr)
                    return 2
            add_user(sessions, args.email, args.role, password)
            print(f"created {args.email.strip().lower()} ({args.role})")
            return 0
        if args.command == "merge-corrections":
            report = merge_corrections(args.export, args.nlu_dir, args.domain)
            print(report.render())
            if report.added:
                print("retrain the model (make model) to use the new examples")
            return 1 if report.conflicts or report.unknown_intents else 0
        tracker = tracker_engine(_url("TRACKER_DB_URL", "tracker.db"))
        if args.command == "index":
            print(f"indexed {Indexer(tracker, sessions).refresh()} new events")
            return 0
        shop = gateway_engine(_url("SHOP_DATABASE_URL", "shop.db"))
        if args.command == "retention":
            if args.days < 1:
                print("--days must be at least 1", file=sys.stderr)
                return 2
            print(json.dumps(retention(tracker, sessions, args.days, shop=shop).to_json(), indent=2))
            return 0
        print(json.dumps(forget_customer(tracker, sessions, shop, args.email).to_json(), indent=2))
        return 0
    except (ConsoleError, ValueError, OSError) as exc:
        print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
