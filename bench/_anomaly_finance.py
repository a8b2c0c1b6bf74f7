"""Simulated account takeovers (``seqintent.simulate`` finance scenario) — see ``bench/anomaly.py``.

Protocol: two simulations with different seeds, one for validation and one for test (``users``
users each, default parameters: 60 days, 14 warm-up days without unusual sessions, takeovers for
5 % of the users, lookalike sessions — the takeover's events in another order — for 2 % of the
sessions after the warm-up, and four kinds of benign decoys). The log goes through ingest
(preset ``simulator``). Profiles are fitted on the warm-up days; every later session is then
scored day by day, the profiles learning each day after it is scored (``AnomalyDetector.replay``).
Positive = a takeover session, negative = every other session after the warm-up. The threshold is
chosen on the validation simulation: the best recall with a false-positive rate of at most 1 %,
placed mid-way between the lowest takeover score it keeps and the highest other score below it
(``threshold_at_fpr(place="margin")``); recall and FPR are measured with it on the test
simulation. Variants: profiles alone, profiles + the example rules
(``seqintent/anomaly/examples/finance.yaml``), and the issue's order-blind AND rule.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from seqintent.anomaly import RuleSet, example_rules_path
from seqintent.anomaly.metrics import detection_metrics, threshold_at_fpr
from seqintent.anomaly.simulated import SimulatedBankLog, replay_after_warmup, simulated_bank_log
from seqintent.schema.columns import Columns

MAX_FPR = 0.01
PROTOCOL = (
    "two finance simulations (validation seed 2s+1, test seed 2s+2), 60 days, profiles fitted on the 14"
    " warm-up days, later sessions scored day by day (profiles updated nightly); positives = planted"
    " takeovers, negatives = every other session incl. lookalikes (the takeover's events in another order)"
    " and benign decoys (new device, new payee, large known payment, usual night use)"
)
ORDER_BLIND = """\
rules:
  - name: issue_example
    when: new_device AND hour in 0-5 AND transfer.amount > user.p99 AND delete_record within 10m
    severity: critical
"""


def _variants() -> dict[str, RuleSet]:
    return {
        "profiles": RuleSet.empty(),
        "profiles+rules": RuleSet.from_yaml(example_rules_path("finance").read_text(encoding="utf-8")),
        "profiles+order_blind_rule": RuleSet.from_yaml(ORDER_BLIND),
    }


def _score(log: SimulatedBankLog, rules: RuleSet) -> dict[str, Any]:
    started = time.perf_counter()
    results = replay_after_warmup(log, rules)
    seconds = time.perf_counter() - started
    kinds = np.array([log.label_of(r) for r in results])
    replayed = log.events.filter(pc.greater_equal(log.events[Columns.TIME], log.warmup_end_ms))
    return {
        "scores": np.array([r.score for r in results]),
        "labels": (kinds == "takeover").astype(int),
        "kinds": kinds,
        "results": results,
        "seconds": seconds,
        "events": replayed.num_rows,
    }


def _reasons_complete(results: list[Any], flagged: np.ndarray) -> float:
    """Share of flagged takeovers whose reasons name the new device, the new payee and a rule."""
    if not flagged.any():
        return 0.0
    complete = 0
    for r in (r for r, f in zip(results, flagged, strict=True) if f):
        kinds = {x.kind for x in r.reasons}
        complete += {"new_device", "new_payee"} <= kinds and any(k.startswith("rule:") for k in kinds)
    return complete / int(flagged.sum())


def run(work: Path, seed: int, users: int = 2000) -> dict[str, Any]:
    valid = simulated_bank_log(work / "valid", users=users, seed=2 * seed + 1)
    test = simulated_bank_log(work / "test", users=users, seed=2 * seed + 2)
    out: dict[str, Any] = {}
    for name, rules in _variants().items():
        v = _score(valid, rules)
        t = _score(test, rules)
        threshold = threshold_at_fpr(v["labels"], v["scores"], MAX_FPR, place="margin")
        m = detection_metrics(t["labels"], t["scores"], threshold=threshold)
        flagged = (t["scores"] >= threshold) & (t["labels"] == 1)
        by_kind = {
            k: round(float((t["scores"][t["kinds"] == k] >= threshold).mean()), 4)
            for k in sorted(set(t["kinds"]))
        }
        out[name] = {
            **{
                k: m[k] for k in ("recall", "fpr", "precision", "f1", "roc_auc", "pr_auc", "fpr_at_90_recall")
            },
            "threshold": threshold,
            "flagged_share_by_label": by_kind,
            "reasons_complete": _reasons_complete(t["results"], flagged),
            "test_sessions": len(t["labels"]),
            "test_takeovers": int(t["labels"].sum()),
            "events_per_second": round(t["events"] / t["seconds"]),
        }
    best = out["profiles+rules"]
    return {
        **{k: best[k] for k in ("recall", "fpr", "precision", "f1", "roc_auc")},
        "variants": out,
        "users": users,
        "protocol": PROTOCOL,
    }
