"""Fitting from a Dataset folder written by ingest: train split only, the Dataset's time zone."""

import json

import pytest
from click.testing import CliRunner

from seqintent.anomaly import AnomalyDetector
from seqintent.cli import main
from seqintent.errors import ColumnError
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


LABELLED = {
    "train": ["a,1000,login,phone,0", "a,2000,login,phone,0", "a,3000,login,phone,0"],
    "valid": ["v1,4000,login,phone,0", "v2,5000,login,pc,1"],
    "test": ["t1,6000,login,phone,0", "t2,7000,login,pc,1", "t3,8000,logout,pc,0"],
}


def _labelled_dataset(tmp_path):
    source = {
        "user_id": "uid",
        "time": {"column": "t", "unit": "ms"},
        "action": {"column": "act"},
        "device": "dev",
    }
    sources = []
    for part, rows in LABELLED.items():
        (tmp_path / f"{part}.csv").write_text("uid,t,act,dev,lab\n" + "\n".join(rows) + "\n")
        sources.append({**source, "path": f"{part}.csv", "split": part, "attrs": {"label": "lab"}})
    return ingest(
        tmp_path, {"name": "labelled", "sources": sources, "split": {"kind": "given"}}, tmp_path / "ds"
    )


PC_RULE = "rules:\n  - name: pc\n    when: 'device == \"pc\" AND login'\n    risk: 70\n"


def test_evaluate_anomalies_on_a_labelled_dataset(tmp_path):
    from seqintent.anomaly import AnomalyConfig, RuleSet
    from seqintent.anomaly.evaluation import evaluate_anomalies

    ds = _labelled_dataset(tmp_path)
    detector = AnomalyDetector(AnomalyConfig(unit="user"), RuleSet.from_yaml(PC_RULE)).fit(ds)
    out = evaluate_anomalies(detector, ds)
    assert (out["threshold"], out["threshold_from"]) == (70.0, "valid")
    m = out["metrics"]
    assert (m["tp"], m["fp"], m["fn"], m["n"]) == (1, 0, 0, 3)
    assert (m["precision"], m["recall"], m["roc_auc"]) == (1.0, 1.0, 1.0)
    with pytest.raises(ColumnError, match="no such event attribute"):
        evaluate_anomalies(detector, ds, label_attr="lable")


def test_cli_evaluate_reports_detection_metrics_with_a_validation_threshold(tmp_path):
    _labelled_dataset(tmp_path)
    (tmp_path / "rules.yaml").write_text(PC_RULE)
    (tmp_path / "config.yaml").write_text("unit: user\n")
    fit = CliRunner().invoke(
        main,
        [
            "anomaly",
            "fit",
            str(tmp_path / "ds"),
            "-o",
            str(tmp_path / "m"),
            "--rules",
            str(tmp_path / "rules.yaml"),
            "--config",
            str(tmp_path / "config.yaml"),
        ],
    )
    assert fit.exit_code == 0, fit.output
    result = CliRunner().invoke(
        main, ["anomaly", "evaluate", str(tmp_path / "m"), str(tmp_path / "ds"), "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["split"], out["threshold"], out["threshold_from"]) == ("test", 70.0, "valid")
    m = out["metrics"]
    assert (m["precision"], m["recall"], m["f1"], m["fpr"], m["roc_auc"], m["pr_auc"]) == (1, 1, 1, 0, 1, 1)
    assert m["fpr_at_90_recall"] == 0.0
    # the main evaluate command recognises an anomaly model and reports the same
    same = CliRunner().invoke(main, ["evaluate", str(tmp_path / "m"), str(tmp_path / "ds"), "--json"])
    assert same.exit_code == 0, same.output
    assert json.loads(same.output) == out
    text = CliRunner().invoke(
        main, ["anomaly", "evaluate", str(tmp_path / "m"), str(tmp_path / "ds"), "--threshold", "101"]
    )
    assert text.exit_code == 0, text.output
    assert "threshold=101 (given)" in text.output and "recall             0.0000" in text.output
