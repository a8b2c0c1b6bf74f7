"""The README's own-data example works as written: its config ingests a log shaped like it says."""

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from click.testing import CliRunner

from seqintent.cli import main
from seqintent.data import Dataset

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_config() -> str:
    block = re.search(r"```yaml\n(# shop\.yaml\n.*?)```", README.read_text(), re.S)
    assert block, "README.md lost its shop.yaml example"
    return block.group(1)


def test_readme_config_ingests_a_shop_log(tmp_path):
    (tmp_path / "logs").mkdir()
    rows = {
        "customer": ["a", "a", "a", "a", "b", "b", "b", "b"],
        "sku": ["s1", "s2", "s2", "s3", "s1", "s1", "s4", "s5"],
        "event_time": [
            "2024-05-01 10:00:00",
            "2024-05-01 10:01:00",
            "2024-05-01 10:01:02",  # same item and action within 5 s: a duplicate
            "2024-05-02 09:00:00",
            "2024-05-01 11:00:00",
            "2024-05-01 11:00:30",
            "2024-05-01 11:02:00",
            "2024-05-03 08:00:00",
        ],
        "event": [
            "page_view",
            "add_to_basket",
            "add_to_basket",
            "order",
            "page_view",
            "wishlist",
            "page_view",
            "promo",
        ],
        "category_path": ["phones", "cases", "cases", "phones", "phones", "phones", "audio", "audio"],
        "seconds_on_page": [12.0, None, None, None, 0.4, None, 30.0, 5.0],
    }
    pq.write_table(pa.table(rows), tmp_path / "logs" / "part-0.parquet")
    config = tmp_path / "shop.yaml"
    config.write_text(_readme_config())
    assert yaml.safe_load(config.read_text())["name"] == "shop"

    result = CliRunner().invoke(
        main,
        ["ingest", "--config", str(config), str(tmp_path / "logs" / "*.parquet"), "-o", str(tmp_path / "ds")],
    )
    assert result.exit_code == 0, result.output
    stats = Dataset.load(tmp_path / "ds").stats
    assert stats["events_read"] == 8
    # the 0.4 s view is a misclick and the repeated basket add a duplicate; "promo" maps to other
    assert {k: v for k, v in stats["dropped"].items() if v} == {"duplicate": 1, "misclick": 1}
    assert stats["actions"] == {"view": 2, "cart": 1, "buy": 1, "fav": 1, "other": 1}
