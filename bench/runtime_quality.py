"""Quality of the exported graphs: PyTorch, ONNX fp32, ONNX int8; full-catalogue ranking, test split.

python bench/runtime_quality.py MODEL DATASET [MODEL DATASET ...] [--json]

Each MODEL is exported (fp32 + int8) when its ``MODEL.runtime/`` is missing. Prints one JSON object:
``{name: {"torch": {..}, "onnx_fp32": {..}, "onnx_int8": {..}, "int8_minus_fp32": {..}, "sizes_mb": {..}}}``
with HR / NDCG / MRR at 10 and 20 (no bootstrap), graph sizes, and the export check figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

METRICS = ("HR@10", "NDCG@10", "MRR@10", "HR@20", "NDCG@20")


def quality(model_path: Path, dataset_path: Path) -> dict:
    """PyTorch, ONNX fp32 and ONNX int8 of one Model on its Dataset's test split (exports when missing)."""
    from seqintent.data import Dataset
    from seqintent.evaluate.ranking import evaluate_ranking
    from seqintent.models import NextItemModel
    from seqintent.runtime import Runtime, RuntimeScorer, export_runtime, runtime_path_for

    runtime = runtime_path_for(model_path)
    if not (runtime / "model.int8.onnx").is_file():
        print(f"[runtime-quality] export {model_path}", file=sys.stderr)
        export_runtime(model_path, int8=True, overwrite=True)
    dataset = Dataset.load(dataset_path)
    scorers = {
        "torch": NextItemModel.from_pretrained(model_path),
        "onnx_fp32": RuntimeScorer(runtime, "fp32", threads=1),
        "onnx_int8": RuntimeScorer(runtime, "int8", threads=1),
    }
    print(f"[runtime-quality] evaluate {model_path} on {dataset_path}", file=sys.stderr)
    results = evaluate_ranking(dataset, scorers, split="test", bootstrap=0)
    row: dict = {name: {m: round(r.metrics[m], 5) for m in METRICS} for name, r in results.items()}
    row["int8_minus_fp32"] = {m: round(row["onnx_int8"][m] - row["onnx_fp32"][m], 5) for m in METRICS}
    row["fp32_minus_torch_max"] = max(abs(row["onnx_fp32"][m] - row["torch"][m]) for m in METRICS)
    row["rank_agreement_int8_fp32"] = float((results["onnx_int8"].ranks == results["onnx_fp32"].ranks).mean())
    row["targets"] = len(results["torch"].ranks)
    row["sizes_mb"] = {p.name: round(p.stat().st_size / 2**20, 2) for p in sorted(runtime.glob("*.onnx"))}
    row["export_check"] = {k: v.model_dump() for k, v in Runtime.load(runtime).config.precisions.items()}
    row["dataset"] = dataset.manifest.get("name", str(dataset_path))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="+", type=Path, help="MODEL DATASET pairs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if len(args.pairs) % 2:
        parser.error("give MODEL DATASET pairs")
    out = {}
    for model_path, dataset_path in zip(args.pairs[::2], args.pairs[1::2], strict=True):
        row = quality(model_path, dataset_path)
        out[row.pop("dataset")] = row
    print(json.dumps(out, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
