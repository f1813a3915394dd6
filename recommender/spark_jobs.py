"""The recommender's statistics as Spark jobs, for logs too big for one machine, and their way back
into the artifact folder the serving processes load. Optional: needs ``pyspark`` and ``pyarrow``
(``requirements-recommender-spark.txt``) and Java 17; nothing else imports this module.

Run by ``bench/recommender_spark.py`` (local mode, checked against the single-machine numbers) and,
at 100x, by a cluster job on the order history (see recommender/README.md, "Beyond one machine").

The jobs compute exactly what :mod:`recommender.models.knn` computes:

* ``co_purchase``: "bought together" counts, pairs within ``window`` purchases or in one order;
* ``rule_pairs`` / ``item_counts``: the sequential rules' raw "j follows i" weights (1/gap) and
  the per-item event counts they are normalised by;
* ``item_cosine``: item-kNN, cosine of the binary customer x item columns with shrinkage, the
  best ``neighbours`` per item (ties: lower item index).

Each writes Parquet (``item``, ``other``, ``value``); :func:`parquet_to_csr` turns one into the
CSR matrix the artifacts hold, so a converter on one machine (memory ~ the output, not the log)
writes ``co_purchase.npz``, ``seq_rules.npz`` and ``item_knn.npz`` into a build folder that is
published like any other build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse


def session(threads: int = 2, memory: str = "3g", tmp: Path | None = None) -> Any:
    """A local Spark session (the cluster's would come from spark-submit)."""
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(f"local[{threads}]")
        .appName("recommender-statistics")
        .config("spark.driver.memory", memory)
        .config("spark.sql.shuffle.partitions", str(max(4, 4 * threads)))
        .config("spark.ui.enabled", "false")
    )
    if tmp is not None:
        builder = builder.config("spark.local.dir", str(tmp))
    return builder.getOrCreate()


def events_from_sequences(spark: Any, sequences: Path, catalog_ids: list[str]) -> Any:
    """``(user, pos, ts, item)`` rows from a ``sequences.txt`` (item = catalogue index, ts = pos),
    the layout :func:`recommender.data.load_sequence_dataset` reads. A shop would read its order
    lines instead (user, order time, SKU joined to the catalogue index)."""
    from pyspark.sql import functions as F

    index = spark.createDataFrame([(pid, i) for i, pid in enumerate(catalog_ids)], ["pid", "item"])
    lines = spark.read.text(str(sequences)).where(F.length("value") > 0)
    parts = lines.select(F.split(F.trim("value"), r"\s+").alias("p"))
    rows = parts.select(
        F.col("p")[0].alias("user"),
        F.posexplode(F.slice("p", 2, 1 << 20)).alias("pos", "pid"),
    )
    return rows.join(F.broadcast(index), "pid").select("user", "pos", F.col("pos").cast("double").alias("ts"), "item")


