"""Ingest: raw behaviour logs (CSV / TSV / Parquet / JSONL / sequence files) → a Dataset folder.

One DuckDB pass reads and maps every source (see :class:`seqintent.schema.DatasetConfig`), one
sort orders events per user by (time, input order), and linear numpy passes apply the cleaning
rules, build order-independent vocabularies and derive gaps, sessions and splits. Every dropped
event is counted by reason (:class:`seqintent.schema.DropReasons`) in ``stats.json``.

>>> from seqintent.ingest import ingest, dataset_stats, format_stats
>>> ds = ingest("UserBehavior.csv", "taobao", "data/taobao")   # doctest: +SKIP
>>> print(format_stats(dataset_stats(ds)))                      # doctest: +SKIP
"""

from seqintent.ingest._engine import ingest
from seqintent.ingest._stats import dataset_stats, format_stats

__all__ = ["dataset_stats", "format_stats", "ingest"]
