"""The next-item model's hyper-parameters: one pydantic config, recorded in every Model folder.

A config has two parts: ``model`` (the network and its input features) and ``train`` (the
objective and the optimisation). Unknown keys are errors that name the key and the closest valid
ones. ``NextItemConfig.load(path)`` reads YAML or JSON; ``to_dict()`` gives JSON-able data whose
``model_validate`` is the same config.

Example
-------
>>> cfg = NextItemConfig.model_validate({"model": {"hidden": 32}, "train": {"epochs": 3}})
>>> cfg.model.hidden, cfg.train.epochs, cfg.train.lr
(32, 3, 0.001)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from seqintent.errors import ConfigError, close_names
from seqintent.schema.actions import ACTION_FAMILY, FAMILIES

VALID_METRICS = tuple(f"{m}@{k}" for k in (10, 20) for m in ("NDCG", "HR", "MRR"))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelConfig(_Strict):
    """The Transformer encoder, its input tokens and its next-item head."""

    hidden: int = Field(64, ge=8, description="width of every token and hidden state")
    layers: int = Field(2, ge=1, description="number of Transformer blocks")
    heads: int = Field(2, ge=1, description="attention heads per block (hidden must divide by it)")
    ffn_mult: int = Field(4, ge=1, description="feed-forward width as a multiple of hidden")
    dropout: float = Field(
        0.2, ge=0, lt=1, description="dropout on embeddings, attention output and feed-forward"
    )
    attn_dropout: float = Field(0.0, ge=0, lt=1, description="dropout on attention weights")
    max_len: int = Field(50, ge=2, description="events of history the model reads (the most recent ones)")
    time_features: bool = Field(
        True,
        description="embed time gaps, time to the request, hour and weekday (only where the log has time)",
    )
    action_features: bool = Field(
        True, description="embed the action and its family (only if there are several)"
    )
    category_features: bool = Field(
        True, description="embed the item's category (only where the log has some)"
    )
    dwell_features: bool = Field(True, description="embed dwell-time buckets (only where the log has dwell)")
    item_attributes: list[str] = Field(
        default_factory=list,
        description="columns of the Dataset's item table (brand, categories: one value or a list per item) "
        "whose embeddings join the item's own, in the history and in the scored catalogue alike, so items "
        "seen rarely share what their attributes learn ([]: none)",
    )
    item_attribute_slots: int = Field(
        8, ge=1, description="item_attributes: values kept per item (the first ones in table order)"
    )
    time_bias: bool = Field(False, description="learned relative-time bias between positions in attention")
    repeat_head: bool = Field(
        False, description="add a learned score for items already in the history (copy / repeat mechanism)"
    )
    item_scores: Literal["dot", "cosine"] = Field(
        "dot",
        description="next-item logits: dot: h · E[item]; cosine: cosine_scale · cos(h, E[item]) "
        "(normalised hidden state and item rows, as NISER: less pull towards popular items)",
    )
    cosine_scale: float = Field(
        16.0, gt=0, description="item_scores cosine: the logits' scale (an inverse temperature)"
    )
    readout: Literal["hidden", "items"] = Field(
        "hidden",
        description="what the encoder returns at each column: hidden: the Transformer's state; items: an "
        "attention-weighted mix of the item vectors read so far, the weights from that state (CORE, Hou "
        "et al., SIGIR 2022: the state then lies in the items' own space, which suits short sessions)",
    )
    transition_prior: int = Field(
        32,
        ge=0,
        description="keep each item's N most frequent next items in the training data (a first-order "
        "Markov chain) and add their log-probability to the scores, weighted on validation after "
        "training (0: off)",
    )
    neighbour_prior: int = Field(
        0,
        ge=0,
        description="keep each item's N most similar items (cosine of co-occurrence in the training "
        "histories, as the item-kNN baseline) and add the similarity votes of the history's newest "
        "items to the scores, weighted on validation after training (0: off)",
    )
    neighbour_history: int = Field(
        50, ge=1, description="neighbour_prior: the newest events of a history whose items vote"
    )
    truncation: Literal["last", "importance"] = Field(
        "last",
        description="long histories: keep the last max_len events, or the last plus important older ones",
    )
    important_families: list[str] = Field(
        default_factory=lambda: ["convert", "engage", "search"],
        description="action families kept by importance truncation",
    )
    important_slots: int = Field(
        10, ge=0, description="importance truncation: slots reserved for older important events"
    )

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be a multiple of heads ({self.heads})")
        unknown = [f for f in self.important_families if f not in FAMILIES]
        if unknown:
            raise ValueError(
                f"important_families: unknown families {unknown}; expected some of {list(FAMILIES)}"
            )
        if self.truncation == "importance" and self.important_slots >= self.max_len:
            raise ValueError(
                f"important_slots ({self.important_slots}) must be below max_len ({self.max_len})"
            )
        return self


class TrainConfig(_Strict):
    """Objective, optimiser, schedule and early stopping."""

    epochs: int = Field(200, ge=1, description="upper bound on epochs; early stopping usually ends sooner")
    batch_size: int = Field(128, ge=1, description="training windows per step")
    lr: float = Field(1e-3, gt=0, description="AdamW peak learning rate")
    weight_decay: float = Field(
        0.0, ge=0, description="AdamW weight decay (not applied to embeddings or norms)"
    )
    warmup_steps: int = Field(100, ge=0, description="linear learning-rate warm-up steps")
    lr_schedule: Literal["constant", "cosine"] = Field(
        "constant",
        description="after warm-up: keep the peak lr, or cosine-decay it to min_lr_ratio x lr at the "
        "last step of `epochs` (stepped per optimiser step)",
    )
    min_lr_ratio: float = Field(
        0.05, ge=0, le=1, description="cosine: the final learning rate as a share of the peak lr"
    )
    grad_clip: float | None = Field(1.0, gt=0, description="clip the gradient norm to this (null: off)")
    loss: Literal["softmax", "sampled_softmax"] = Field(
        "softmax", description="full-catalogue softmax cross-entropy, or sampled softmax with logQ correction"
    )
    negatives: int = Field(2048, ge=1, description="sampled_softmax: shared negatives per step")
    target_actions: list[str] | None = Field(
        None,
        description="only events with these canonical actions are targets (null: every event with an item)",
    )
    window_stride: int | None = Field(
        None,
        ge=1,
        description="long sequences are cut into windows this many events apart, each training its newest "
        "`stride` targets (null: max_len, no overlap); smaller gives early targets more context",
    )
    patience: int = Field(
        10, ge=1, description="stop after this many epochs without a better validation NDCG@10"
    )
    valid_metric: str = Field("NDCG@10", description="the validation metric early stopping watches")
    prior_metric: str | None = Field(
        None,
        description="the validation metric that weighs the transition and neighbour priors after "
        "training (null: valid_metric)",
    )
    select_with_priors: bool = Field(
        False,
        description="fit the transition and neighbour priors (those the model has) to the network at "
        "every validation, weighed as at the end of training, so early stopping and the best epoch "
        "follow the model training delivers rather than the network alone; each validation then scores "
        "the validation targets four times instead of once. Next-item training only",
    )
    valid_fraction: float = Field(
        0.1,
        gt=0,
        lt=1,
        description="without a valid split: hold out the last event of this share of sequences",
    )
    valid_holdout: Literal["last_event", "newest_sequences"] = Field(
        "last_event",
        description="without a valid split: hold out the last training event of a seeded valid_fraction "
        "of sequences (last_event), or the newest valid_fraction of sequences whole, every position a "
        "target and none trained on (newest_sequences: the protocol of session benchmarks, whose test "
        "sessions come after the training ones; newest by last event time, else by input position). "
        "Next-item training only: intent training validates on its own held-out users",
    )
    refit: bool = Field(
        False,
        description="after validation has chosen the number of epochs and the priors' weights, train "
        "afresh (same seed, same schedule) on every training event for that many epochs, validation's "
        "included (the events held out of the training split, or the Dataset's valid split: each "
        "user's second-to-last event under leave-one-out), and count the priors on them at the chosen "
        "weights. Nothing is left to validate the refitted model on. Next-item training only",
    )
    valid_max_examples: int | None = Field(
        20000, ge=1, description="cap on validation examples per epoch (a seeded subset; null: all)"
    )
    eval_every: int = Field(1, ge=1, description="validate every N epochs")
    seed: int = Field(0, description="seeds weights, shuffling and dropout: same seed, same model")
    threads: int = Field(2, ge=1, description="torch threads")
    max_minutes: float | None = Field(None, gt=0, description="stop (keeping the best epoch) after this long")

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        for key in ("valid_metric", "prior_metric"):
            value = getattr(self, key)
            if value is not None and value not in VALID_METRICS:
                raise ValueError(f"{key} must be one of {', '.join(VALID_METRICS)} (got {value!r})")
        for action in self.target_actions or []:
            if action not in ACTION_FAMILY:
                near = ", ".join(close_names(action, ACTION_FAMILY))
                raise ValueError(f"target_actions: {action!r} is not a canonical action (closest: {near})")
        return self

    @property
    def prior_weighing_metric(self) -> str:
        """The validation metric that weighs the priors: ``prior_metric``, else ``valid_metric``."""
        return self.prior_metric or self.valid_metric


class NextItemConfig(_Strict):
    """Everything that decides a trained next-item model (recorded as ``config.json``)."""

    model: ModelConfig = Field(default_factory=ModelConfig, description="network and input features")
    train: TrainConfig = Field(default_factory=TrainConfig, description="objective and optimisation")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def load(cls, source: str | Path | dict[str, Any]) -> NextItemConfig:
        """Read a config from a YAML / JSON file or a dict.

        Raises
        ------
        ConfigError
            If the file is missing or unreadable, or a key is unknown or has a bad value.
        """
        file = None
        if isinstance(source, dict):
            data = source
        else:
            path = Path(source)
            file = str(path)
            if not path.is_file():
                raise ConfigError(
                    "model config file not found", file=file, fix="give a YAML file with model: / train:"
                )
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as exc:
                raise ConfigError(f"not valid YAML: {exc}", file=file) from None
            if not isinstance(data, dict):
                raise ConfigError("a model config must be a mapping with model: / train:", file=file)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise _config_error(exc, file) from None

    @classmethod
    def from_saved(cls, data: dict[str, Any]) -> NextItemConfig:
        """A config as a Model folder or a checkpoint recorded it, read by this version.

        Keys added since take their defaults, which reproduce what older versions did, except
        ``model.transition_prior``: older versions had no prior, so an absent key means none.

        Raises
        ------
        pydantic.ValidationError
            If ``data`` is not a next-item config.
        """
        model = data.get("model", {})
        if isinstance(model, dict) and "transition_prior" not in model:
            data = {**data, "model": {**model, "transition_prior": 0}}
        return cls.model_validate(data)

    def differences(self, other: NextItemConfig) -> list[str]:
        """``section.key: this value, other value`` for every setting where the two differ."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [
            f"{section}.{key}: {value!r} vs {theirs[section].get(key)!r}"
            for section in mine
            for key, value in mine[section].items()
            if theirs[section].get(key) != value
        ]


def _config_error(exc: ValidationError, file: str | None) -> ConfigError:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        owner: type[BaseModel] = NextItemConfig
        for part in err["loc"][:-1]:
            owner = {"model": ModelConfig, "train": TrainConfig}.get(str(part), owner)
        return ConfigError(
            "unknown key", file=file, key=key, candidates=close_names(str(err["loc"][-1]), owner.model_fields)
        )
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return ConfigError(err["msg"].removeprefix("Value error, ") + more, file=file, key=key or None)
