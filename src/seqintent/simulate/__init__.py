"""A behaviour simulator with known ground truth, for the demo, tests and benchmarks.

Three scenarios plant signals that need the **order and timing** of events to be found: a model
of counts per action, recency, frequency, dwell statistics and category shares should not recover
them (AUC ≤ 0.75), a sequence model should (≥ 0.9). What each plants and how is in its module:
:mod:`~seqintent.simulate.ecommerce` (review-before vs review-after the cart; weekend returns;
complementary buys), :mod:`~seqintent.simulate.content` (interests, fast skips of a rejected
theme, a liked play then a skip of its theme before churn and the other way round otherwise, cold
starts), :mod:`~seqintent.simulate.finance` (habits, account takeovers, and lookalike sessions with
the same events in another order).

Files
-----
``simulate(scenario, n_users, seed, out)`` writes:

``out`` (``.csv``, ``.jsonl`` or ``.parquet``)
    The log, sorted by time over all users (ties: input order), one event per row, columns
    :class:`~seqintent.schema.columns.SimulatorColumns` in this order: ``user_id`` (int),
    ``ts`` (int, UTC epoch **milliseconds**), ``action`` (raw name: ecommerce ``pv search review
    cart buy``; content ``play like share follow``; finance ``login logout balance transfer
    add_payee delete_record``), ``item_id`` (int), ``category``, ``dwell_s`` (float seconds),
    ``amount``, ``device``, ``session_id`` (int, unique in the log), ``payee``, ``location``,
    ``text`` (search query). A column a scenario does not use is empty. The preset ``simulator``
    ingests all three (``seqintent ingest --preset simulator out.csv -o DIR``).
``out.truth/`` (names in :class:`~seqintent.schema.columns.SimulationFiles`)
    ``truth.json``: kind ``seqintent.simulation``, format version, scenario, seed, window
    (``start``, ``days``, ``timezone``), parameters, counts and the table files. Parquet tables:

    - ``sessions``: one row per session: ``session_id``, ``user_id``, ``label`` (the true intent
      or kind), ``positive`` (the scenario's planted binary label; null where it does not apply),
      ``start_ts``, ``end_ts``, ``first_event_id``, ``last_event_id``, ``n_events``, and the
      scenario's own columns;
    - ``signals``: one row per (planted signal instance, causing event): ``signal``, ``instance``
      (the session id, or the user id for per-user signals), ``event_id``, ``role``, ``user_id``;
    - ``users``: the habits / interests drawn per user;
    - ``noise``: ``event_id``, ``user_id``, ``ts``, ``kind`` (``misclick`` | ``duplicate``),
      ``of_event_id`` (the duplicated event, or the event a misclick followed);
    - ecommerce ``items`` and ``complements``; content ``items`` and ``interests``; finance ``payees``.

Event ids
    An ``*event_id`` is the 0-based row of the event in the log file: ingest's input order. After
    ingest, ``(user_id, ts)`` also identifies every clean event (a user's clean events are at
    least a second apart; a duplicate shares its original's time and is dropped by the default
    ``dedup_within_s: 0``). First/last event ids and ``n_events`` count clean events only:
    misclicks inside a session are not counted.

Using the truth
    Planted binary tasks: rows of ``sessions`` where ``positive`` is not null; cut the history at
    ``last_event_id`` (inclusive) and predict ``positive``. Ecommerce: return_later (buys the carted
    item on the following weekend) vs research_then_leave; content: churn (no further session)
    vs continue; finance: takeover vs every other session (the hard negatives are ``lookalike``).
    For explanations, the causing events of a session are the ``signals`` rows whose
    ``instance`` is its ``session_id`` (ecommerce, finance, content ``fatigue_churn`` and
    ``fatigue_recovery``).

Sizes
    About 40 events per user for ecommerce, 120 for content, 115 for finance (defaults);
    :func:`users_for_events` (``seqintent simulate --events N``) finds the users for N events.
    10M ecommerce events are generated and written as CSV in about 22 CPU seconds (peak RSS
    2.6 GB; ``bench/simulate_speed.py``).

Example
-------
>>> import tempfile, pathlib
>>> from seqintent.simulate import simulate, load_truth
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> result = simulate("ecommerce", n_users=30, seed=1, out=folder / "events.csv")
>>> result.truth_path.name
'events.csv.truth'
>>> truth = load_truth(folder / "events.csv")
>>> truth.sessions.num_rows == result.counts["sessions"]
True
"""

from seqintent.simulate._simulate import (
    DEFAULT_START,
    DEFAULT_TIMEZONE,
    SCENARIOS,
    Simulation,
    SimulationResult,
    generate,
    simulate,
    users_for_events,
)
from seqintent.simulate._truth import GroundTruth, load_truth
from seqintent.simulate._write import FORMATS, truth_path
from seqintent.simulate.content import ContentParams
from seqintent.simulate.ecommerce import EcommerceParams
from seqintent.simulate.finance import FinanceParams

__all__ = [
    "DEFAULT_START",
    "DEFAULT_TIMEZONE",
    "FORMATS",
    "SCENARIOS",
    "ContentParams",
    "EcommerceParams",
    "FinanceParams",
    "GroundTruth",
    "Simulation",
    "SimulationResult",
    "generate",
    "load_truth",
    "simulate",
    "truth_path",
    "users_for_events",
]
