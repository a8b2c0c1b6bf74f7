"""``seqintent train`` trains intent heads by default; ``predict`` and ``evaluate`` answer with them."""

import json

from click.testing import CliRunner

from seqintent.cli import main
from seqintent.models import NextItemModel
from seqintent.schema.columns import ModelFiles
from tests.intent_builders import research_log

CONFIG = """\
model: {hidden: 16, heads: 2, max_len: 12}
train: {threads: 1, epochs: 1}
intents:
  labels:
    - {name: buy_40h, kind: within, actions: [buy], horizon: 40h}
  protocol: {test_window: 5d}
  train: {epochs: 1, threads: 1}
"""


def test_train_adds_intent_heads_unless_told_not_to(tmp_path):
    ds, _ = research_log(tmp_path / "data", users=40, sessions=6)
    (tmp_path / "cfg.yaml").write_text(CONFIG)
    args = ["train", str(ds.path), "--config", str(tmp_path / "cfg.yaml"), "--quiet"]
    result = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "with")])
    assert result.exit_code == 0, result.output
    assert "intent heads: buy_40h (finetune)" in result.output
    model = NextItemModel.from_pretrained(tmp_path / "with")
    assert [s.name for s in model.intents.labels] == ["buy_40h"]
    assert model.intents.metrics["phases"][0]["phase"] == "finetune"
    result = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "without"), "--no-intents"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "without" / ModelFiles.INTENTS).exists()
    assert NextItemModel.from_pretrained(tmp_path / "without").intents is None


def test_a_bad_intents_section_names_the_key(tmp_path):
    ds, _ = research_log(tmp_path / "data", users=20, sessions=3)
    (tmp_path / "cfg.yaml").write_text(CONFIG.replace("test_window", "test_windw"))
    result = CliRunner().invoke(
        main,
        ["train", str(ds.path), "-o", str(tmp_path / "m"), "--config", str(tmp_path / "cfg.yaml"), "--quiet"],
    )
    assert result.exit_code == 2
    assert "cfg.yaml, intents.protocol.test_windw: unknown key" in result.output
    assert "candidates: 'test_window'" in result.output


def test_predict_prints_one_json_object_per_user(research, tmp_path):
    dataset, _, _, folder = research
    events = [
        {"user_id": "a", "ts": 1_700_000_000_000 + 60_000 * i, "action": a, "item_id": f"i{i + 1}"}
        for i, a in enumerate(["view", "view", "cart", "view"])
    ]
    events.append({"user_id": "b", "ts": 1_700_000_000_000, "action": "view", "item_id": "i3"})
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    result = CliRunner().invoke(main, ["predict", str(folder), "--events", str(path), "-k", "3", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert [p["user_id"] for p in body["predictions"]] == ["a", "b"]
    first = body["predictions"][0]
    assert first["n_events"] == 4 and first["cold_start"] is True and len(first["next_items"]) == 3
    assert {"next_action", "intents", "interests", "exclusions", "explanation", "rationale"} <= set(first)
    result = CliRunner().invoke(
        main, ["predict", str(folder), "--dataset", str(dataset.path), "--user", "u1"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("user u1: ") and "buy_40h" in result.output


def test_predict_errors_name_the_line_and_the_fix(research, tmp_path):
    dataset, _, _, folder = research
    path = tmp_path / "events.jsonl"
    path.write_text('{"user_id": "a", "ts": 1, "action": "view"}\nnot json\n')
    result = CliRunner().invoke(main, ["predict", str(folder), "--events", str(path)])
    assert result.exit_code == 2
    assert f"{path}:2: not valid JSON" in result.output
    result = CliRunner().invoke(main, ["predict", str(folder), "--dataset", str(dataset.path)])
    assert result.exit_code == 2 and "fix: pass --user ID" in result.output


def test_evaluate_json_has_the_intents_section(research):
    dataset, _, _, folder = research
    result = CliRunner().invoke(
        main,
        [
            *("evaluate", str(folder), str(dataset.path)),
            *("--baselines", "", "--intent-baselines", "logreg", "--bootstrap", "0", "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report["intents"]) == {"next_action", "buy_40h"}
    for entry in report["intents"].values():
        assert {"model", "logreg"} <= set(entry)
        assert {"AUC", "PR_AUC", "ECE"} <= set(entry["model"]) and {"AUC", "PR_AUC", "ECE"} <= set(
            entry["logreg"]
        )
    assert {"examples", "max_events"} <= set(report["cold_start"])
