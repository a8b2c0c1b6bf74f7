"""Ingest: raw behaviour logs (CSV / TSV / Parquet / JSONL / sequence files) → a Dataset folder.

One DuckDB pass reads and maps every source (see :class:`seqintent.schema.DatasetConfig`) into
one table whose row order is the input order; one sort orders events per user by (time, input
order); linear numpy passes apply the cleaning rules, build order-independent vocabularies and
derive gaps, sessions and splits. Every dropped event is counted by reason
(:class:`seqintent.schema.DropReasons`) in ``stats.json``.

>>> from seqintent.ingest import ingest, dataset_stats, format_stats
>>> ds = ingest("UserBehavior.csv", "taobao", "data/taobao")   # doctest: +SKIP
>>> print(format_stats(dataset_stats(ds)))                      # doctest: +SKIP

Decisions worth knowing
-----------------------
Counting
    ``events_read`` counts candidate events: one per row, one per token for ``explode`` /
    ``sequences`` / ``prefix_label``, and for ``flags`` one base event plus one per set flag.
    A row that yields no event counts once: ``malformed`` (cannot be parsed; for
    ``prefix_label`` every line of a session that is not a full run of prefixes),
    ``empty_sequence`` (no token), ``no_action`` (flags without base, no flag set). Then
    ``events_read == events_kept + sum(dropped)``, overall and per source. Rules apply in the
    order of ``DropReasons.ALL`` and an event is counted under the first that drops it.
Errors
    ``on_error: fail`` raises at the earliest bad line of a file (malformed row, empty user or
    time, unreadable time, unknown action under ``unknown: error``); policies
    (``missing_item: drop``, time window, duplicates, misclicks, k-core, ``unknown: drop``) only
    count. A CSV line number is exact unless a quoted field spans lines before it.
Order and time
    Ties in time keep input order (source order, file order in a sorted glob, line,
    sub-event). Times are UTC epoch ms; a time outside 1900-2200 counts as ``bad_time`` (it is
    nearly always a wrong unit). Without ``time`` on the sources, input order is the order.
Rules
    Duplicates: the same (user, item, action) within ``dedup_within_s`` of its previous
    occurrence, whether or not that one was itself dropped (bursts collapse to their first
    event); only with time. Misclicks: dwell known and below ``min_dwell_s`` for
    ``misclick_actions``. k-core: events without item count for their user only.
Splits
    leave-one-out: last event → test, second to last → valid; users with fewer than 3 kept
    events stay in train (as in SASRec). by_user: a seeded BLAKE2 hash of the user id, so the
    assignment does not depend on input order. given: each source's ``split`` (train if unset).
Sessions
    From the log's ``session_id`` (a new session where the id changes within the user's time
    order), else after more than ``sessions.gap_s`` idle seconds.
Vocabularies
    See :mod:`seqintent.ingest._vocab`: items, categories, devices by count then raw id; users
    by raw id (numeric when all are integers); actions present, in taxonomy order.
Outputs
    ``events.parquet`` holds the kept events in input order; ``event_index`` is each row's
    position in the sequence arrays. The manifest records every input file's size and SHA-256
    of its content (about 1 GB/s here, a few % of an ingest).
"""

from seqintent.ingest._engine import ingest
from seqintent.ingest._stats import dataset_stats, format_stats

__all__ = ["dataset_stats", "format_stats", "ingest"]
