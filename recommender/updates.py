"""Fresh recommendations between rebuilds: new orders applied to a loaded recommender in place, and
the background refresher that reads them from the order store and schedules full rebuilds.

Called by :meth:`recommender.service.Recommender.add_orders` and started by
:func:`recommender.service.get_recommender` in every serving process whose artifacts were trained
from the order store (the action server under ``make run``).

What an order changes at once, exactly as a refit on the longer log would count it: the customer's
history and purchases (personal picks and what is never offered again), the "bought together"
counts, the sequential rules ("what follows what": raw pair weights and item counts are kept apart
for this), and popularity. Item-kNN, user-kNN, content vectors, SASRec, the hybrid weights, new
products and cancellations wait for the next full rebuild (``RECOMMENDER_REBUILD_HOURS``).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from recommender.artifacts import MANIFEST
from recommender.data import NewOrder

if TYPE_CHECKING:  # for annotations only: the service calls this module, never the other way round
    from recommender.service import Recommender

__all__ = ["NewOrder", "OrderFeed", "Refresher", "UpdateResult", "apply_orders", "rebuild_hours", "refresh_seconds"]

log = logging.getLogger(__name__)

#: Seconds between two reads of new orders (0 = no refresher).
REFRESH_ENV = "RECOMMENDER_REFRESH_SECONDS"
DEFAULT_REFRESH_SECONDS = 60.0
#: Hours between full rebuilds started by the refresher (0 = never; use cron / a timer instead).
REBUILD_ENV = "RECOMMENDER_REBUILD_HOURS"
DEFAULT_REBUILD_HOURS = 24.0
#: "Bought together" pairs: same order, or within this many consecutive purchases (as trained).
CO_PURCHASE_WINDOW = 2


@dataclass
class UpdateResult:
    """What :func:`apply_orders` did.

    Attributes:
        orders: Orders applied.
        events: Order lines applied (lines of products the artifacts know).
        unknown_products: Lines skipped because the product is newer than the artifacts.
        customers: Customers whose history changed.
        new_customers: Of those, customers the artifacts did not know.
        seconds: Time taken.
    """

    orders: int = 0
    events: int = 0
    unknown_products: int = 0
    customers: int = 0
    new_customers: int = 0
    seconds: float = 0.0


def apply_orders(rec: Recommender, orders: Sequence[NewOrder]) -> UpdateResult:
    """Apply ``orders`` to ``rec`` in place (see the module docstring for what changes).

    New matrices and arrays are built aside and swapped in, so requests answered meanwhile see
    the state before or after, and updates are serialised by ``rec.update_lock``.
    """
    started = time.perf_counter()
    result = UpdateResult()
    if not orders:
        return result
    catalog = rec.catalog
    n = len(catalog)
    by_customer: dict[str, list[NewOrder]] = defaultdict(list)
    for order in sorted(orders, key=lambda o: (o.placed, o.order_id)):
        by_customer[order.customer].append(order)
    co_rows: list[np.ndarray] = []
    co_cols: list[np.ndarray] = []
    rule_rows: list[np.ndarray] = []
    rule_cols: list[np.ndarray] = []
    rule_vals: list[np.ndarray] = []
    new_items: list[np.ndarray] = []
    new_weights: list[np.ndarray] = []
    new_stamps: list[np.ndarray] = []
    rules = rec.seq_rules
    window = rules.window if rules is not None else 0
    purchase_weight = float(rec.manifest.get("source", {}).get("purchase_weight", 1.0))
    with rec.update_lock:
        histories, stamps, purchases = {}, {}, {}
        for customer, placed in by_customer.items():
            items: list[int] = []
            times: list[float] = []
            weights: list[float] = []
            for order in placed:
                for sku in order.skus:
                    if sku not in catalog:
                        result.unknown_products += 1
                        continue
                    items.append(catalog.index(sku))
                    times.append(order.placed)
                    weights.append(order.weight)
            result.orders += len(placed)
            if not items:
                continue
            old = rec.histories.get(customer)
            if old is None:
                result.new_customers += 1
                old = np.zeros(0, dtype=np.int64)
            old_times = rec.timestamps.get(customer)
            if old_times is None or len(old_times) != len(old):
                old_times = np.zeros(len(old), dtype=np.float64)  # unknown times: never "same order"
            added = np.array(items, dtype=np.int64)
            seq = np.concatenate([np.asarray(old, dtype=np.int64), added])
            ts = np.concatenate([np.asarray(old_times, dtype=np.float64), np.array(times, dtype=np.float64)])
            first_new = len(old)
            # Bought together: every pair a refit would count that involves a new position.
            i, j = _new_pairs(ts, first_new, CO_PURCHASE_WINDOW)
            a, b = seq[i], seq[j]
            differ = a != b
            co_rows += [a[differ], b[differ]]
            co_cols += [b[differ], a[differ]]
            # Sequential rules: "b follows a" within the window, weighted 1/gap, same item excluded.
            if window:
                later = np.arange(first_new, len(seq))
                gaps = np.arange(1, window + 1)
                earlier = later[:, None] - gaps[None, :]
                ok = earlier >= 0
                a, b = seq[earlier[ok]], seq[np.broadcast_to(later[:, None], earlier.shape)[ok]]
                g = np.broadcast_to(gaps[None, :], earlier.shape)[ok]
                differ = a != b
                rule_rows.append(a[differ])
                rule_cols.append(b[differ])
                rule_vals.append((1.0 / g[differ]).astype(np.float32))
            w = np.array(weights, dtype=np.float32)
            new_items.append(added)
            new_weights.append(w)
            new_stamps.append(np.array(times, dtype=np.float64))
            histories[customer] = seq
            stamps[customer] = ts
            bought = added[w >= purchase_weight]
            purchases[customer] = np.unique(
                np.concatenate([np.asarray(rec.purchases.get(customer, np.zeros(0, np.int64)), np.int64), bought])
            )
            result.customers += 1
            result.events += len(items)
        if co_rows:
            rows, cols = np.concatenate(co_rows), np.concatenate(co_cols)
            delta = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, n))
            rec.co_purchase = (rec.co_purchase + delta).tocsr()
        if new_items:
            items_all = np.concatenate(new_items)
            weights_all = np.concatenate(new_weights)
            if rules is not None:
                rules.add(
                    np.concatenate(rule_rows) if rule_rows else np.zeros(0, np.int64),
                    np.concatenate(rule_cols) if rule_cols else np.zeros(0, np.int64),
                    np.concatenate(rule_vals) if rule_vals else np.zeros(0, np.float32),
                    items_all,
                    weights_all,
                )
            rec.popularity.add(items_all, weights_all, np.concatenate(new_stamps))
            rec.refresh_orders()
            if rec.hybrid is not None:
                rec.hybrid.refresh()
        # Histories last: a request sees the new history only with the statistics that go with it.
        rec.timestamps.update(stamps)
        rec.purchases.update(purchases)
        rec.histories.update(histories)
        rec.orders_applied += result.orders
    result.seconds = time.perf_counter() - started
    return result


def _new_pairs(stamps: np.ndarray, first_new: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Position pairs (i < j) that :func:`recommender.models.knn.co_purchase` counts for a sequence
    and that involve a position ``j >= first_new``: within ``window`` steps, or at the same time
    (one order). ``stamps`` are in time order, so equal times are one contiguous run."""
    later = np.arange(first_new, len(stamps))
    if not len(later):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    gaps = np.arange(1, window + 1)
    earlier = later[:, None] - gaps[None, :]
    ok = earlier >= 0
    firsts = [earlier[ok]]
    seconds = [np.broadcast_to(later[:, None], earlier.shape)[ok]]
    # Same time beyond the window: from the start of j's run of equal times up to j - window - 1.
    run_start = np.searchsorted(stamps, stamps[later], side="left")
    for j, start in zip(later.tolist(), run_start.tolist(), strict=True):
        if start < j - window:
            firsts.append(np.arange(start, j - window))
            seconds.append(np.full(j - window - start, j))
    return np.concatenate(firsts), np.concatenate(seconds)


