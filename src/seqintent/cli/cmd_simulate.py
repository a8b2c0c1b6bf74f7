"""``seqintent simulate``: write a simulated behaviour log and its ground truth."""

from __future__ import annotations

import click

from seqintent.cli import main
from seqintent.cli._common import handle_errors, json_option, print_json

# Kept here (not imported from seqintent.simulate) so `seqintent --help` stays quick.
_SCENARIOS = ("ecommerce", "content", "finance")
_FORMATS = ("csv", "jsonl", "parquet")
_DEFAULT_USERS = 1000


@main.command("simulate")
@click.option("--scenario", type=click.Choice(_SCENARIOS), required=True, help="Which behaviour to simulate.")
@click.option(
    "--users", type=click.IntRange(min=1), default=None, help=f"Number of users [default: {_DEFAULT_USERS}]."
)
@click.option(
    "--events", type=click.IntRange(min=1), default=None, help="About this many events (instead of --users)."
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Same seed, same bytes."
)
@click.option(
    "-o", "--out", required=True, type=click.Path(dir_okay=False), help="Log file (.csv, .jsonl or .parquet)."
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(_FORMATS),
    default=None,
    help="Log format [default: extension].",
)
@click.option("--days", type=click.IntRange(min=1), default=None, help="Days [default: the scenario's].")
@click.option("--start", default="2024-04-01", show_default=True, help="First local day (ISO date).")
@click.option(
    "--timezone",
    default="Europe/Berlin",
    show_default=True,
    help="Local zone of the rhythm (the `simulator` preset assumes the default).",
)
@json_option
@handle_errors
def simulate_command(
    scenario: str,
    users: int | None,
    events: int | None,
    seed: int,
    out: str,
    file_format: str | None,
    days: int | None,
    start: str,
    timezone: str,
    as_json: bool,
) -> None:
    """Write a simulated log with planted, order-dependent signals, and its ground truth beside it.

    The truth goes to OUT.truth/ (truth.json plus Parquet tables: sessions, signals, users, noise, …).

    Example: seqintent simulate --scenario ecommerce --users 2000 --seed 0 -o events.csv
    """
    from seqintent.errors import ConfigError
    from seqintent.simulate import simulate, users_for_events

    if users is not None and events is not None:
        raise ConfigError("give --users or --events, not both", key="events", value=events)
    if events is not None:
        users = users_for_events(scenario, events, seed=seed, days=days)
    result = simulate(
        scenario,
        _DEFAULT_USERS if users is None else users,
        seed,
        out,
        file_format=file_format,
        start=start,
        days=days,
        timezone=timezone,
    )
    if as_json:
        print_json(result.to_dict())
        return
    counts = result.counts
    click.echo(
        f"wrote {counts['events']:,} events ({counts['users']:,} users, {counts['sessions']:,} sessions) "
        f"to {result.log_path} in {result.seconds:.1f} s"
    )
    click.echo(f"noise: {counts['misclicks']:,} misclicks, {counts['duplicates']:,} duplicates")
    labels = ", ".join(f"{name} {n:,}" for name, n in counts["labels"].items())
    click.echo(f"session labels: {labels}")
    click.echo(f"ground truth: {result.truth_path}/")
