"""Export: the ONNX graph answers as PyTorch does (dynamic batch and length), the folder is checked."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from seqintent.errors import ArtifactError
from seqintent.models import EventTokens, HistoryBatch, NextItemModel, gather_tokens, model_rows
from seqintent.runtime import ExplainedNetwork, Runtime, export_runtime, resolve_runtime, runtime_path_for
from seqintent.runtime.export import LARGE_WEIGHT, attention_rollout, check_inputs, large_products

ort = pytest.importorskip("onnxruntime")


def test_runtime_folder_layout_and_recorded_checks(exported):
    folder = exported.runtime
    assert (
        folder
        == runtime_path_for(exported.model)
        == exported.model.with_name(exported.model.name + ".runtime")
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["kind"] == "seqintent.runtime" and manifest["format_version"] == 1
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json",
        "model.int8.onnx",
        "model.onnx",
        "runtime.json",
        "vocab",
    ]
    assert sorted(p.name for p in (folder / "vocab").iterdir()) == [
        "actions.parquet",
        "categories.parquet",
        "devices.parquet",
        "items.parquet",
    ]
    runtime = Runtime.load(folder)
    fp32, int8 = runtime.config.precisions["fp32"], runtime.config.precisions["int8"]
    assert fp32.max_abs_diff < 1e-4 and fp32.top10_agreement == 1.0
    assert int8.top10_agreement >= 0.8
    assert runtime.config.outputs == ["next_item", "explanation"]
    model = NextItemModel.from_pretrained(exported.model)
    assert runtime.config.truncation.max_len == model.config.model.max_len
    assert runtime.config.tokens.n_items == model.n_items
    assert resolve_runtime(exported.model) == folder
    assert resolve_runtime(folder) == folder


def test_onnx_matches_pytorch_on_real_histories_of_any_batch_and_length(exported):
    """fp32 parity < 1e-4 on the Dataset's own histories, batched with left padding."""
    model = NextItemModel.from_pretrained(exported.model)
    assert model.network.next_item.prior_bonus.abs().sum() > 0  # the transition prior is in the graph too
    runtime = Runtime.load(exported.runtime)
    session = ort.InferenceSession(str(runtime.graph_path("fp32")), providers=["CPUExecutionProvider"])
    tokens = EventTokens.from_dataset(exported.dataset, model.spec)
    rng = np.random.default_rng(0)
    worst = 0.0
    for batch_size in (1, 3, 8):
        users = rng.choice(exported.dataset.n_users, size=batch_size, replace=False)
        starts = tokens.offsets[users]
        ends = starts + rng.integers(1, tokens.offsets[users + 1] - starts + 1)
        query = tokens.time_s[ends - 1] + 600.0
        want = model.score(HistoryBatch(tokens, starts, ends, query))
        rows = model_rows(tokens, starts, ends, model.config.model)
        inputs = gather_tokens(tokens, rows, query)
        width = int((rows >= 0).sum(axis=1).max())  # the graph takes any length, not only max_len
        feed = {i.name: inputs[i.name].numpy()[:, -width:] for i in session.get_inputs()}
        got, weights = session.run(None, feed)
        finite = np.isfinite(want)
        assert np.array_equal(finite, np.isfinite(got))
        worst = max(worst, float(np.abs(got[finite] - want[finite]).max()))
        assert weights.shape == (batch_size, width)
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
        assert (weights[rows[:, -width:] < 0] == 0).all()  # no weight on padding
    assert worst < 1e-4


def test_rollout_of_a_single_event_is_all_on_it(exported_plain):
    model = NextItemModel.from_pretrained(exported_plain.model)
    graph = ExplainedNetwork(model.network).eval()
    x = {n: torch.zeros(1, 4, dtype=torch.int64) for n in ("item", "action", "family", "category")}
    x |= {n: torch.zeros(1, 4, dtype=torch.int64) for n in ("gap", "hour", "weekday", "dwell", "next_gap")}
    x["time_s"] = torch.zeros(1, 4)
    x["item"][0, -1], x["action"][0, -1], x["family"][0, -1] = 1, 1, model.spec.action_family[1]
    with torch.no_grad():
        _, weights = graph(*x.values())
    assert weights.tolist() == [[0.0, 0.0, 0.0, 1.0]]


