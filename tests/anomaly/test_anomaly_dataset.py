"""Fitting from a Dataset folder written by ingest: train split only, the Dataset's time zone."""

import json

from click.testing import CliRunner

from seqintent.anomaly import AnomalyDetector
from seqintent.cli import main
from seqintent.ingest import ingest

LOG = """\
uid,t,act,payee,amt,dev,city
ann,1000,login,,,phone,Berlin
ann,61000,transfer,mum,100,phone,Berlin
ann,90000000,login,,,tablet,Berlin
ann,90060000,transfer,rent,120,tablet,Berlin
bob,5000,login,,,pc,Paris
"""

CONFIG = """\
name: tiny-finance
sources:
  - path: log.csv
    user_id: uid
    item_id: payee
    time: {column: t, unit: ms, timezone: Asia/Tokyo}
    action: {column: act}
    amount: amt
    device: dev
    attrs:
      location: city
split: {kind: temporal, test_start: "1970-01-01T20:00:00Z"}
"""


def _dataset(tmp_path):
    (tmp_path / "log.csv").write_text(LOG)
    (tmp_path / "config.yaml").write_text(CONFIG)
    return ingest(tmp_path / "log.csv", tmp_path / "config.yaml", tmp_path / "ds")


def test_fit_reads_only_the_train_split_and_the_dataset_time_zone(tmp_path):
    detector = AnomalyDetector().fit(_dataset(tmp_path))
    ann = detector.profiles_["ann"]
    assert ann.n_events == 2 and list(ann.devices) == ["phone"] and list(ann.payees) == ["mum"]
    assert list(ann.locations) == ["Berlin"]
    assert detector.config.profile.timezone == "Asia/Tokyo"
    assert ann.usual_hours() == (9, 1)  # 00:00 UTC is 09:00 in Tokyo
    assert detector.profiles_["bob"].n_events == 1


def test_all_splits_when_asked(tmp_path):
    detector = AnomalyDetector().fit(_dataset(tmp_path), split=None)
    assert detector.profiles_["ann"].n_events == 4


def test_cli_fit_from_a_dataset_folder(tmp_path):
    _dataset(tmp_path)
    result = CliRunner().invoke(
        main, ["anomaly", "fit", str(tmp_path / "ds"), "-o", str(tmp_path / "m"), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["events"] == 3
    assert AnomalyDetector.load(tmp_path / "m").config.profile.timezone == "Asia/Tokyo"
