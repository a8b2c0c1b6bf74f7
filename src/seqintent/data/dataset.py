"""The Dataset folder: what ingest writes and what training and evaluation read.

Layout::

    DIR/
      manifest.json      kind, format version, config, source files and hashes, split, fields
      stats.json         counts read / kept / dropped by reason, action mix, lengths, time range
      events.parquet     the cleaned canonical events in input order (with input_order, gap_s,
                         session_index, split, and event_index: the row's position in sequences/)
      sequences/         offsets.npy + one memory-mappable .npy per field (see SequenceFields)
      vocab/             users, items, actions, categories, devices (.parquet; see Vocabularies)
      users.parquet      optional static user attributes
      items.parquet      optional item side information
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from seqintent.data.artifact import ArtifactWriter, read_json, read_manifest, write_json
from seqintent.data.sequences import SequenceArrays
from seqintent.data.vocab import Vocabulary
from seqintent.errors import ArtifactError
from seqintent.schema.columns import (
    DATASET_FORMAT_VERSION,
    MANIFEST_KIND_DATASET,
    Columns,
    DatasetFiles,
    SequenceFields,
    Splits,
    Vocabularies,
)
from seqintent.schema.config import DatasetConfig


class Dataset:
    """A read-only view of a Dataset folder. Open one with :meth:`load`.

    Examples
    --------
    >>> ds = Dataset.load("data/taobao")            # doctest: +SKIP
    >>> ds.n_users, ds.n_items, ds.has_time         # doctest: +SKIP
    (815, 55368, True)
    >>> ds.sequences.user(0)["item"][:5]            # doctest: +SKIP
    """

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest

    @classmethod
    def load(cls, path: str | Path) -> Dataset:
        """Open a Dataset folder (arrays are memory-mapped, nothing large is read).

        Raises
        ------
        ArtifactError
            If ``path`` is not a Dataset folder of a supported format version.
        """
        path = Path(path)
        manifest = read_manifest(
            path, kind=MANIFEST_KIND_DATASET, supported_versions=(DATASET_FORMAT_VERSION,)
        )
        return cls(path, manifest)

    # --- description -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @cached_property
    def config(self) -> DatasetConfig:
        """The config the Dataset was ingested with."""
        return DatasetConfig.model_validate(self.manifest["config"])

    @cached_property
    def stats(self) -> dict[str, Any]:
        return read_json(self.path / DatasetFiles.STATS)

    @property
    def has_time(self) -> bool:
        """Whether events carry real timestamps (else order is the input order)."""
        return bool(self.manifest["has_time"])

    @property
    def timezone(self) -> str:
        """The log's local time zone (for hour-of-day / weekday features)."""
        return self.manifest.get("timezone", "UTC")

    @property
    def split_kind(self) -> str:
        return self.manifest["split"]["kind"]

    @property
    def fields(self) -> list[str]:
        """Names of the per-event arrays present."""
        return sorted(self.sequences.fields)

    # --- arrays and vocabularies ---------------------------------------------------------------

    @cached_property
    def sequences(self) -> SequenceArrays:
        return SequenceArrays.load(self.path / DatasetFiles.SEQUENCES)

    def vocab(self, name: str) -> Vocabulary:
        """A vocabulary by name (see :class:`Vocabularies`)."""
        if name not in Vocabularies.ALL:
            raise KeyError(f"unknown vocabulary {name!r}; expected one of {list(Vocabularies.ALL)}")
        cache = self.__dict__.setdefault("_vocabs", {})
        if name not in cache:
            cache[name] = Vocabulary.load(
                self.path / DatasetFiles.VOCAB / f"{name}.parquet", padded=name in Vocabularies.PADDED
            )
        return cache[name]

    @property
    def n_users(self) -> int:
        return self.sequences.n_users

    @property
    def n_items(self) -> int:
        """Number of real items (the item vocabulary has one more entry: padding)."""
        return self.vocab(Vocabularies.ITEMS).n_real

    @property
    def n_events(self) -> int:
        return self.sequences.n_events

    def split_mask(self, split: str) -> np.ndarray:
        """Boolean mask over events of one split ("train", "valid" or "test")."""
        return np.asarray(self.sequences[SequenceFields.SPLIT]) == Splits.code(split)

    def item_categories(self) -> np.ndarray:
        """Category index of every item index (0 for padding / none): the most frequent one seen."""
        cache = self.__dict__
        if "_item_categories" not in cache:
            items = np.asarray(self.sequences[SequenceFields.ITEM])
            cats = np.asarray(self.sequences[SequenceFields.CATEGORY])
            out = np.zeros(len(self.vocab(Vocabularies.ITEMS)), dtype=np.int32)
            has = (items > 0) & (cats > 0)
            if has.any():
                pairs = np.stack([items[has], cats[has]], axis=1)
                uniq, counts = np.unique(pairs, axis=0, return_counts=True)
                # for each item keep the pair with the highest count (ties: lowest category index)
                order = np.lexsort((uniq[:, 1], -counts, uniq[:, 0]))
                first = np.ones(len(order), dtype=bool)
                first[1:] = uniq[order[1:], 0] != uniq[order[:-1], 0]
                best = uniq[order[first]]
                out[best[:, 0]] = best[:, 1]
            cache["_item_categories"] = out
        return cache["_item_categories"]

    def sequence_recency(self) -> np.ndarray:
        """float64 [n_users]: a key that orders the sequences from oldest to newest (-inf for an
        empty one): the time of a sequence's last event where the log has time, else the input
        position of its last event (files that list sequences in time order, as the GCE-GNN
        session files do)."""
        n_users, offsets = self.n_users, np.asarray(self.sequences.offsets)
        recency = np.full(n_users, -np.inf)
        nonempty = np.flatnonzero(np.diff(offsets) > 0)
        if self.has_time:
            ts = np.asarray(self.sequences[SequenceFields.TIME])
            recency[nonempty] = ts[offsets[nonempty + 1] - 1]
            return recency
        table = self.events([Columns.EVENT_INDEX, Columns.INPUT_ORDER])
        order = np.full(self.n_events, -np.inf)
        order[table[Columns.EVENT_INDEX].to_numpy()] = table[Columns.INPUT_ORDER].to_numpy()
        if len(nonempty):
            recency[nonempty] = np.maximum.reduceat(order, offsets[nonempty])
        return recency

    # --- tables --------------------------------------------------------------------------------

    def events(self, columns: list[str] | None = None) -> pa.Table:
        """The cleaned canonical events as an Arrow table (read from Parquet)."""
        return pq.read_table(self.path / DatasetFiles.EVENTS, columns=columns)

    def users_table(self) -> pa.Table | None:
        """Static user attributes, or None when the config supplied no user table."""
        path = self.path / DatasetFiles.USERS_TABLE
        return pq.read_table(path) if path.is_file() else None

    def items_table(self) -> pa.Table | None:
        path = self.path / DatasetFiles.ITEMS_TABLE
        return pq.read_table(path) if path.is_file() else None

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, users={self.n_users}, items={self.n_items}, events={self.n_events}, "
            f"split={self.split_kind!r}, path='{self.path}')"
        )


