"""``seqintent evaluate``: a trained model beside the baselines, full-catalogue ranking."""

from __future__ import annotations

import os
from pathlib import Path

import click

from seqintent.cli import main
from seqintent.cli._common import handle_errors, json_option, print_json

# OpenMP threads that spin-wait collapse when another process takes a core (5x slower steps measured
# on a shared 2-core machine); sleeping waits cost little when the machine is idle. Set before torch
# starts its OpenMP runtime; an explicit OMP_WAIT_POLICY wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@main.command("evaluate")
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--split", type=click.Choice(["test", "valid"]), default="test", show_default=True)
@click.option(
    "--baselines",
    default="pop,itemknn,markov,recent",
    show_default=True,
    help="Comma-separated baselines to score beside the model ('' for none).",
)
@click.option("--exclude-seen", is_flag=True, help="Rank only items not already in the history.")
@click.option("--target-actions", help="Comma-separated canonical actions that count as targets (e.g. buy).")
@click.option(
    "--bootstrap", type=int, default=1000, show_default=True, help="Resamples for 95% intervals (0: off)."
)
@click.option(
    "--intent-baselines",
    default="lightgbm,logreg",
    show_default=True,
    help="Baselines on hand-made features beside the intent heads ('' for none).",
)
@click.option("--no-intents", "no_intents", is_flag=True, help="Skip the intent labels (next items only).")
@json_option
@click.pass_context
@handle_errors
def evaluate_command(
    ctx: click.Context,
    model: Path,
    dataset: Path,
    split: str,
    baselines: str,
    exclude_seen: bool,
    target_actions: str | None,
    bootstrap: int,
    intent_baselines: str,
    no_intents: bool,
    as_json: bool,
) -> None:
    """Rank every held-out item of DATASET's split with MODEL and the baselines.

    An anomaly model (`seqintent anomaly fit`) is evaluated as `seqintent anomaly evaluate` does:
    precision, recall, F1, ROC-AUC, PR-AUC and the FPR at 90% recall on a labelled Dataset.

    Example: seqintent evaluate models/beauty data/beauty --baselines pop,recent --json
    """
    from seqintent.evaluate import evaluate_model

    if _is_anomaly_model(model):
        from seqintent.cli.cmd_anomaly import evaluate_command as anomaly_evaluate

        ctx.invoke(anomaly_evaluate, model=str(model), dataset=str(dataset), split=split, as_json=as_json)
        return

    report = evaluate_model(
        model,
        dataset,
        split=split,
        baselines=[b for b in baselines.split(",") if b.strip()],
        exclude_seen=exclude_seen,
        target_actions=target_actions.split(",") if target_actions else None,
        bootstrap=bootstrap,
        intents=not no_intents,
        intent_baselines=[b for b in intent_baselines.split(",") if b.strip()],
    )
    if as_json:
        print_json(report)
        return
    rows = {"model": report["model"], **report["baselines"]}
    keys = [k for k in report["model"] if k.split("@")[1] in ("10", "20")]
    click.echo(
        f"{report['dataset']}  split={split}  protocol={report['protocol']}  examples={report['examples']}"
        f"  baselines learned from: {'+'.join(report['baselines_learned_from'])}"
    )
    click.echo(f"{'':<10}" + "".join(f"{k:>10}" for k in keys))
    for name, metrics in rows.items():
        click.echo(f"{name:<10}" + "".join(f"{metrics[k]:>10.4f}" for k in keys))
    ci = report["ci95"]["model"]
    if "NDCG@10" in ci:
        lo, hi = ci["NDCG@10"]
        click.echo(f"model NDCG@10 95% interval: [{lo:.4f}, {hi:.4f}]")
    if report.get("intents"):
        from seqintent.cli.cmd_predict import echo_intent_table

        echo_intent_table(report["intents"], report.get("cold_start"))


def _is_anomaly_model(folder: Path) -> bool:
    from seqintent.data.artifact import read_json
    from seqintent.schema import AnomalyFiles

    manifest = folder / "manifest.json"
    return manifest.is_file() and read_json(manifest).get("kind") == AnomalyFiles.KIND_MODEL
