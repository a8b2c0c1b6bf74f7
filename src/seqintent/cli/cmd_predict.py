"""``seqintent predict``: every answer of a Model for histories given as events or Dataset users."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from seqintent.cli import main
from seqintent.cli._common import handle_errors, json_option, print_json

# See cmd_train: sleeping OpenMP waits on a shared machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@main.command("predict")
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--events", type=click.Path(path_type=Path), help="JSONL file of canonical events (one or more users)."
)
@click.option(
    "--dataset", type=click.Path(path_type=Path), help="A Dataset folder whose users to predict for."
)
@click.option("--user", "users", multiple=True, help="User id in --dataset (repeat for several).")
@click.option("-k", "--k", "k", type=int, default=10, show_default=True, help="Next items per user.")
@click.option("--no-exclusions", is_flag=True, help="Keep items of categories the user skips in next items.")
@click.option(
    "--explain",
    type=click.Choice(["occlusion", "gradient", "none"]),
    default="occlusion",
    show_default=True,
    help="How events are weighted in the explanation.",
)
@click.option(
    "--now", "now_ms", type=int, help="Time of the request, epoch ms (default: right after the last event)."
)
@json_option
@handle_errors
def predict_command(
    model: Path,
    events: Path | None,
    dataset: Path | None,
    users: tuple[str, ...],
    k: int,
    no_exclusions: bool,
    explain: str,
    now_ms: int | None,
    as_json: bool,
) -> None:
    """Next items, next action, intents, interests and why, for each user's history.

    Example: seqintent predict models/taobao --dataset data/taobao --user 1000027 --json
    """
    from seqintent.explain import predict

    results = predict(
        model,
        events=events,
        dataset=dataset,
        users=list(users) or None,
        k=k,
        honour_exclusions=not no_exclusions,
        explain=None if explain == "none" else explain,  # type: ignore[arg-type]
        now_ms=now_ms,
    )
    if as_json:
        print_json({"model": str(model), "predictions": results})
        return
    for r in results:
        _echo_result(r)


def _echo_result(r: dict[str, Any]) -> None:
    cold = "  (cold start: blended with popularity)" if r["cold_start"] else ""
    click.echo(f"user {r['user_id']}: {r['n_events']} events{cold}")
    items = ", ".join(f"{x['item']} ({x['score']:.3f})" for x in r["next_items"][:5])
    click.echo(f"  next items: {items}")
    if r.get("next_action"):
        click.echo(
            "  next action: " + ", ".join(f"{a} {p:.0%}" for a, p in list(r["next_action"].items())[:4])
        )
    for intent in r["intents"]:
        click.echo(f"  {intent['label']:<20} {intent['probability']:.3f}")
    for name, sentence in r.get("rationale", {}).items():
        click.echo(f"  why {name}: {sentence}")


def echo_intent_table(intents: dict[str, Any], cold_start: dict[str, Any] | None) -> None:
    """The intent part of ``seqintent evaluate``'s text output."""
    click.echo(f"{'intent':<20}{'':>10}{'AUC':>8}{'PR_AUC':>8}{'logloss':>9}{'ECE':>8}")
    for label, entry in intents.items():
        for name in ("model", "lightgbm", "logreg"):
            if name in entry:
                m = entry[name]
                click.echo(
                    f"{label if name == 'model' else '':<20}{name:>10}{m['AUC']:>8.4f}{m['PR_AUC']:>8.4f}"
                    f"{m['log_loss']:>9.4f}{m['ECE']:>8.4f}"
                )
    if cold_start and cold_start.get("examples"):
        n, limit = cold_start["examples"], cold_start["max_events"]
        click.echo(f"cold start (histories of <= {limit} events, {n} examples):")
        for name in ("blend", "model", "popularity"):
            m = cold_start[name]
            click.echo(f"  {name:<10} NDCG@10 {m['NDCG@10']:.4f}  HR@10 {m['HR@10']:.4f}")