class OrderFeed:
    """New orders from the order store, each delivered once.

    Reads orders with an id above the artifacts' watermark (``last_order_id`` in the manifest)
    minus a look-back of ``lookback`` ids, so an order whose id was taken before a higher one but
    committed after it is still seen; ids already delivered, or already in the training read
    (``seen``), are skipped.
    """

    def __init__(self, engine: Any, after_id: int, seen: Sequence[int] = (), lookback: int = 1000) -> None:
        self.engine = engine
        self.watermark = int(after_id)
        self.lookback = lookback
        self._delivered: set[int] = {int(i) for i in seen}

    def poll(self) -> list[NewOrder]:
        """Orders not delivered yet (SELECTs only)."""
        # Imported here: only a store-fed refresher needs SQLAlchemy.
        from recommender.store_adapter import read_new_orders

        orders = read_new_orders(self.engine, self.watermark - self.lookback)
        fresh = [o for o in orders if o.order_id not in self._delivered]
        self._delivered.update(o.order_id for o in fresh)
        if orders:
            self.watermark = max(self.watermark, max(o.order_id for o in orders))
        floor = self.watermark - self.lookback
        self._delivered = {i for i in self._delivered if i > floor}
        return fresh


def refresh_seconds() -> float:
    """``$RECOMMENDER_REFRESH_SECONDS`` (default 60; 0 turns the refresher off)."""
    try:
        return float(os.environ.get(REFRESH_ENV, DEFAULT_REFRESH_SECONDS))
    except ValueError:
        log.warning("%s is not a number; using %s", REFRESH_ENV, DEFAULT_REFRESH_SECONDS)
        return DEFAULT_REFRESH_SECONDS


