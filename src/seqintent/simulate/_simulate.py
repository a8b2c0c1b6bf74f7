"""The simulator's entry points: :func:`generate` (in memory) and :func:`simulate` (to files)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seqintent import __version__
from seqintent.errors import ConfigError, close_names
from seqintent.schema.columns import (
    MANIFEST_KIND_SIMULATION,
    SIMULATION_FORMAT_VERSION,
    SimulationFiles,
    SimulatorColumns,
)
from seqintent.schema.columns import TruthColumns as T
from seqintent.simulate._clock import Calendar
from seqintent.simulate._common import ScenarioDraw
from seqintent.simulate._noise import DUPLICATE, MISCLICK, add_noise, log_table
from seqintent.simulate._write import format_of, truth_path, write_log, write_truth
from seqintent.simulate.content import ContentParams, generate_content
from seqintent.simulate.ecommerce import EcommerceParams, generate_ecommerce
from seqintent.simulate.finance import FinanceParams, generate_finance

DEFAULT_START = dt.date(2024, 4, 1)  # a Monday, clear of daylight-saving changes for months
DEFAULT_TIMEZONE = "Europe/Berlin"  # the `simulator` preset reads hours and weekdays in this zone

Params = EcommerceParams | ContentParams | FinanceParams
_SCENARIOS: dict[str, tuple[type, Callable[..., ScenarioDraw]]] = {
    "ecommerce": (EcommerceParams, generate_ecommerce),
    "content": (ContentParams, generate_content),
    "finance": (FinanceParams, generate_finance),
}
SCENARIOS: tuple[str, ...] = tuple(_SCENARIOS)


@dataclass
class Simulation:
    """A simulated log and its ground truth, in memory.

    Attributes
    ----------
    log:
        The log rows in file order (columns of :class:`~seqintent.schema.columns.SimulatorColumns`).
    truth:
        Ground-truth tables by name (``sessions``, ``signals``, ``users``, ``noise`` and the
        scenario's own); every ``*event_id`` column is a 0-based row of ``log``.
    meta:
        What ``truth.json`` records: scenario, seed, window, parameters, counts.
    """

    log: pa.Table
    truth: dict[str, pa.Table]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, Any]:
        return self.meta["counts"]


@dataclass(frozen=True)
class SimulationResult:
    """What :func:`simulate` wrote.

    Attributes
    ----------
    log_path, truth_path:
        The log file and its ground-truth folder (``<log>.truth/``).
    counts:
        ``events`` (rows written, noise included), ``clean_events``, ``users``, ``sessions``,
        ``misclicks``, ``duplicates`` and ``labels`` (session label → count).
    seconds:
        Wall time of generating and writing.
    """

    scenario: str
    seed: int
    n_users: int
    log_path: Path
    truth_path: Path
    file_format: str
    counts: dict[str, Any]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["log_path"] = str(self.log_path)
        out["truth_path"] = str(self.truth_path)
        return out


def _check(scenario: str, n_users: int, seed: int, params: Params | None) -> Params:
    if scenario not in _SCENARIOS:
        raise ConfigError(
            "unknown scenario",
            key="scenario",
            value=scenario,
            candidates=close_names(scenario, SCENARIOS) or SCENARIOS,
        )
    if isinstance(n_users, bool) or not isinstance(n_users, (int, np.integer)) or n_users < 1:
        raise ConfigError("the number of users must be a whole number ≥ 1", key="n_users", value=n_users)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError("the seed must be a whole number ≥ 0", key="seed", value=seed)
    expected = _SCENARIOS[scenario][0]
    if params is None:
        return expected()
    if not isinstance(params, expected):
        raise ConfigError(
            f"scenario {scenario!r} takes {expected.__name__}", key="params", value=type(params).__name__
        )
    return params


def generate(
    scenario: str,
    n_users: int,
    seed: int,
    *,
    start: dt.date | str = DEFAULT_START,
    days: int | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    params: Params | None = None,
) -> Simulation:
    """Simulate a log and its ground truth in memory.

    Parameters
    ----------
    scenario:
        ``"ecommerce"``, ``"content"`` or ``"finance"``.
    n_users:
        Number of users.
    seed:
        Everything drawn follows from it: the same arguments give the same tables.
    start, days, timezone:
        The window: ``days`` local days from ``start`` (ISO date) in ``timezone`` (default: the
        scenario's own length); behaviour follows the local clock of that zone.
    params:
        The scenario's knobs (:class:`EcommerceParams`, :class:`ContentParams`,
        :class:`FinanceParams`); defaults when None.

    Raises
    ------
    ConfigError
        For an unknown scenario or time zone, a non-positive number of users or days, params of
        another scenario, or a start that is not an ISO date.
    """
    params = _check(scenario, n_users, seed, params)
    if isinstance(start, str):
        try:
            start = dt.date.fromisoformat(start)
        except ValueError:
            raise ConfigError("not an ISO date (YYYY-MM-DD)", key="start", value=start) from None
    if days is not None:
        params = dataclasses.replace(params, days=days)
    calendar = Calendar(start, params.days, timezone)
    events_seed, noise_seed = np.random.SeedSequence(seed).spawn(2)
    draw = _SCENARIOS[scenario][1](np.random.default_rng(events_seed), int(n_users), calendar, params)
    clean_events = len(draw.events)
    log, noise, _ = add_noise(
        draw.events,
        np.random.default_rng(noise_seed),
        draw.noise,
        misclick_after=draw.misclick_after,
        draw_item=draw.draw_item,
    )
    del draw  # the clean events: a log's worth of memory
    truth = {**log.truth, "noise": noise}
    table = log_table(log)
    del log
    sessions = truth["sessions"]
    labels = pc.value_counts(sessions.column(T.LABEL)).to_pylist()
    kinds = noise.column(T.KIND).to_pylist()
    counts = {
        "events": table.num_rows,
        "clean_events": clean_events,
        "users": int(n_users),
        "sessions": sessions.num_rows,
        "misclicks": kinds.count(MISCLICK),
        "duplicates": kinds.count(DUPLICATE),
        "labels": {row["values"]: row["counts"] for row in sorted(labels, key=lambda r: r["values"])},
    }
    meta = {
        "kind": MANIFEST_KIND_SIMULATION,
        "format_version": SIMULATION_FORMAT_VERSION,
        "seqintent_version": __version__,
        "scenario": scenario,
        "seed": int(seed),
        "n_users": int(n_users),
        "start": start.isoformat(),
        "days": params.days,
        "timezone": timezone,
        "params": dataclasses.asdict(params),
        "columns": list(SimulatorColumns.ALL),
        "counts": counts,
        "tables": {name: SimulationFiles.table_file(name) for name in sorted(truth)},
    }
    return Simulation(log=table, truth=truth, meta=meta)


def users_for_events(
    scenario: str,
    n_events: int,
    *,
    seed: int = 0,
    days: int | None = None,
    params: Params | None = None,
) -> int:
    """How many users give about ``n_events`` log rows (within a percent or two at large sizes).

    Estimated from a 2,000-user pilot with the same scenario, window and parameters, so a
    benchmark can ask for "10M events" (``seqintent simulate --events 10000000``).

    Raises
    ------
    ConfigError
        If ``n_events`` is not a whole number ≥ 1, and as :func:`generate`.
    """
    if isinstance(n_events, bool) or not isinstance(n_events, (int, np.integer)) or n_events < 1:
        raise ConfigError("the number of events must be a whole number ≥ 1", key="n_events", value=n_events)
    pilot_users = 2_000
    pilot = generate(scenario, pilot_users, seed, days=days, params=params)
    return max(1, round(int(n_events) * pilot_users / pilot.counts["events"]))


def simulate(
    scenario: str,
    n_users: int,
    seed: int,
    out: str | Path,
    *,
    file_format: str | None = None,
    start: dt.date | str = DEFAULT_START,
    days: int | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    params: Params | None = None,
) -> SimulationResult:
    """Simulate a log, write it to ``out`` and its ground truth to ``<out>.truth/``.

    Parameters
    ----------
    out:
        The log file; its extension (``.csv``, ``.jsonl``, ``.parquet``) gives the format unless
        ``file_format`` does. Written atomically; an existing file is replaced.
    file_format:
        ``"csv"``, ``"jsonl"`` or ``"parquet"``.

    Other parameters are those of :func:`generate`. The same arguments write byte-identical files.

    Raises
    ------
    ConfigError
        As :func:`generate`, and when the format cannot be told from ``out``.
    ArtifactError
        If ``<out>.truth`` exists and is not a truth folder.
    """
    began = time.perf_counter()
    out = Path(out)
    fmt = format_of(out, file_format)
    sim = generate(scenario, n_users, seed, start=start, days=days, timezone=timezone, params=params)
    write_log(sim.log, out, fmt)
    folder = truth_path(out)
    write_truth(folder, sim.truth, {**sim.meta, "log": out.name, "log_format": fmt})
    return SimulationResult(
        scenario=scenario,
        seed=int(seed),
        n_users=int(n_users),
        log_path=out,
        truth_path=folder,
        file_format=fmt,
        counts=sim.counts,
        seconds=round(time.perf_counter() - began, 3),
    )
