"""Time in the simulator: a local calendar, daily and weekly rhythm, and non-overlapping sessions.

Behaviour follows local wall-clock time (people shop in the evening of *their* day), while the log
stores UTC epoch milliseconds. :class:`Calendar` converts local times to UTC with the zone's real
offsets, daylight-saving changes included, through a per-hour offset table (so the conversion is
one vectorised lookup, not a call per event).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np

from seqintent.errors import ConfigError, close_names

SECOND_MS = 1_000
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

# How far past the simulated window events may fall (returns and follow-ups days after the end).
_TABLE_MARGIN_DAYS = 45


class Calendar:
    """The simulated period: ``days`` local days from local midnight of ``start`` in ``timezone``.

    Parameters
    ----------
    start:
        First local day.
    days:
        Number of days in the window (events may spill a few days past it: a return visit).
    timezone:
        IANA zone name; the rhythm (hour of day, weekday) is in this zone.

    Examples
    --------
    >>> cal = Calendar(dt.date(2024, 3, 30), days=3, timezone="Europe/Berlin")
    >>> int(cal.weekday(np.array([0, 1, 2]))[0])   # 2024-03-30 is a Saturday
    5
    >>> # 10:00 local is 09:00 UTC before the DST change of 31 March and 08:00 UTC after it
    >>> utc = cal.to_utc_ms(cal.local_ms(np.array([0, 2]), np.array([10 * HOUR_MS, 10 * HOUR_MS])))
    >>> [dt.datetime.fromtimestamp(int(t) / 1000, dt.UTC).hour for t in utc]
    [9, 8]
    """

    def __init__(self, start: dt.date, days: int, timezone: str) -> None:
        try:
            zone = zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                "unknown time zone",
                key="timezone",
                value=timezone,
                candidates=close_names(timezone, sorted(zoneinfo.available_timezones())),
                fix="use an IANA name such as 'UTC' or 'Europe/Berlin'",
            ) from None
        if days < 1:
            raise ConfigError("the simulated period needs at least one day", key="days", value=days)
        self.start = start
        self.days = days
        self.timezone = timezone
        # Local wall-clock milliseconds are counted from the epoch as if the zone were UTC.
        self._origin_ms = (start - dt.date(1970, 1, 1)).days * DAY_MS
        first_hour = self._origin_ms // HOUR_MS - 48
        n_hours = (days + _TABLE_MARGIN_DAYS + 2) * 24
        epoch = dt.datetime(1970, 1, 1)
        offsets = np.empty(n_hours, dtype=np.int64)
        for k in range(n_hours):
            local = (epoch + dt.timedelta(hours=int(first_hour + k))).replace(tzinfo=zone)
            offsets[k] = int(local.utcoffset().total_seconds()) * SECOND_MS  # type: ignore[union-attr]
        self._first_hour = first_hour
        self._offsets_ms = offsets

    def weekday(self, day: np.ndarray) -> np.ndarray:
        """Weekday (0 = Monday … 6 = Sunday) of day indices counted from ``start``."""
        return (self.start.weekday() + day) % 7

    def local_ms(self, day: np.ndarray, ms_of_day: np.ndarray) -> np.ndarray:
        """Local wall-clock time (ms, epoch-like) of a day index and milliseconds since local midnight."""
        return self._origin_ms + day.astype(np.int64) * DAY_MS + ms_of_day.astype(np.int64)

    def to_utc_ms(self, local_ms: np.ndarray) -> np.ndarray:
        """UTC epoch ms of local wall-clock times (a time skipped by a DST change reads as standard time)."""
        hour = local_ms // HOUR_MS - self._first_hour
        hour = np.clip(hour, 0, len(self._offsets_ms) - 1)
        return local_ms - self._offsets_ms[hour]

    def to_local_ms(self, utc_ms: np.ndarray) -> np.ndarray:
        """Local wall-clock ms of UTC epoch ms (the inverse of :meth:`to_utc_ms` away from DST changes)."""
        guess = (
            utc_ms
            + self._offsets_ms[np.clip(utc_ms // HOUR_MS - self._first_hour, 0, len(self._offsets_ms) - 1)]
        )
        hour = np.clip(guess // HOUR_MS - self._first_hour, 0, len(self._offsets_ms) - 1)
        return utc_ms + self._offsets_ms[hour]

    def local_hour(self, utc_ms: np.ndarray) -> np.ndarray:
        """Local hour of day (0–23) of UTC epoch ms."""
        return (self.to_local_ms(utc_ms) % DAY_MS) // HOUR_MS

    def local_day(self, utc_ms: np.ndarray) -> np.ndarray:
        """Local day index (from ``start``) of UTC epoch ms."""
        return (self.to_local_ms(utc_ms) - self._origin_ms) // DAY_MS

    def sample_days(self, rng: np.random.Generator, n: int, weekday_weights: np.ndarray) -> np.ndarray:
        """``n`` day indices in the window, weighted by weekday."""
        weights = weekday_weights[self.weekday(np.arange(self.days))].astype(np.float64)
        return rng.choice(self.days, size=n, p=weights / weights.sum())


def sample_ms_of_day(rng: np.random.Generator, n: int, hour_weights: np.ndarray) -> np.ndarray:
    """Milliseconds since local midnight, with the hour drawn from ``hour_weights`` (24 values)."""
    hours = rng.choice(24, size=n, p=hour_weights / hour_weights.sum())
    return hours * HOUR_MS + rng.integers(0, HOUR_MS, size=n)


def place_sessions(
    user: np.ndarray, desired_start: np.ndarray, duration: np.ndarray, min_gap: int
) -> np.ndarray:
    """Session starts, each at its desired time or just late enough to keep sessions apart.

    Sessions must be ordered by user, then desired start. Within a user, a session starts no
    earlier than ``min_gap`` after the previous one ends, so an inactivity threshold below
    ``min_gap`` recovers exactly these sessions. Sessions only move later, so order is kept.

    The recurrence ``s'[i] = max(s[i], s'[i-1] + d[i-1])`` (``d`` = duration + gap) is solved in
    closed form: with ``C[i]`` the sum of ``d`` before ``i`` in the user, ``s'[i] = C[i] +
    max_{j<=i}(s[j] - C[j])``, a running maximum that a per-user offset keeps from crossing users.

    >>> place_sessions(np.array([0, 0, 0, 1]), np.array([0, 5, 100, 3]), np.array([10, 10, 10, 10]), 2)
    array([  0,  12, 100,   3])
    """
    n = len(user)
    if n == 0:
        return desired_start.astype(np.int64)
    step = duration.astype(np.int64) + min_gap
    total = np.cumsum(step) - step  # exclusive cumulative sum over all sessions
    first = np.r_[True, user[1:] != user[:-1]]
    user_base = np.maximum.accumulate(np.where(first, total, 0))
    before = total - user_base  # C[i]: within-user exclusive sum
    relative = desired_start.astype(np.int64) - before
    # Shift each user's values above every earlier user's so the running max restarts per user.
    span = int(relative.max() - relative.min()) + 1
    rank = np.cumsum(first) - 1
    lifted = relative - relative.min() + rank.astype(np.int64) * span
    running = np.maximum.accumulate(lifted) - rank.astype(np.int64) * span + relative.min()
    return before + running
