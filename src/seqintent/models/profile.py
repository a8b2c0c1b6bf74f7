"""What a Model keeps about the catalogue and users besides weights: categories, popularity, segments.

``predict`` needs it to name interests by category, to honour exclusions, and to blend a cold
user's next items with the popularity of their segment (users alike by static attributes, e.g.
KuaiRand's activity degree). Built at training time by :func:`seqintent.train.profile.build_profile`.

Files in the Model folder: arrays in ``intents.safetensors`` (prefix ``profile.``), the user →
segment table in ``profile_users.parquet``, the rest in ``intents.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from seqintent.errors import ArtifactError
from seqintent.schema.columns import ModelFiles

PREFIX = "profile."
USER_COLUMN = "user_id"
SEGMENT_COLUMN = "segment"


SEGMENT_SHARE = 0.9


def mixed_popularity(segment: np.ndarray, overall: np.ndarray) -> np.ndarray:
    """A segment's item counts or shares, normalised, with a little of everyone's shares (``overall``,
    summing to 1) beneath, so that items beyond the segment's list still rank."""
    return SEGMENT_SHARE * segment / segment.sum() + (1.0 - SEGMENT_SHARE) * overall


@dataclass
class Profile:
    """Catalogue and segment facts a Model answers with.

    Attributes
    ----------
    item_category:
        int32 [n_items]: category index of every item index (0: none).
    popularity:
        float32 [n_items]: share of training events per item (sums to 1 over real items).
    segment_by:
        User-table attributes defining segments (empty: one segment, everyone).
    segment_names:
        One text per segment (``"age=18-24"``).
    segment_items, segment_scores:
        int32 / float32 [S, M]: each segment's most frequent items and their shares.
    user_segment:
        Raw user id → segment index, for users of the user table.
    kappa:
        Cold-start shrinkage: the model's weight is ``n / (n + kappa)`` for a history of n events.
    temperature:
        The model's next-item logits are divided by it before the blend: its probabilities are fitted
        on every history, and after a few events a flatter distribution often mixes better with
        popularity (chosen on validation with kappa).
    """

    item_category: np.ndarray
    popularity: np.ndarray
    segment_by: list[str] = field(default_factory=list)
    segment_names: list[str] = field(default_factory=list)
    segment_items: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int32))
    segment_scores: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    user_segment: dict[str, int] = field(default_factory=dict)
    kappa: float = 5.0
    temperature: float = 1.0

    def popularity_of(self, segment: int | None) -> np.ndarray:
        """Item shares [n_items] within a segment (global shares for None or a segment without events)."""
        if segment is None or segment < 0 or segment >= len(self.segment_items):
            return self.popularity
        out = np.zeros_like(self.popularity)
        out[self.segment_items[segment]] = self.segment_scores[segment]
        if out.sum() <= 0:
            return self.popularity
        return mixed_popularity(out, self.popularity).astype(np.float32)

    def segment_of(self, user_id: str | None) -> int | None:
        return None if user_id is None else self.user_segment.get(str(user_id))

    def blend(
        self,
        logits: np.ndarray,
        n_events: np.ndarray,
        segments: list[int | None],
        popularity: np.ndarray | None = None,
    ) -> np.ndarray:
        """Cold-start scores [B, V]: ``log(w · softmax(logits / T) + (1 - w) · popularity of the segment)``.

        ``w = n / (n + kappa)`` for a history of ``n`` events, so a long history keeps the model's
        ranking and an empty one ranks by the segment's popularity. Column 0 stays ``-inf``.
        ``popularity`` [B, V] replaces the stored shares (e.g. shares counted as of each history's time).
        """
        z = np.asarray(logits, dtype=np.float64) / self.temperature
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        n = np.asarray(n_events, dtype=np.float64)[:, None]
        w = n / (n + self.kappa) if self.kappa > 0 else np.ones_like(n)
        if popularity is not None:
            pop = np.asarray(popularity, dtype=np.float64)
        else:
            pop = np.stack([self.popularity_of(s) for s in segments]) if len(segments) else np.zeros_like(p)
        with np.errstate(divide="ignore"):
            out = np.log(w * p + (1.0 - w) * pop)
        out[:, 0] = -np.inf
        return out

    # --- save / load -------------------------------------------------------------------------------

    def tensors(self) -> dict[str, np.ndarray]:
        return {
            PREFIX + "item_category": np.ascontiguousarray(self.item_category, np.int32),
            PREFIX + "popularity": np.ascontiguousarray(self.popularity, np.float32),
            PREFIX + "segment_items": np.ascontiguousarray(self.segment_items, np.int32),
            PREFIX + "segment_scores": np.ascontiguousarray(self.segment_scores, np.float32),
        }

    def meta(self) -> dict[str, Any]:
        return {
            "segment_by": self.segment_by,
            "segment_names": self.segment_names,
            "kappa": self.kappa,
            "temperature": self.temperature,
        }

    def save_users(self, folder: Path) -> None:
        users = sorted(self.user_segment)
        table = pa.table(
            {
                USER_COLUMN: pa.array(users, pa.string()),
                SEGMENT_COLUMN: pa.array([self.user_segment[u] for u in users], pa.int32()),
            }
        )
        pq.write_table(table, folder / ModelFiles.PROFILE_USERS, compression="zstd")

    @classmethod
    def load(cls, folder: Path, tensors: dict[str, np.ndarray], meta: dict[str, Any]) -> Profile:
        try:
            arrays = {k.removeprefix(PREFIX): v for k, v in tensors.items() if k.startswith(PREFIX)}
            path = folder / ModelFiles.PROFILE_USERS
            user_segment: dict[str, int] = {}
            if path.is_file():
                table = pq.read_table(path)
                user_segment = dict(
                    zip(
                        table.column(USER_COLUMN).to_pylist(),
                        table.column(SEGMENT_COLUMN).to_pylist(),
                        strict=True,
                    )
                )
            return cls(
                item_category=arrays["item_category"],
                popularity=arrays["popularity"],
                segment_by=list(meta.get("segment_by", [])),
                segment_names=list(meta.get("segment_names", [])),
                segment_items=arrays["segment_items"],
                segment_scores=arrays["segment_scores"],
                user_segment=user_segment,
                kappa=float(meta.get("kappa", 5.0)),
                temperature=float(meta.get("temperature", 1.0)),
            )
        except KeyError as exc:
            raise ArtifactError(
                f"the profile lacks {exc}",
                file=str(folder / ModelFiles.INTENT_WEIGHTS),
                fix="re-train the model",
            ) from None
