"""``seqintent evaluate``: a trained model beside the baselines, as one JSON-able report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seqintent.data import Dataset
from seqintent.errors import ConfigError
from seqintent.evaluate.intents import DEFAULT_INTENT_BASELINES, evaluate_cold_start, evaluate_intents
from seqintent.evaluate.ranking import evaluate_ranking, protocol_of, session_metrics
from seqintent.models.base import Scorer
from seqintent.models.baselines import make_baseline
from seqintent.models.model import NextItemModel
from seqintent.models.ranking import DEFAULT_KS

DEFAULT_BASELINES = ("pop", "itemknn", "markov", "recent")
MODEL_KEY = "model"


def evaluate_model(
    model: NextItemModel | str | Path,
    dataset: Dataset | str | Path,
    *,
    split: str = "test",
    baselines: Sequence[str] = DEFAULT_BASELINES,
    ks: tuple[int, ...] = DEFAULT_KS,
    exclude_seen: bool = False,
    target_actions: list[str] | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    intents: bool = True,
    intent_baselines: Sequence[str] = DEFAULT_INTENT_BASELINES,
    tune_baselines: bool = True,
    baselines_learn_from: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Evaluate a Model folder (or loaded model) and the named baselines on a Dataset split.

    Baselines are fitted on the events the model learned from (``baselines_learn_from``, by default
    the Dataset's ``train`` events, and its ``valid`` events too when the test split ranks a model
    refitted on them: ``train.refit``), then every scorer is ranked by the same code
    (:func:`~seqintent.evaluate.ranking.evaluate_ranking`).

    Returns
    -------
    dict
        ``{"dataset", "split", "protocol", "examples", "model": {"HR@10": …, "NDCG@10": …, …},
        "baselines": {"pop": {…}, …}, "baselines_learned_from": ["train", …],
        "ci95": {"model": {"HR@10": [lo, hi], …}, "baselines": {…}},
        "train_seconds_per_epoch", "seconds_to_best", "best_epoch"}``; session datasets (``given``
        splits) add ``"P@20"`` and ``"MRR@20"`` in percent under ``"session_metrics"``. A model
        with intent heads adds ``"intents": {"<label>": {"model": {"AUC", "PR_AUC", "ECE", …},
        "lightgbm": {…}, "logreg": {…}}}`` and ``"cold_start"`` (see
        :mod:`seqintent.evaluate.intents`), unless ``intents`` is False; ``tune_baselines`` False
        fits the intent baselines once with default settings instead of a validation grid (faster).

    Raises
    ------
    ArtifactError
        If the model folder is bad or was trained on another Dataset's items.
    ConfigError
        If a baseline name is unknown, or ``split`` is one the model was refitted on.
    """
    if not isinstance(model, NextItemModel):
        model = NextItemModel.from_pretrained(model)
    if not isinstance(dataset, Dataset):
        dataset = Dataset.load(dataset)
    model.check_dataset(dataset)
    scorers: dict[str, Scorer] = {MODEL_KEY: model}
    model_learned_from = learned_from(model, split)
    if baselines_learn_from is None:
        baselines_learn_from = model_learned_from
    for name in baselines:
        scorers[name] = make_baseline(name, learn_from=baselines_learn_from).fit(dataset)
    results = evaluate_ranking(
        dataset,
        scorers,
        split=split,
        ks=ks,
        exclude_seen=exclude_seen,
        target_actions=target_actions,
        bootstrap=bootstrap,
        seed=seed,
    )
    mine = results.pop(MODEL_KEY)
    report: dict[str, Any] = {
        "dataset": dataset.name,
        "split": split,
        "protocol": protocol_of(dataset),
        "examples": len(mine.ranks) if mine.ranks is not None else 0,
        "exclude_seen": exclude_seen,
        MODEL_KEY: mine.metrics,
        "baselines": {name: r.metrics for name, r in results.items()},
        "baselines_learned_from": list(baselines_learn_from),
        "ci95": {MODEL_KEY: mine.intervals, "baselines": {name: r.intervals for name, r in results.items()}},
        "train_seconds_per_epoch": model.metrics.get("train_seconds_per_epoch"),
        "seconds_to_best": model.metrics.get("seconds_to_best"),
        "best_epoch": model.metrics.get("best_epoch"),
    }
    if intents and model.intents is not None:
        report["intents"] = evaluate_intents(
            model, dataset, split=split, baselines=intent_baselines, seed=seed, tune_baselines=tune_baselines
        )
        report["cold_start"] = evaluate_cold_start(model, dataset, split=split, seed=seed)
    if report["protocol"] == "all_prefix":
        report["session_metrics"] = {
            MODEL_KEY: session_metrics(mine.metrics),
            "baselines": {name: session_metrics(r.metrics) for name, r in results.items()},
        }
    return report


def learned_from(model: NextItemModel, split: str) -> list[str]:
    """The splits whose events ``model`` learned from: ``train``, and ``valid`` after a refit on a
    Dataset with a valid split of its own.

    Raises
    ------
    ConfigError
        If ``split`` is one of them (a refit trained on the valid split's targets).
    """
    trained_on = model.metrics.get("refit", {}).get("trained_on", ["train"])
    if split in trained_on:
        raise ConfigError(
            f"the model was refitted on the {split} split's events, so its figures there measure what "
            "it memorised, not what it predicts",
            key="split",
            value=split,
            fix="evaluate on the test split, or train without train.refit to compare on validation",
        )
    return list(trained_on)
