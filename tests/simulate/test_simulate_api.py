"""simulate() / load_truth(): files, formats, determinism, errors; the CLI; the `simulator` preset."""

from __future__ import annotations

import json

import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from seqintent.cli import cmd_simulate, main
from seqintent.errors import ArtifactError, ConfigError
from seqintent.schema import canonical_action, load_preset
from seqintent.schema.columns import SimulationFiles, SimulatorColumns
from seqintent.simulate import (
    DEFAULT_START,
    DEFAULT_TIMEZONE,
    SCENARIOS,
    EcommerceParams,
    FinanceParams,
    content,
    ecommerce,
    finance,
    generate,
    load_truth,
    simulate,
    users_for_events,
)


def read_back(path):
    """The log through DuckDB, as ingest would read it."""
    return duckdb.sql(f"SELECT * FROM '{path}'").arrow().read_all()


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_every_format_holds_the_same_log(tmp_path, fmt):
    result = simulate("ecommerce", n_users=30, seed=4, out=tmp_path / f"events.{fmt}")
    assert result.file_format == fmt
    expected = generate("ecommerce", n_users=30, seed=4).log
    table = read_back(result.log_path)
    assert table.column_names == list(SimulatorColumns.ALL)
    assert table.num_rows == expected.num_rows == result.counts["events"]
    for name in ("user_id", "ts", "action", "item_id", "dwell_s", "amount", "session_id", "text"):
        assert table.column(name).to_pylist() == expected.column(name).to_pylist(), name


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_same_seed_same_bytes(tmp_path, scenario):
    def files(folder):
        simulate(scenario, n_users=40, seed=9, out=folder / "log.csv")
        truth = folder / "log.csv.truth"
        return {p.name: p.read_bytes() for p in [folder / "log.csv", *sorted(truth.iterdir())]}

    first, second = files(tmp_path / "a"), files(tmp_path / "b")
    assert first == second
    assert json.loads(first[SimulationFiles.MANIFEST])["seed"] == 9
    other = generate(scenario, n_users=40, seed=10).log
    assert other != generate(scenario, n_users=40, seed=9).log


def test_truth_folder_and_reader(tmp_path):
    result = simulate("finance", n_users=60, seed=2, out=tmp_path / "bank.parquet")
    truth = load_truth(tmp_path / "bank.parquet")
    assert truth.path == result.truth_path == tmp_path / "bank.parquet.truth"
    assert truth.scenario == "finance" and truth.log_path == result.log_path
    assert truth.meta["log_format"] == "parquet" and truth.meta["timezone"] == DEFAULT_TIMEZONE
    assert set(truth.meta["tables"]) == {"sessions", "signals", "users", "noise", "payees"}
    assert truth.sessions.num_rows == result.counts["sessions"]
    assert truth.noise.num_rows == result.counts["duplicates"]
    assert pq.read_table(result.log_path).num_rows == result.counts["events"]
    assert load_truth(result.truth_path).meta == truth.meta  # the folder itself works too
    with pytest.raises(ArtifactError, match="the finance truth has no table 'items'") as err:
        truth.table("items")
    assert "payees" in err.value.candidates


def test_rewriting_replaces_an_old_truth_but_never_a_stranger(tmp_path):
    simulate("content", n_users=20, seed=1, out=tmp_path / "log.csv")
    simulate("content", n_users=25, seed=1, out=tmp_path / "log.csv")
    assert load_truth(tmp_path / "log.csv").meta["n_users"] == 25
    (tmp_path / "mine.csv.truth").mkdir()
    (tmp_path / "mine.csv.truth" / "notes.txt").write_text("keep me")
    with pytest.raises(
        ArtifactError, match="refusing to replace something that is not a simulator truth folder"
    ):
        simulate("content", n_users=20, seed=1, out=tmp_path / "mine.csv")
    assert (tmp_path / "mine.csv.truth" / "notes.txt").read_text() == "keep me"


def test_load_truth_errors(tmp_path):
    with pytest.raises(ArtifactError, match="no simulator ground truth here"):
        load_truth(tmp_path / "missing.csv")
    folder = tmp_path / "x.csv.truth"
    folder.mkdir()
    (folder / "truth.json").write_text(json.dumps({"kind": "seqintent.simulation", "format_version": 99}))
    with pytest.raises(ArtifactError, match="unsupported truth format version 99"):
        load_truth(folder)


def test_argument_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"scenario: unknown scenario \(got 'ecomerce'\)") as err:
        generate("ecomerce", 10, 0)
    assert err.value.candidates == sorted(SCENARIOS)
    with pytest.raises(ConfigError, match="n_users: the number of users must be a whole number ≥ 1"):
        generate("content", 0, 0)
    with pytest.raises(ConfigError, match="seed: the seed must be a whole number ≥ 0"):
        generate("content", 5, -1)
    with pytest.raises(ConfigError, match="scenario 'finance' takes FinanceParams"):
        generate("finance", 5, 0, params=EcommerceParams())
    with pytest.raises(ConfigError, match="start: not an ISO date"):
        generate("finance", 5, 0, start="April 1st")
    with pytest.raises(ConfigError, match="days: the simulated period needs at least one day"):
        generate("finance", 5, 0, days=0)
    with pytest.raises(ConfigError, match="cannot tell the log format from the file name") as err:
        simulate("finance", 5, 0, tmp_path / "log.txt")
    assert "--format" in err.value.fix
    with pytest.raises(ConfigError, match="expected a file name"):
        simulate("finance", 5, 0, tmp_path, file_format="csv")