def load_dataset(path: str | Path) -> Dataset:
    """Open a Dataset folder; see :class:`Dataset`."""
    return Dataset.load(path)


class DatasetWriter(ArtifactWriter):
    """Writes a Dataset folder; used by ingest (and by tests that build a Dataset from arrays).

    Write ``events.parquet`` (e.g. with DuckDB's COPY) to :attr:`events_path`, add sequences and
    vocabularies, then :meth:`finish` with the manifest fields and stats.
    """

    def __init__(self, out: str | Path, *, overwrite: bool = False) -> None:
        super().__init__(
            out, kind=MANIFEST_KIND_DATASET, format_version=DATASET_FORMAT_VERSION, overwrite=overwrite
        )
        self._sequences: SequenceArrays | None = None
        self._vocabs: dict[str, Vocabulary] = {}

    @property
    def events_path(self) -> Path:
        return self.path / DatasetFiles.EVENTS

    def table_path(self, name: str) -> Path:
        """Where to write an optional side table (``users.parquet`` / ``items.parquet``)."""
        return self.path / name

    def add_sequences(self, sequences: SequenceArrays) -> None:
        missing = [f for f in SequenceFields.ALWAYS if f not in sequences]
        if missing:
            raise ArtifactError(f"sequences lack required fields {missing}")
        self._sequences = sequences
        sequences.save(self.path / DatasetFiles.SEQUENCES)

    def add_vocab(self, name: str, vocab: Vocabulary) -> None:
        if name not in Vocabularies.ALL:
            raise ArtifactError(f"unknown vocabulary {name!r}; expected one of {list(Vocabularies.ALL)}")
        if vocab.padded != (name in Vocabularies.PADDED):
            raise ArtifactError(
                f"vocabulary {name!r} must {'' if name in Vocabularies.PADDED else 'not '}be padded"
            )
        self._vocabs[name] = vocab
        folder = self.path / DatasetFiles.VOCAB
        folder.mkdir(exist_ok=True)
        vocab.save(folder / f"{name}.parquet")

    def finish(
        self,
        *,
        config: DatasetConfig,
        source: dict[str, Any],
        has_time: bool,
        stats: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> Dataset:
        """Check the pieces agree, write stats and manifest, move the folder into place."""
        if self._sequences is None:
            raise ArtifactError("add_sequences was not called")
        missing = [v for v in Vocabularies.ALL if v not in self._vocabs]
        if missing:
            raise ArtifactError(f"vocabularies missing: {missing}")
        if not self.events_path.is_file():
            raise ArtifactError("events.parquet was not written", file=str(self.events_path))
        seq = self._sequences
        if len(self._vocabs[Vocabularies.USERS]) != seq.n_users:
            raise ArtifactError(
                f"users vocabulary has {len(self._vocabs[Vocabularies.USERS])} entries "
                f"for {seq.n_users} sequences"
            )
        for field, vocab_name in (
            (SequenceFields.ITEM, Vocabularies.ITEMS),
            (SequenceFields.ACTION, Vocabularies.ACTIONS),
            (SequenceFields.CATEGORY, Vocabularies.CATEGORIES),
            (SequenceFields.DEVICE, Vocabularies.DEVICES),
        ):
            if field in seq and seq.n_events and int(np.max(seq[field])) >= len(self._vocabs[vocab_name]):
                raise ArtifactError(f"field {field!r} has an index beyond the {vocab_name} vocabulary")
        if has_time != (SequenceFields.TIME in seq):
            raise ArtifactError(
                f"has_time={has_time} but the 'ts' array is {'absent' if has_time else 'present'}"
            )
        write_json(self.path / DatasetFiles.STATS, stats)
        manifest = {
            "name": config.name,
            "config": config.to_dict(),
            "source": source,
            "has_time": has_time,
            "timezone": _timezone_of(config),
            "split": config.split.model_dump(mode="json", exclude_none=True),
            "fields": sorted(seq.fields),
            "counts": {
                "users": seq.n_users,
                "items": self._vocabs[Vocabularies.ITEMS].n_real,
                "events": seq.n_events,
                "actions": self._vocabs[Vocabularies.ACTIONS].n_real,
                "categories": self._vocabs[Vocabularies.CATEGORIES].n_real,
            },
            **(extra or {}),
        }
        out = self.commit(manifest)
        return Dataset.load(out)


def _timezone_of(config: DatasetConfig) -> str:
    zones = {s.time.timezone for s in config.sources if s.time is not None}
    return zones.pop() if len(zones) == 1 else "UTC"