def rebuild_hours() -> float:
    """``$RECOMMENDER_REBUILD_HOURS`` (default 24; 0 = the refresher never rebuilds)."""
    try:
        return float(os.environ.get(REBUILD_ENV, DEFAULT_REBUILD_HOURS))
    except ValueError:
        log.warning("%s is not a number; using %s", REBUILD_ENV, DEFAULT_REBUILD_HOURS)
        return DEFAULT_REBUILD_HOURS


class Refresher:
    """Keeps one serving process's recommender fresh: every ``interval`` seconds it applies the
    store's new orders, loads artifacts another process rebuilt, and every ``rebuild`` seconds it
    rebuilds them itself (one process at a time, under a file lock, at low priority, in a child
    process so the serving process never holds training memory).

    Args:
        directory: The artifact folder.
        current: Returns the recommender now served from ``directory``.
        swap: Installs a newly loaded recommender (and returns nothing).
        engine_factory: Opens an engine on the order store (called once, lazily).
        load: Loads a recommender from an artifact folder (``Recommender.load``).
        interval: Seconds between two polls.
        rebuild: Seconds between full rebuilds (0 = never).
    """

    def __init__(
        self,
        directory: Path,
        current: Callable[[], Recommender],
        swap: Callable[[Recommender], None],
        engine_factory: Callable[[], Any],
        load: Callable[[Path], Recommender],
        interval: float,
        rebuild: float = 0.0,
    ) -> None:
        self.directory = directory
        self.current = current
        self.swap = swap
        self.engine_factory = engine_factory
        self.load = load
        self.interval = interval
        self.rebuild = rebuild
        self._engine: Any = None
        self._feed: OrderFeed | None = None
        self._feed_for: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.last_update: UpdateResult | None = None

    def start(self) -> Refresher:
        """Run :meth:`tick` every ``interval`` seconds in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="recommender-refresher", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (tests; process exit does not need it) and close the engine."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
                self.last_error = None
            except Exception as error:  # noqa: BLE001 - a bad tick must not end the refresher
                # Serving goes on with what it has; say so once per distinct error.
                message = f"{type(error).__name__}: {error}"
                if message != self.last_error:
                    log.warning("recommender refresh failed (%s); serving the last good state", message)
                self.last_error = message

    def tick(self) -> UpdateResult:
        """One poll: pick up rebuilt artifacts, rebuild if due, apply new orders."""
        rec = self.current()
        manifest_path = self.directory / MANIFEST
        with contextlib.suppress(OSError):
            if manifest_path.stat().st_mtime != rec.manifest.get("_mtime"):
                rec = self.load(self.directory)
                self.swap(rec)
                log.info("recommender: loaded rebuilt artifacts from %s", self.directory)
        due = self.rebuild > 0 and time.time() - float(rec.manifest.get("_built", time.time())) > self.rebuild
        if due and self.rebuild_now():
            rec = self.load(self.directory)
            self.swap(rec)
        if self._feed is None or self._feed_for != id(rec):
            if self._engine is None:
                self._engine = self.engine_factory()
            source = rec.manifest.get("source", {})
            after = int(source.get("last_order_id", 0))
            self._feed = OrderFeed(self._engine, after, source.get("recent_order_ids", ()))
            self._feed_for = id(rec)
        orders = self._feed.poll()
        result = rec.add_orders(orders) if orders else UpdateResult()
        if orders:
            self.last_update = result
            log.info(
                "recommender: applied %d new orders (%d lines, %d customers) in %.0f ms",
                result.orders,
                result.events,
                result.customers,
                result.seconds * 1000,
            )
        return result

    def rebuild_now(self) -> bool:
        """Retrain from the store into the artifact folder unless another process is at it.

        Returns:
            True when this call rebuilt the artifacts.
        """
        lock_path = self.directory.parent / f".{self.directory.name}.rebuild.lock"
        with open(lock_path, "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # another serving process is rebuilding; its manifest will show up
            log.info("recommender: scheduled rebuild of %s from the order store", self.directory)
            done = subprocess.run(
                [sys.executable, "-m", "recommender", "train", "--from-store", "--out", str(self.directory), "--quiet"],
                preexec_fn=lambda: os.nice(10),  # only lowers the child's priority
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"rebuild failed: {done.stderr.strip()[-500:]}")
            return True