def _leads(events: Any, window: int) -> Any:
    """``(user, pos, ts, item, gap, other)``: each event with each of the ``window`` events after it."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    w = Window.partitionBy("user").orderBy("pos")
    # Leads first, then explode: Spark does not take window functions inside a generator.
    leads = events.select(
        "user", "pos", "ts", "item", *[F.lead("item", g).over(w).alias(f"next{g}") for g in range(1, window + 1)]
    )
    nexts = [F.struct(F.lit(g).alias("gap"), F.col(f"next{g}").alias("other")) for g in range(1, window + 1)]
    return (
        leads.select("user", "pos", "ts", "item", F.explode(F.array(*nexts)).alias("n"))
        .where(F.col("n.other").isNotNull())
        .select("user", "pos", "ts", "item", F.col("n.gap").alias("gap"), F.col("n.other").alias("other"))
    )


def co_purchase(events: Any, window: int = 2) -> Any:
    """Symmetric "bought together" counts, as :func:`recommender.models.knn.co_purchase`."""
    from pyspark.sql import functions as F

    near = _leads(events, window).select("item", "other")
    a, b = events.alias("a"), events.alias("b")
    same_order = (
        a.join(b, (F.col("a.user") == F.col("b.user")) & (F.col("a.ts") == F.col("b.ts")))
        .where(F.col("b.pos") - F.col("a.pos") > window)
        .select(F.col("a.item").alias("item"), F.col("b.item").alias("other"))
    )
    pairs = near.unionByName(same_order).where(F.col("item") != F.col("other"))
    both = pairs.unionByName(pairs.select(F.col("other").alias("item"), F.col("item").alias("other")))
    return both.groupBy("item", "other").agg(F.count(F.lit(1)).cast("double").alias("value"))


def rule_pairs(events: Any, window: int) -> Any:
    """Raw sequential-rule weights: sum of 1/gap over "other follows item" within ``window``."""
    from pyspark.sql import functions as F

    pairs = _leads(events, window).where(F.col("item") != F.col("other"))
    return pairs.groupBy("item", "other").agg(F.sum(1.0 / F.col("gap")).alias("value"))


def item_counts(events: Any) -> Any:
    """Events per item (every event weighs 1 here, as purchases do)."""
    from pyspark.sql import functions as F

    return events.groupBy("item").agg(F.count(F.lit(1)).cast("double").alias("value"))


def item_cosine(events: Any, neighbours: int = 100, shrink: float = 10.0) -> Any:
    """Item-kNN: cosine of the binary customer x item columns, c_ij / (|i||j| + shrink), the best
    ``neighbours`` per item (ties: lower item index)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    baskets = events.select("user", "item").distinct()
    norms = baskets.groupBy("item").agg(F.sqrt(F.count(F.lit(1)).cast("double")).alias("norm"))
    a, b = baskets.alias("a"), baskets.alias("b")
    co = (
        a.join(b, F.col("a.user") == F.col("b.user"))
        .where(F.col("a.item") != F.col("b.item"))
        .groupBy(F.col("a.item").alias("item"), F.col("b.item").alias("other"))
        .agg(F.count(F.lit(1)).cast("double").alias("co"))
    )
    na = norms.select(F.col("item").alias("a_item"), F.col("norm").alias("a_norm"))
    nb = norms.select(F.col("item").alias("b_item"), F.col("norm").alias("b_norm"))
    sims = (
        co.join(F.broadcast(na), F.col("item") == F.col("a_item"))
        .join(F.broadcast(nb), F.col("other") == F.col("b_item"))
        .select(
            F.col("item"),
            F.col("other"),
            (F.col("co") / F.greatest(F.col("a_norm") * F.col("b_norm") + F.lit(shrink), F.lit(1e-12))).alias("value"),
        )
    )
    # float32 before ranking, as the single-machine path ranks float32 similarities.
    sims = sims.withColumn("value", F.col("value").cast("float"))
    rank = Window.partitionBy("item").orderBy(F.col("value").desc(), F.col("other").asc())
    return sims.withColumn("r", F.row_number().over(rank)).where(F.col("r") <= neighbours).drop("r")


def write(frame: Any, path: Path) -> None:
    """Write a job's output as Parquet (overwriting)."""
    frame.write.mode("overwrite").parquet(str(path))


def parquet_to_csr(path: Path, n_items: int) -> sparse.csr_matrix:
    """An ``(item, other, value)`` Parquet output as an ``n_items x n_items`` float32 CSR matrix."""
    import pyarrow.parquet as pq

    table = pq.read_table(str(path), columns=["item", "other", "value"])
    rows = table.column("item").to_numpy().astype(np.int64)
    cols = table.column("other").to_numpy().astype(np.int64)
    vals = table.column("value").to_numpy().astype(np.float32)
    m = sparse.csr_matrix((vals, (rows, cols)), shape=(n_items, n_items))
    m.sum_duplicates()
    m.sort_indices()
    return m


def parquet_to_vector(path: Path, n_items: int) -> np.ndarray:
    """An ``(item, value)`` Parquet output as a dense float32 vector."""
    import pyarrow.parquet as pq

    table = pq.read_table(str(path), columns=["item", "value"])
    out = np.zeros(n_items, dtype=np.float32)
    out[table.column("item").to_numpy().astype(np.int64)] = table.column("value").to_numpy()
    return out
