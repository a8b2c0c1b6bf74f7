"""Per-user event sequences as CSR arrays: ``offsets`` plus one aligned array per field."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from seqintent.errors import ArtifactError
from seqintent.schema.columns import DatasetFiles, SequenceFields


class SequenceArrays:
    """All users' event sequences, stored as compressed sparse rows.

    User ``u``'s events are positions ``offsets[u]:offsets[u + 1]`` of every field array, in time
    order (ties in input order). Arrays load memory-mapped, so opening a large Dataset costs
    nothing until a slice is read.

    Parameters
    ----------
    offsets:
        int64, length ``n_users + 1``, starting at 0 and non-decreasing.
    fields:
        Field name → array of length ``offsets[-1]`` (names and dtypes in :class:`SequenceFields`).

    Examples
    --------
    >>> import numpy as np
    >>> s = SequenceArrays(np.array([0, 2, 5]), {"item": np.array([3, 1, 2, 2, 4], dtype=np.int32)})
    >>> s.n_users, s.lengths.tolist(), s.user(1)["item"].tolist()
    (2, [2, 3], [2, 2, 4])
    """

    def __init__(self, offsets: np.ndarray, fields: Mapping[str, np.ndarray]) -> None:
        self.offsets = offsets
        self.fields = dict(fields)
        self._validate()

    def _validate(self) -> None:
        o = self.offsets
        if o.ndim != 1 or len(o) < 1 or o[0] != 0 or (len(o) > 1 and np.any(np.diff(o) < 0)):
            raise ArtifactError("offsets must be a 1-d non-decreasing array starting at 0")
        for name, arr in self.fields.items():
            if arr.shape != (int(o[-1]),):
                raise ArtifactError(f"field {name!r} has shape {arr.shape}, expected ({int(o[-1])},)")

    @property
    def n_users(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_events(self) -> int:
        return int(self.offsets[-1])

    @property
    def lengths(self) -> np.ndarray:
        """Number of events per user."""
        return np.diff(self.offsets)

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.fields[name]
        except KeyError:
            raise KeyError(f"no sequence field {name!r}; this Dataset has {sorted(self.fields)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.fields

    def user(self, u: int) -> dict[str, np.ndarray]:
        """Every field of user ``u``'s events (views into the arrays)."""
        lo, hi = int(self.offsets[u]), int(self.offsets[u + 1])
        return {name: arr[lo:hi] for name, arr in self.fields.items()}

    def user_ids(self) -> np.ndarray:
        """The user index of every event (int32, length ``n_events``)."""
        return np.repeat(np.arange(self.n_users, dtype=np.int32), self.lengths)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        for u in range(self.n_users):
            yield self.user(u)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / DatasetFiles.OFFSETS, np.ascontiguousarray(self.offsets, dtype=np.int64))
        for name, arr in self.fields.items():
            dtype = SequenceFields.DTYPES.get(name)
            out = np.ascontiguousarray(arr if dtype is None else arr.astype(dtype, copy=False))
            np.save(folder / f"{name}.npy", out)

    @classmethod
    def load(cls, folder: Path, *, mmap: bool = True) -> SequenceArrays:
        path = folder / DatasetFiles.OFFSETS
        if not path.is_file():
            raise ArtifactError("sequence offsets are missing", file=str(path))
        mode = "r" if mmap else None
        offsets = np.load(path, mmap_mode=mode)
        fields = {
            p.stem: np.load(p, mmap_mode=mode)
            for p in sorted(folder.glob("*.npy"))
            if p.name != DatasetFiles.OFFSETS
        }
        return cls(offsets, fields)
