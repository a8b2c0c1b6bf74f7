"""Per-user derived fields over kept events sorted by (user, time, input order): gaps, sessions, splits.

>>> import numpy as np
>>> offsets = np.array([0, 3, 4])
>>> ts = np.array([0, 60_000, 4_000_000, 5])
>>> gaps_s(ts, offsets).tolist()
[nan, 60.0, 3940.0, nan]
>>> session_index(offsets, ts=ts, gap_s=1800.0)[0].tolist()
[0, 0, 1, 0]
>>> leave_one_out(offsets).tolist()
[0, 1, 2, 0]
"""

from __future__ import annotations

import hashlib

import numpy as np

from seqintent.ingest._mapping import instant_ms
from seqintent.schema.columns import Splits
from seqintent.schema.config import SplitConfig

LOO_MIN_EVENTS = 3
"""Users with fewer kept events than this stay wholly in train under leave-one-out (as in SASRec)."""


def user_starts(offsets: np.ndarray) -> np.ndarray:
    """Boolean mask of each user's first event."""
    n = int(offsets[-1])
    first = np.zeros(n, dtype=bool)
    lengths = np.diff(offsets)
    first[offsets[:-1][lengths > 0]] = True
    return first


def gaps_s(ts: np.ndarray | None, offsets: np.ndarray) -> np.ndarray:
    """Seconds since the user's previous kept event (float32; NaN for the first or without time)."""
    n = int(offsets[-1])
    if ts is None:
        return np.full(n, np.nan, dtype=np.float32)
    gap = np.empty(n, dtype=np.float32)
    gap[0:1] = np.nan
    np.divide(np.diff(ts), 1000.0, out=gap[1:], casting="unsafe")
    gap[user_starts(offsets)] = np.nan
    return gap


def session_index(
    offsets: np.ndarray,
    *,
    ts: np.ndarray | None = None,
    gap_s: float = 1800.0,
    session_codes: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """0-based session number of each event within its user, and the number of sessions.

    With ``session_codes`` (the log's session ids as integers) a session starts where the id
    changes; else, with times, after more than ``gap_s`` idle seconds; else each user is one session.
    """
    starts = user_starts(offsets)
    new = starts.copy()
    if session_codes is not None:
        new[1:] |= session_codes[1:] != session_codes[:-1]
    elif ts is not None:
        new[1:] |= (ts[1:] - ts[:-1]) > gap_s * 1000.0
    running = np.cumsum(new, dtype=np.int32)
    running -= 1
    lengths = np.diff(offsets)
    running -= np.repeat(running[offsets[:-1][lengths > 0]], lengths[lengths > 0])
    return running, int(new.sum())


def leave_one_out(offsets: np.ndarray) -> np.ndarray:
    """Last event of each user → test, second to last → valid, others → train (int8 codes).

    Users with fewer than :data:`LOO_MIN_EVENTS` events stay in train: with one or two events
    there is no history left to predict from once valid and test are taken.
    """
    n = int(offsets[-1])
    split = np.full(n, Splits.TRAIN, dtype=np.int8)
    lengths = np.diff(offsets)
    long_enough = lengths >= LOO_MIN_EVENTS
    ends = offsets[1:][long_enough]
    split[ends - 1] = Splits.TEST
    split[ends - 2] = Splits.VALID
    return split


def temporal(ts: np.ndarray, config: SplitConfig) -> np.ndarray:
    """train before ``valid_start``, valid until ``test_start``, test from it on."""
    split = np.full(len(ts), Splits.TRAIN, dtype=np.int8)
    if config.valid_start is not None:
        split[ts >= instant_ms(config.valid_start)] = Splits.VALID
    assert config.test_start is not None
    split[ts >= instant_ms(config.test_start)] = Splits.TEST
    return split


def user_bucket(user_ids: list[str], seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per user id, from a hash of (seed, id): input order does not matter."""
    out = np.empty(len(user_ids), dtype=np.float64)
    prefix = f"{seed}:".encode()
    for k, uid in enumerate(user_ids):
        digest = hashlib.blake2b(prefix + uid.encode(), digest_size=8).digest()
        out[k] = int.from_bytes(digest, "big") / 2.0**64
    return out


def by_user(offsets: np.ndarray, user_ids: list[str], config: SplitConfig) -> np.ndarray:
    """Whole users to train / valid / test by ``fractions``, assigned by a seeded hash of the user id."""
    bucket = user_bucket(user_ids, config.seed)
    train, valid, _ = config.fractions
    code = np.where(bucket < train, Splits.TRAIN, np.where(bucket < train + valid, Splits.VALID, Splits.TEST))
    return np.repeat(code.astype(np.int8), np.diff(offsets))
