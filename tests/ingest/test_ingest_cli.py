"""`seqintent ingest` and `seqintent stats`: run the command, check the effect through the Python API."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from seqintent.cli import main
from seqintent.data import Dataset
from tests.ingest.ingest_helpers import config

LOG = "user,ts,action,item\n1,1,view,a\n1,2,cart,a\n1,3,buy,a\n2,1,view,b\n"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "log.csv").write_text(LOG)
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(config()))
    return tmp_path


def test_ingest_then_stats(files):
    runner = CliRunner()
    out = files / "ds"
    result = runner.invoke(
        main, ["ingest", "--config", str(files / "cfg.yaml"), str(files / "log.csv"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "events    4 kept of 4 read" in result.output
    ds = Dataset.load(out)
    assert ds.n_events == 4 and ds.n_users == 2
    result = runner.invoke(main, ["stats", str(out)])
    assert result.exit_code == 0
    assert (
        "users     2" in result.output
        and "split     leave_one_out: train 2, valid 1, test 1" in result.output
    )
    result = runner.invoke(main, ["stats", str(out), "--json"])
    stats = json.loads(result.output)
    assert stats["events_read"] == 4 and stats["events_kept"] == 4
    assert stats["users"] == 2 and stats["items"] == 2
    assert stats["actions"] == {"buy": 1, "cart": 1, "view": 2}
    assert stats["dropped"]["malformed"] == 0


def test_ingest_json_and_overwrite(files):
    runner = CliRunner()
    args = ["ingest", "--config", str(files / "cfg.yaml"), str(files), "-o", str(files / "ds"), "--json"]
    assert runner.invoke(main, args).exit_code == 0
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    assert "output folder exists and is not empty" in result.output
    result = runner.invoke(main, [*args, "--overwrite"])
    assert result.exit_code == 0
    assert json.loads(result.output)["events_kept"] == 4


def test_bad_row_exits_2_with_the_line(files):
    (files / "log.csv").write_text(LOG + "3,later,view,c\n")
    runner = CliRunner()
    args = ["ingest", "--config", str(files / "cfg.yaml"), str(files / "log.csv"), "-o", str(files / "ds")]
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    assert "log.csv:6, column 'ts', sources[0].time: cannot read the time" in result.output
    result = runner.invoke(main, [*args, "--on-error", "skip", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["dropped"]["bad_time"] == 1


def test_config_errors_exit_2(files):
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", str(files / "log.csv"), "-o", str(files / "ds")])
    assert result.exit_code == 2 and "give exactly one of --preset NAME or --config FILE" in result.output
    result = runner.invoke(
        main, ["ingest", "--preset", "no-such-preset", str(files), "-o", str(files / "ds")]
    )
    assert result.exit_code == 2 and "no such preset" in result.output
    result = runner.invoke(main, ["stats", str(files / "nothing"), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"] == "ArtifactError"


@pytest.mark.parametrize("command", ["ingest", "stats"])
def test_every_command_has_help_with_an_example(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert f"Example: seqintent {command}" in result.output


def test_format_stats_text():
    from seqintent.ingest import format_stats

    stats = {
        "name": "shop",
        "path": "data/shop",
        "split_kind": "leave_one_out",
        "events_read": 1200,
        "events_kept": 1000,
        "users": 10,
        "items": 50,
        "categories": 5,
        "sessions": 40,
        "actions": {"view": 900, "buy": 100},
        "sequence_length": {
            "min": 3,
            "p5": 3,
            "p25": 50,
            "p50": 100,
            "p75": 150,
            "p95": 190,
            "p99": 199,
            "max": 200,
            "mean": 100.0,
        },
        "time_range": {"start": "2024-01-01T00:00:00Z", "end": "2024-01-31T00:00:00Z"},
        "splits": {"train": 980, "valid": 10, "test": 10},
        "dropped": {"malformed": 0, "duplicate": 150, "misclick": 50},
    }
    assert format_stats(stats) == "\n".join(
        [
            "dataset   shop  (data/shop)",
            "events    1,000 kept of 1,200 read (83.3%)",
            "users     10",
            "items     50   categories 5   sessions 40",
            "actions   view 90.0%, buy 10.0%",
            "families  browse 90.0%, convert 10.0%",
            "length    min 3  p5 3  p25 50  p50 100  p75 150  p95 190  p99 199  max 200  (mean 100)",
            "time      2024-01-01T00:00:00Z .. 2024-01-31T00:00:00Z",
            "split     leave_one_out: train 980, valid 10, test 10",
            "dropped   duplicate 150, misclick 50",
        ]
    )