def test_the_rollout_reads_the_attention_the_next_item_pass_used(exported):
    """The graph keeps each block's attention as it runs; a reference recomputes it from the block inputs."""
    model = NextItemModel.from_pretrained(exported.model)
    network = model.network.eval()
    graph = ExplainedNetwork(network).eval()
    x = check_inputs(model, 3, 12, seed=0)
    inputs = [x[name] for name in graph.input_names]
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    hooks = [
        block.register_forward_pre_hook(lambda _m, args: seen.append((args[0], args[1])))
        for block in network.encoder.blocks
    ]
    with torch.no_grad():
        logits, weights = graph(*inputs)
        for h in hooks:
            h.remove()
        reference = []
        for block, (hidden, mask) in zip(network.encoder.blocks, seen, strict=False):
            b, t, width = hidden.shape
            q, k, _ = block.qkv(block.norm1(hidden)).view(b, t, 3, block.heads, -1).permute(2, 0, 3, 1, 4)
            scores = q @ k.transpose(-1, -2) / (width // block.heads) ** 0.5
            scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
            reference.append(torch.softmax(scores, dim=-1).mean(dim=1))
        want = attention_rollout(reference, x["action"])
        plain = network(*inputs)  # the fused kernel again: the graph left the network as it was
    assert all(block.kept_attention is None for block in network.encoder.blocks)
    torch.testing.assert_close(weights, want, atol=1e-6, rtol=0)
    finite = torch.isfinite(plain)
    assert torch.equal(finite, torch.isfinite(logits))
    torch.testing.assert_close(logits[finite], plain[finite], atol=1e-5, rtol=0)


def test_a_failed_parity_check_leaves_no_folder(exported_plain, tmp_path):
    out = tmp_path / "rt"
    with pytest.raises(
        ArtifactError, match=r"the exported graph differs from PyTorch by .* \(tolerance -1\)"
    ):
        export_runtime(exported_plain.model, out, tolerance=-1.0)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_export_refuses_to_overwrite_unless_told(exported_plain):
    with pytest.raises(ArtifactError, match="output folder exists and is not empty"):
        export_runtime(exported_plain.model)


def test_loading_errors_name_the_file_and_the_fix(exported_plain, tmp_path):
    with pytest.raises(
        ArtifactError, match=r"this is a Model folder, not a Runtime folder\n  fix: export it first"
    ):
        Runtime.load(exported_plain.model)
    with pytest.raises(
        ArtifactError, match=r"expected kind 'seqintent\.runtime', found 'seqintent\.dataset'"
    ):
        Runtime.load(exported_plain.dataset.path)
    bare = tmp_path / "m"
    shutil.copytree(exported_plain.model, bare)
    with pytest.raises(ArtifactError, match=r"has no exported runtime .*\n  fix: seqintent export"):
        resolve_runtime(bare)

    broken = shutil.copytree(exported_plain.runtime, tmp_path / "r1")
    (broken / "model.int8.onnx").unlink()
    with pytest.raises(ArtifactError, match="int8 graph is missing"):
        Runtime.load(broken)

    broken = shutil.copytree(exported_plain.runtime, tmp_path / "r2")
    cfg = json.loads((broken / "runtime.json").read_text())
    del cfg["precisions"]["int8"]
    cfg["tokens"]["n_items"] += 1
    (broken / "runtime.json").write_text(json.dumps(cfg))
    with pytest.raises(ArtifactError, match=r"items vocabulary has \d+ entries, runtime.json \d+"):
        Runtime.load(broken)
    cfg["tokens"]["n_items"] -= 1
    (broken / "runtime.json").write_text(json.dumps(cfg))
    with pytest.raises(
        ArtifactError, match=r"the runtime has no int8 graph.*\n.*\n  fix: export with --int8"
    ):
        Runtime.load(broken).graph_path("int8")
    cfg["surprise"] = 1
    (broken / "runtime.json").write_text(json.dumps(cfg))
    with pytest.raises(
        ArtifactError, match="does not describe a runtime: Extra inputs are not permitted at surprise"
    ):
        Runtime.load(broken)


def test_runtime_scorer_ranks_like_the_model_on_the_full_protocol(exported):
    from seqintent.evaluate.ranking import evaluate_ranking
    from seqintent.runtime import RuntimeScorer

    model = NextItemModel.from_pretrained(exported.model)
    results = evaluate_ranking(
        exported.dataset, {"torch": model, "onnx": RuntimeScorer(exported.runtime)}, bootstrap=0
    )
    assert results["onnx"].metrics == pytest.approx(results["torch"].metrics, abs=1e-9)
    assert (results["onnx"].ranks == results["torch"].ranks).all()


def test_int8_goes_to_the_products_over_the_whole_catalogue_only(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    hidden, catalogue = 64, LARGE_WEIGHT // 64  # a table of LARGE_WEIGHT elements
    weights = {
        "ffn": np.zeros((hidden, hidden), np.float32),
        "table": np.zeros((hidden, catalogue), np.float32),
    }
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "ffn"], ["h"], name="ffn"),
            helper.make_node("MatMul", ["h", "table"], ["y"], name="items"),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, hidden])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, catalogue])],
        [numpy_helper.from_array(w, name) for name, w in weights.items()],
    )
    path = tmp_path / "g.onnx"
    onnx.save(helper.make_model(graph), str(path))
    assert large_products(path) == ["items"]