def test_params_and_window_change_the_draw():
    sim = generate("finance", 200, 0, params=FinanceParams(takeover_share=0.5), days=30, timezone="UTC")
    takeovers = sim.counts["labels"]["takeover"]
    assert 70 < takeovers < 130
    assert sim.meta["days"] == 30 and sim.meta["params"]["takeover_share"] == 0.5
    ts = sim.log.column("ts").to_numpy()
    start_ms = 1711929600000  # 2024-04-01 00:00 UTC
    assert ts.min() >= start_ms and ts.max() < start_ms + 31 * 86_400_000


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_writes_what_the_api_reads(tmp_path):
    out = tmp_path / "shop.jsonl"
    run = CliRunner().invoke(
        main, ["simulate", "--scenario", "ecommerce", "--users", "25", "--seed", "3", "-o", str(out)]
    )
    assert run.exit_code == 0, run.output
    assert "ground truth:" in run.output and "misclicks" in run.output
    truth = load_truth(out)
    assert truth.meta["log_format"] == "jsonl" and truth.meta["n_users"] == 25 and truth.meta["seed"] == 3
    assert read_back(out).num_rows == truth.meta["counts"]["events"]


def test_cli_json_and_errors(tmp_path):
    run = CliRunner().invoke(
        main, ["simulate", "--scenario", "content", "--users", "10", "-o", str(tmp_path / "x.csv"), "--json"]
    )
    assert run.exit_code == 0, run.output
    body = json.loads(run.output)
    assert body["scenario"] == "content" and body["counts"]["users"] == 10
    assert body["truth_path"].endswith("x.csv.truth")
    bad = CliRunner().invoke(main, ["simulate", "--scenario", "content", "-o", str(tmp_path / "x.txt")])
    assert bad.exit_code == 2
    assert "cannot tell the log format" in bad.output and "--format" in bad.output
    assert CliRunner().invoke(main, ["simulate", "--scenario", "shop", "-o", "x.csv"]).exit_code == 2


def test_users_for_events_hits_the_target(tmp_path):
    users = users_for_events("content", 30_000, seed=1)
    events = generate("content", users, seed=1).counts["events"]
    assert abs(events - 30_000) < 0.08 * 30_000
    with pytest.raises(ConfigError, match="n_events: the number of events must be a whole number ≥ 1"):
        users_for_events("content", 0)
    run = CliRunner().invoke(
        main,
        [
            "simulate",
            "--scenario",
            "content",
            "--events",
            "30000",
            "--seed",
            "1",
            "-o",
            str(tmp_path / "c.csv"),
        ],
    )
    assert run.exit_code == 0, run.output
    assert load_truth(tmp_path / "c.csv").meta["n_users"] == users
    both = CliRunner().invoke(
        main,
        ["simulate", "--scenario", "content", "--events", "9", "--users", "9", "-o", str(tmp_path / "d.csv")],
    )
    assert both.exit_code == 2 and "give --users or --events, not both" in both.output


def test_cli_help_has_an_example_and_matches_the_library():
    run = CliRunner().invoke(main, ["simulate", "--help"])
    assert run.exit_code == 0 and "Example: seqintent simulate" in run.output
    assert cmd_simulate._SCENARIOS == SCENARIOS
    assert cmd_simulate._FORMATS == ("csv", "jsonl", "parquet")
    defaults = {p.name: p.default for p in cmd_simulate.simulate_command.params}
    assert defaults["start"] == DEFAULT_START.isoformat() and defaults["timezone"] == DEFAULT_TIMEZONE


# --- the preset ---------------------------------------------------------------------------------


def test_preset_reads_every_column_and_action_of_every_scenario():
    config = load_preset("simulator")
    source = config.sources[0]
    assert source.time.unit == "ms" and source.time.timezone == DEFAULT_TIMEZONE
    named = {source.user_id, source.category, source.dwell_s, source.amount, source.device, source.session_id}
    named |= {source.text, source.time.column, source.action.column, *source.attrs.values()}
    assert set(SimulatorColumns.ALL) - named == {"item_id"}  # read through an expression with payee
    assert "item_id" in source.item_id.expr and "payee" in source.item_id.expr
    for module in (ecommerce, content, finance):
        for raw in module.RAW_ACTIONS:
            assert source.action.map.get(raw) or canonical_action(raw) == raw, raw
    assert config.cleaning.min_dwell_s == 1.0 and config.cleaning.dedup_within_s == 0
    assert config.sessions.gap_s == 1800
