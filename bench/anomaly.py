"""Anomaly benchmarks: HDFS log sessions, simulated account takeovers, Taobao with injected anomalies.

Prints one JSON object (``--json``) or a short table, and can rewrite this benchmark's section of
BENCHMARKS.md (``--write-md``)::

    python bench/anomaly.py --json --work bench/out/anomaly                # every benchmark
    python bench/anomaly.py --json --only hdfs,finance                     # some of them
    python bench/anomaly.py --json --write-md --work bench/out/anomaly     # + BENCHMARKS.md
    python bench/anomaly.py --write-md --from-json bench/out/anomaly.json  # section from a saved run

Keys of the JSON object: ``hdfs``, ``finance``, ``taobao_injected``. Each benchmark's protocol is
in its module: ``_anomaly_hdfs.py`` (issue 5's protocol: train on normal HDFS sessions only, all
held-out normals, abnormal sessions unseen in training; detector and threshold on a validation
part), ``_anomaly_finance.py`` (simulated account takeovers among habitual users and lookalikes;
threshold at 1 % FPR on another simulation), ``_anomaly_taobao.py`` (injected bot bursts and
implausible orders in the Taobao sample, beside an isolation forest on per-session features).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _anomaly_finance
import _anomaly_hdfs
import _anomaly_taobao

BENCHMARKS = {
    "hdfs": _anomaly_hdfs.run,
    "finance": _anomaly_finance.run,
    "taobao_injected": _anomaly_taobao.run,
}
ALIASES = {"taobao": "taobao_injected"}
ROOT = Path(__file__).resolve().parents[1]
MARK_START, MARK_END = "<!-- anomaly:start -->", "<!-- anomaly:end -->"
HDFS_TARGET, FINANCE_RECALL, FINANCE_FPR = 0.98, 0.95, 0.01


def _f(value: Any, digits: int = 4) -> str:
    return "—" if value is None else f"{float(value):.{digits}f}"


def _hdfs_md(r: dict[str, Any]) -> list[str]:
    met = "**met**" if r["f1"] >= HDFS_TARGET else "**NOT met**"
    u = r["unique_sequences"]
    lines = [
        "### HDFS (DeepLog / loghub log-key sessions)",
        "",
        f"Protocol (issue 5): {r['protocol']}. Fit sessions: {r['fit_sessions']:,}; validation:"
        f" {r['valid_sessions']['normal']:,} normal + {r['valid_sessions']['abnormal']:,} abnormal;"
        f" test: {r['test_sessions']['normal']:,} normal (of which"
        f" {r['test_normal_sessions_seen_in_training']:,} repeat an hdfs_train sequence — kept) +"
        f" {r['test_sessions']['abnormal']:,} abnormal ({r['abnormal_removed_seen_in_training']} abnormal"
        " sessions repeated an hdfs_train sequence and were removed). The abnormal rows of robust_log_*"
        " are not used (each repeats an hdfs_test_abnormal sequence). Detector and threshold chosen by"
        f" F1 on validation: `{r['detector']}` ≥ {r['threshold']:g} (validation F1 {_f(r['valid_f1'])}).",
        "",
        "Signals, all learnt from the fit normals only (`seqintent.anomaly.novelty.SequenceNovelty`):"
        " unseen keys, unseen key transitions (with start / end markers), the L1 distance of the"
        " session's key counts to the nearest normal count vector (LogAnomaly's quantitative patterns),"
        " count-invariant violations (Lou et al. 2010), their sum `novelty`; from our next-key"
        " Transformer (when run): max per-event NLL and DeepLog's top-g miss count (g = 1…12), and"
        " `novelty+nll`. Caveats: the abnormal validation slice comes from the same pool as the test"
        " abnormals (disjoint by sequence); the validation normals (a slice of hdfs_train) are easier"
        " than the test normals, of which the 738 not equal to a training sequence decide the FPR."
        " The next-key model's own signals (max NLL, top-g) are weak under this protocol (test ROC-AUC"
        " below .87; at their validation thresholds they flag nearly everything): the count and"
        " transition signals carry the result.",
        "",
        "| per | precision | recall | F1 | ROC-AUC | PR-AUC | FPR | FPR @ 90 % recall | target F1 ≥ .98 |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| session | {_f(r['precision'])} | {_f(r['recall'])} | {_f(r['f1'])} | {_f(r['roc_auc'])} |"
        f" {_f(r['pr_auc'])} | {_f(r['fpr'])} | {_f(r['fpr_at_90_recall'])} | {met} |",
        f"| distinct sequence | {_f(u['precision'])} | {_f(u['recall'])} | {_f(u['f1'])} |"
        f" {_f(u['roc_auc'])} | {_f(u['pr_auc'])} | {_f(u['fpr'])} | {_f(u['fpr_at_90_recall'])} | |",
        "",
        "References (published, other protocols): LogBERT F1 .823 and DeepLog .773 under LogBERT's"
        " protocol; logdeep's LogAnomaly F1 .976. Every detector, each with its own validation threshold"
        " (for information — only the validation F1 chose):",
        "",
        "| detector | valid F1 | test precision | recall | F1 | ROC-AUC | PR-AUC |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, d in r["detectors_on_test_for_information"].items():
        lines.append(
            f"| {name} | {_f(d['valid_f1'])} | {_f(d['precision'])} | {_f(d['recall'])} | {_f(d['f1'])} |"
            f" {_f(d['roc_auc'])} | {_f(d['pr_auc'])} |"
        )
    return lines


def _finance_md(r: dict[str, Any]) -> list[str]:
    ok = r["recall"] >= FINANCE_RECALL and r["fpr"] <= FINANCE_FPR
    lines = [
        "### Simulated finance account takeovers",
        "",
        f"Protocol: {r.get('protocol', 'see bench/_anomaly_finance.py')}. {r['users']:,} users per"
        " simulation; threshold = best recall at FPR ≤ 1 % on the validation simulation, applied to the"
        " test simulation. Headline: profiles + example rules (`seqintent/anomaly/examples/finance.yaml`)."
        " Read with care: those rules describe the simulator's takeover pattern in order (new device,"
        " balance, transfer to a new payee, record deleted), so the figure shows the rule engine and"
        " risk scoring end to end on a pattern known in advance, not detection of unknown attacks;"
        " profiles alone (no rule) and the issue's order-blind rule stay far from the target because"
        " lookalike sessions hold the same events in another order.",
        "",
        "| variant | recall | FPR | precision | F1 | ROC-AUC | flagged takeovers with complete reasons |"
        " target recall ≥ .95 at FPR ≤ 1 % |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, v in r["variants"].items():
        met = "**met**" if v["recall"] >= FINANCE_RECALL and v["fpr"] <= FINANCE_FPR else "not met"
        if name == "profiles+rules":
            met = "**met**" if ok else "**NOT met**"
        lines.append(
            f"| {name} | {_f(v['recall'])} | {_f(v['fpr'])} | {_f(v['precision'])} | {_f(v['f1'])} |"
            f" {_f(v['roc_auc'])} | {_f(v['reasons_complete'])} | {met} |"
        )
    return lines


def _taobao_md(r: dict[str, Any]) -> list[str]:
    lines = [
        "### Taobao sample with injected anomalies",
        "",
        "Protocol: see `bench/_anomaly_taobao.py` — temporal split (train Nov 25–30, valid Dec 1,"
        " test Dec 2–3, Beijing days); about 4 % of each period's sessions injected (half bot-like"
        " bursts of 10–40 random page views 2–20 s apart, half implausible orders: 0–3 views then 2–6"
        " purchases of untouched random items within 30 s–3 min), each in an hour the user is idle;"
        " threshold by best F1 on the valid day, figures on the test days. Test sessions:"
        f" {r['test_sessions']['real']:,} real + {r['test_sessions']['injected']:,} injected."
        f" Headline: {r.get('headline', 'profiles+rules+surprise')}. No target (the issue asks for the"
        " figures beside an isolation forest).",
        "",
        "| method | precision | recall | F1 | ROC-AUC | PR-AUC | recall bot bursts |"
        " recall implausible orders |",
        "|---|---|---|---|---|---|---|---|",
    ]
    if r.get("model") is None:
        lines[2] += (
            " The sequence-surprise variants were not run here (`--no-taobao-surprise`: training the"
            " next-item model on the 55k-item sample did not finish in the time this run had)."
        )
    for name, v in r["variants"].items():
        kinds = v["recall_by_kind"]
        lines.append(
            f"| {name} | {_f(v['precision'])} | {_f(v['recall'])} | {_f(v['f1'])} | {_f(v['roc_auc'])} |"
            f" {_f(v['pr_auc'])} | {_f(kinds['bot_burst'])} | {_f(kinds['implausible_order'])} |"
        )
    return lines


def markdown(results: dict[str, Any], command: str, environment: str) -> str:
    lines = [
        MARK_START,
        "## Anomaly detection (issue 5)",
        "",
        f"Command: `{command}` ({environment}). Every setting was chosen on validation data; test"
        " figures are measured once with it.",
        "",
    ]
    builders = {"hdfs": _hdfs_md, "finance": _finance_md, "taobao_injected": _taobao_md}
    for name, build in builders.items():
        if name in results:
            lines += [*build(results[name]), ""]
        else:
            lines += [f"### {name}", "", "Not run in this command.", ""]
    lines.append(MARK_END)
    return "\n".join(lines)


def write_md(section: str, path: Path) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if MARK_START in text and MARK_END in text:
        head, rest = text.split(MARK_START, 1)
        tail = rest.split(MARK_END, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help="comma-separated: " + ", ".join(BENCHMARKS)
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--work", type=Path, default=None, help="folder for intermediate Datasets (default: temp)"
    )
    parser.add_argument(
        "--no-hdfs-model", action="store_true", help="HDFS: novelty signals only, no sequence model"
    )
    parser.add_argument(
        "--no-taobao-surprise", action="store_true", help="Taobao: no sequence-model variants"
    )
    parser.add_argument(
        "--write-md", action="store_true", help="rewrite the anomaly section of BENCHMARKS.md"
    )
    parser.add_argument(
        "--from-json", type=Path, default=None, help="take the results from a saved --json run"
    )
    parser.add_argument(
        "--command", default=None, help="the command line to record in BENCHMARKS.md (with --from-json)"
    )
    args = parser.parse_args(argv)
    names = [ALIASES.get(n, n) for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    results: dict[str, Any] = {}
    cpu_started = time.process_time()
    if args.from_json:
        results = json.loads(args.from_json.read_text(encoding="utf-8"))
    else:
        with tempfile.TemporaryDirectory(prefix="seqintent-anomaly-") as tmp:
            work = args.work or Path(tmp)
            work.mkdir(parents=True, exist_ok=True)
            options = {
                "hdfs": {"use_model": not args.no_hdfs_model},
                "taobao_injected": {"surprise": not args.no_taobao_surprise},
            }
            for name in names:
                results[name] = BENCHMARKS[name](work / name, args.seed, **options.get(name, {}))
                # each result as soon as it is known: a later benchmark's failure keeps it
                (work / f"{name}.json").write_text(json.dumps(results[name], indent=2, default=float))
                print(f"[{name}] done", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2, default=float))
    else:
        for name, res in results.items():
            figures = "  ".join(f"{k}={v:.4f}" for k, v in res.items() if isinstance(v, float))
            print(f"{name:<16} {figures}")
    if args.write_md:
        command = args.command or "python bench/anomaly.py " + " ".join(argv or sys.argv[1:])
        load = os.getloadavg()
        environment = (
            f"seed {args.seed}; {os.cpu_count()} CPU cores shared, load average {load[0]:.1f} at the end"
            + ("" if args.from_json else f"; {time.process_time() - cpu_started:.0f} CPU s in this process")
        )
        write_md(markdown(results, command, environment), ROOT / "BENCHMARKS.md")
        print("BENCHMARKS.md: anomaly section written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
