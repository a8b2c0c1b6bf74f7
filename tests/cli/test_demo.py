"""`make demo` end to end on a small simulated log: every step runs and its summary says what it found."""

from click.testing import CliRunner

from seqintent.cli import main
from seqintent.data import Dataset
from seqintent.demo import DEMO_API_KEY


def test_demo_runs_every_step_and_ends_with_the_serve_command(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--out", str(out), "--users", "250", "--epochs", "2"])
    assert result.exit_code == 0, result.output
    text = result.output

    for step in ("simulate", "ingest", "train", "evaluate", "intend", "risk", "export", "serve it"):
        assert step in text, f"demo output lost its {step!r} step"
    for folder in ("dataset", "model", "model.runtime"):
        assert (out / folder / "manifest.json").is_file(), folder
    assert Dataset.load(out / "dataset").stats["users"] == 250

    # every planted takeover is held for review, and the example shown is one with its reasons
    takeover_row = next(line for line in text.splitlines() if line.strip().startswith("takeover"))
    held, total = takeover_row.split()[1], takeover_row.split()[3]
    assert held == total and int(total) > 0, takeover_row
    assert "because: new device" in text and "payee never seen" in text

    assert "make serve" in text
    assert f"Authorization: Bearer {DEMO_API_KEY}" in text and "/v1/users/" in text
