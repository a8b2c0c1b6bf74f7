"""``seqintent anomaly``: fit habit profiles, score sessions, evaluate on labels, check rule files."""

from __future__ import annotations

import json
from pathlib import Path

import click

from seqintent.cli import main
from seqintent.cli._common import handle_errors, json_option, print_json


@main.group("anomaly")
def anomaly_group() -> None:
    """Per-user habit profiles, pattern rules and risk scores with reasons.

    \b
      seqintent anomaly fit data/finance -o models/risk --rules rules.yaml
      seqintent anomaly score models/risk --events today.jsonl --json
      seqintent anomaly evaluate models/risk data/labelled --json
      seqintent anomaly rules rules.yaml
    """


def _read_config(path: str | None):  # -> AnomalyConfig
    import yaml

    from seqintent.anomaly import AnomalyConfig
    from seqintent.errors import ConfigError

    if path is None:
        return AnomalyConfig()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError("no such config file", file=path, fix="check --config") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"not valid YAML: {exc}", file=path, line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of profile / risk / unit settings", file=path)
    return AnomalyConfig.from_dict(data, file=path)


@anomaly_group.command("fit")
@click.argument("data", type=click.Path(exists=True))
@click.option("-o", "--out", required=True, type=click.Path(), help="Model folder to write.")
@click.option(
    "--rules", "rules_path", type=click.Path(), help="YAML pattern-rule file (see `anomaly rules`)."
)
@click.option(
    "--config", "config_path", type=click.Path(), help="YAML/JSON anomaly config (profile, risk, unit)."
)
@click.option("--split", default="train", show_default=True, help="Dataset split the profiles learn from.")
@click.option(
    "--sequence-model",
    type=click.Path(),
    help="Model folder of `seqintent train`: adds sequence surprise (copied into the anomaly model).",
)
@click.option(
    "--top-g", default=9, show_default=True, help="Surprise: an item outside the model's top g is unexpected."
)
@click.option("--overwrite", is_flag=True, help="Replace an existing model folder.")
@json_option
@handle_errors
def fit_command(
    data: str,
    out: str,
    rules_path: str | None,
    config_path: str | None,
    split: str,
    sequence_model: str | None,
    top_g: int,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Learn per-user habit profiles from a Dataset folder (or a canonical events file).

    Example: seqintent anomaly fit data/finance -o models/risk --rules rules.yaml
    """
    from seqintent.anomaly import AnomalyDetector, RuleSet, load_rules
    from seqintent.anomaly._events import read_events_file
    from seqintent.anomaly.surprise import SequenceSurprise
    from seqintent.data import load_dataset

    config = _read_config(config_path)
    rules = load_rules(rules_path) if rules_path else RuleSet.empty()
    surprise = SequenceSurprise.from_model_folder(sequence_model, top_g=top_g) if sequence_model else None
    source = load_dataset(data) if Path(data).is_dir() else read_events_file(data)
    detector = AnomalyDetector(config, rules, surprise).fit(source, split=split)
    path = detector.save(out, overwrite=overwrite)
    summary = {
        "model": str(path),
        "users": len(detector.profiles_),
        "events": detector.fitted_events_,
        "rules": [r.name for r in rules],
        "surprise": detector.calibration_.to_dict() if detector.calibration_ else None,
    }
    if as_json:
        print_json(summary)
        return
    click.echo(
        f"profiles of {summary['users']} users from {summary['events']} events, "
        f"{len(summary['rules'])} rules → {path}"
    )


@anomaly_group.command("score")
@click.argument("model", type=click.Path())
@click.option(
    "--events", "events_path", required=True, type=click.Path(), help="Events: .parquet, .csv, .jsonl."
)
@click.option(
    "--min-level",
    type=click.Choice(["low", "medium", "high", "critical"]),
    default="low",
    show_default=True,
    help="Print only results at this level or above.",
)
@click.option("--jsonl", "as_jsonl", is_flag=True, help="Print one JSON object per session (JSON lines).")
@json_option
@handle_errors
def score_command(model: str, events_path: str, min_level: str, as_jsonl: bool, as_json: bool) -> None:
    """Score every session of an events file: score 0–100, level, reasons, recommended action.

    Example: seqintent anomaly score models/risk --events today.jsonl --json
    """
    from seqintent.anomaly import AnomalyDetector
    from seqintent.anomaly._events import read_events_file
    from seqintent.anomaly.config import LEVELS

    detector = AnomalyDetector.load(model)
    results = detector.score(read_events_file(events_path))
    shown = [r for r in results if LEVELS.index(r.level) >= LEVELS.index(min_level)]
    if as_jsonl:
        for r in shown:
            click.echo(json.dumps(r.to_dict(), ensure_ascii=False))
        return
    if as_json:
        levels = {level: sum(r.level == level for r in results) for level in LEVELS}
        print_json(
            {
                "model": model,
                "sessions": len(results),
                "levels": levels,
                "results": [r.to_dict() for r in shown],
            }
        )
        return
    for r in shown:
        click.echo(f"{r.unit}  {r.score:5.1f}  {r.level:<8}  {r.action}")
        for reason in r.reasons:
            click.echo(f"    - {reason.text}")
    click.echo(f"{len(results)} sessions, {len(shown)} at level {min_level} or above")


@anomaly_group.command("evaluate")
@click.argument("model", type=click.Path())
@click.argument("dataset", type=click.Path(exists=True))
@click.option("--split", default="test", show_default=True, help="Dataset split to evaluate.")
@click.option(
    "--label",
    "label_attr",
    default="label",
    show_default=True,
    help="Event attribute holding the truth (1 / true / yes / anomaly = anomaly).",
)
@click.option(
    "--threshold",
    type=float,
    help="Flag at risk ≥ this (default: the best F1 on --valid-split, else 60, the start of 'high').",
)
@click.option("--valid-split", default="valid", show_default=True, help="Split the threshold is chosen on.")
@json_option
@handle_errors
def evaluate_command(
    model: str,
    dataset: str,
    split: str,
    label_attr: str,
    threshold: float | None,
    valid_split: str,
    as_json: bool,
) -> None:
    """Detection metrics of an anomaly model on a labelled Dataset: precision, recall, F1, FPR,
    ROC-AUC, PR-AUC and the FPR at 90 % recall, per session (or user, as the model's unit).

    Example: seqintent anomaly evaluate models/risk data/labelled --json
    """
    from seqintent.anomaly import AnomalyDetector
    from seqintent.anomaly.evaluation import evaluate_anomalies
    from seqintent.data import load_dataset

    detector = AnomalyDetector.load(model)
    report = evaluate_anomalies(
        detector,
        load_dataset(dataset),
        split=split,
        label_attr=label_attr,
        threshold=threshold,
        valid_split=valid_split,
    )
    if as_json:
        print_json({"model": model, "dataset": dataset, **report})
        return
    m = report["metrics"]
    click.echo(
        f"{dataset}  split={split}  threshold={report['threshold']:g} ({report['threshold_from']})  "
        f"units={m['n']}  anomalies={m['n_anomalies']}"
    )
    for key in ("precision", "recall", "f1", "fpr", "roc_auc", "pr_auc", "fpr_at_90_recall"):
        click.echo(f"  {key:<18} {m[key]:.4f}")


@anomaly_group.command("rules")
@click.argument("rules_path", required=False, type=click.Path())
@click.option("--list", "list_names", is_flag=True, help="List every predicate, field and statistic.")
@json_option
@handle_errors
def rules_command(rules_path: str | None, list_names: bool, as_json: bool) -> None:
    """Check a pattern-rule file (errors name the line), or list what rules can use.

    Example: seqintent anomaly rules rules.yaml
    """
    from seqintent.anomaly import load_rules, predicate_catalogue
    from seqintent.errors import ConfigError

    if list_names or rules_path is None:
        if not list_names:
            raise ConfigError(
                "give a rule file to check, or --list", fix="seqintent anomaly rules rules.yaml"
            )
        catalogue = predicate_catalogue()
        if as_json:
            print_json(catalogue)
            return
        for section, names in catalogue.items():
            click.echo(f"{section}:")
            for name, meaning in names.items():
                click.echo(f"  {name:<16} {meaning}")
        return
    rules = load_rules(rules_path)
    rows = [
        {
            "name": r.name,
            "line": r.line,
            "when": r.when,
            "window_s": r.window_ms / 1000,
            "severity": r.severity,
            "risk": r.risk,
            "enabled": r.enabled,
        }
        for r in rules
    ]
    if as_json:
        print_json({"file": rules_path, "rules": rows})
        return
    for row in rows:
        weight = f"risk {row['risk']:g}" if row["risk"] is not None else row["severity"]
        state = "" if row["enabled"] else "  (disabled)"
        where = f"line {row['line']}, {weight}, window {row['window_s']:g} s"
        click.echo(f"{row['name']} ({where}){state}: {row['when']}")
    click.echo(f"{len(rows)} rules OK")
