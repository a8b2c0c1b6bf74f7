"""What the intent heads predict and how they are trained: labels, cut protocol, heads, calibration.

A *label* is a question asked at a *cut* of a user's history (right after one of their events),
answered by what the log shows after it. Kinds:

=============== ============================================================================ =========
kind            positive when, after the cut …                                               type
=============== ============================================================================ =========
next_action     (class) the canonical action of the next event                              classes
next_family     (class) the action family of the next event                                 classes
within          an event with one of ``actions`` / ``families`` happens within ``horizon``    binary
repurchase      an item bought at or before the cut is bought again within ``horizon``        binary
churn           no event at all within ``horizon``                                           binary
next_outcome    the next ``anchor`` event (an exposure) gets one of ``actions`` (a like …)    binary
=============== ============================================================================ =========

A horizon is ``"session"`` (until the cut's session ends), or a duration: ``"30m"``, ``"24h"``,
``"3d"``, ``"90s"`` or a number of seconds. It counts from the time of the newest event of the
history. Labels whose window the log does not cover are left out, never guessed.

>>> LabelSpec(name="purchase_24h", kind="within", families=["convert"], horizon="24h").horizon_s
86400.0
>>> parse_horizon("3d"), parse_horizon("session"), parse_horizon(90)
(259200.0, None, 90.0)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from seqintent.errors import ConfigError, close_names
from seqintent.schema.actions import ACTION_FAMILY, FAMILIES

LABEL_KINDS = ("next_action", "next_family", "within", "repurchase", "churn", "next_outcome")
CLASS_KINDS = ("next_action", "next_family")
SESSION = "session"
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_horizon(value: str | float | int | None) -> float | None:
    """Seconds of a horizon (``None`` for ``"session"`` or no horizon).

    Raises
    ------
    ConfigError
        If the text is neither ``"session"`` nor a number with one of the units s, m, h, d, w.
    """
    if value is None or value == SESSION:
        return None
    if isinstance(value, (int, float)):
        if value <= 0:
            raise ConfigError("a horizon must be positive", value=value)
        return float(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", str(value))
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(
            "not a horizon",
            value=value,
            fix="write 'session' or a positive duration such as '30m', '24h', '3d' or a number of seconds",
        )
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LabelSpec(_Strict):
    """One label: its name, kind, the actions it watches and its horizon (see the module docstring)."""

    name: str = Field(description="name in predictions and reports, e.g. purchase_24h")
    kind: Literal["next_action", "next_family", "within", "repurchase", "churn", "next_outcome"] = Field(
        description="what the label asks (see the table in the module docstring)"
    )
    actions: list[str] | None = Field(
        None, description="canonical actions watched (within, next_outcome; repurchase: the buy actions)"
    )
    families: list[str] | None = Field(None, description="action families watched (within), besides actions")
    horizon: str | float | None = Field(
        None, description="'session', '24h', '3d', seconds … (within, repurchase, churn)"
    )
    anchor: list[str] | None = Field(None, description="next_outcome: the actions that open an exposure")

    @model_validator(mode="after")
    def _check(self) -> LabelSpec:
        for action in [*(self.actions or []), *(self.anchor or [])]:
            if action not in ACTION_FAMILY:
                near = ", ".join(close_names(action, ACTION_FAMILY))
                raise ValueError(
                    f"label {self.name!r}: {action!r} is not a canonical action (closest: {near})"
                )
        for family in self.families or []:
            if family not in FAMILIES:
                raise ValueError(
                    f"label {self.name!r}: unknown family {family!r}; expected one of {list(FAMILIES)}"
                )
        parse_horizon(self.horizon)
        if self.kind in ("within", "repurchase", "churn") and self.horizon is None:
            raise ValueError(
                f"label {self.name!r} of kind {self.kind!r} needs a horizon ('session', '24h', …)"
            )
        if self.kind == "churn" and self.horizon == SESSION:
            raise ValueError(f"label {self.name!r}: churn needs a duration, not 'session'")
        if self.kind == "within" and not (self.actions or self.families):
            raise ValueError(f"label {self.name!r}: 'within' needs actions or families to watch")
        if self.kind == "next_outcome" and not (self.actions and self.anchor):
            raise ValueError(f"label {self.name!r}: 'next_outcome' needs anchor (e.g. [expose]) and actions")
        return self

    @property
    def is_class(self) -> bool:
        """Whether the label is a class (next action / family) rather than a yes / no."""
        return self.kind in CLASS_KINDS

    @property
    def horizon_s(self) -> float | None:
        """The horizon in seconds (None for 'session' or none)."""
        return parse_horizon(self.horizon)

    @property
    def watched_actions(self) -> set[str]:
        """Canonical actions that make a ``within`` / ``repurchase`` label positive."""
        if self.kind == "repurchase":
            return set(self.actions or ["buy"])
        out = set(self.actions or [])
        for family in self.families or []:
            out |= set(FAMILIES[family])
        return out


class ProtocolConfig(_Strict):
    """Which cuts train, validate and test the heads (see :mod:`seqintent.train.labels`)."""

    test_window: str | float | None = Field(
        None,
        description="time protocol: span of test cut times before the longest horizon "
        "(null: max(1 day, 10% of the log's span))",
    )
    test_start: str | float | None = Field(
        None, description="time protocol: first instant of test cuts (epoch seconds; null: from test_window)"
    )
    valid_users: float = Field(
        0.15, gt=0, lt=1, description="share of users whose pre-test cuts validate instead of training"
    )
    seed: int = Field(0, description="seeds the choice of validation users")


class IntentTrainConfig(_Strict):
    """Optimisation of the heads (and of the encoder, when it is fine-tuned or trained jointly)."""

    mode: Literal["finetune", "joint", "heads"] = Field(
        "finetune",
        description="finetune: start from the next-item encoder and train all; heads: freeze the encoder; "
        "joint: train encoder and heads from scratch on next item and intents together",
    )
    epochs: int = Field(30, ge=1, description="upper bound on epochs (of each phase)")
    pretrain_epochs: int | None = Field(
        None,
        ge=1,
        description="upper bound on next-item pre-training epochs, when this loop pre-trains (null: epochs)",
    )
    batch_size: int = Field(64, ge=1, description="windows per step")
    window_stride: int | None = Field(
        None,
        ge=1,
        description="the loop's training windows (pre-training and fine-tuning) are cut this many events "
        "apart, each training its newest `stride` targets with the rest as context (null: half the "
        "window; larger: fewer windows per epoch, less context for a window's oldest targets)",
    )
    lr: float = Field(1e-3, gt=0, description="AdamW learning rate of the heads")
    encoder_lr: float = Field(3e-4, gt=0, description="learning rate of the encoder when fine-tuned")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay of linear layers")
    next_item_weight: float = Field(
        0.5, ge=0, description="weight of the next-item loss beside the intent losses (keeps next items good)"
    )
    patience: int = Field(
        4, ge=1, description="stop after this many epochs without a better validation score"
    )
    max_minutes: float | None = Field(None, gt=0, description="stop (keeping the best epoch) after this long")
    min_examples: int = Field(
        20, ge=1, description="a yes/no label trains only with this many positives and negatives"
    )
    positive_weight: Literal["none", "sqrt"] = Field(
        "sqrt",
        description="weight of a yes/no label's positives in its loss: sqrt: sqrt(negatives / positives) "
        "of the training cuts (at least 1, at most 30), so a rare label (churn at 0.5 %) is not drowned "
        "by the next-item loss; none: 1. Calibration on validation cuts restores the probabilities",
    )
    seed: int = Field(0, description="seeds heads, shuffling and dropout")
    threads: int = Field(2, ge=1, description="torch threads")


class InterestConfig(_Strict):
    """Interest shares and exclusions computed from a history (see :mod:`seqintent.explain.interests`)."""

    half_life: str | float = Field(
        "7d", description="recency weight halves over this time (or events without time)"
    )
    half_life_events: int = Field(50, ge=1, description="without time: weight halves every this many events")
    skip_dwell_s: float = Field(3.0, gt=0, description="a play / view shorter than this is a fast skip")
    min_skips: int = Field(
        3, ge=1, description="a category needs this many fast skips or dislikes to be excluded"
    )
    skip_share: float = Field(
        0.6, gt=0, le=1, description="… and this share of its exposures skipped fast or disliked"
    )
    top: int = Field(5, ge=1, description="interests listed")


class ColdStartConfig(_Strict):
    """When a history is too short to trust, and how the answer blends in segment popularity."""

    max_events: int = Field(5, ge=0, description="histories of at most this many events are cold")
    segment_by: list[str] | None = Field(
        None, description="user-table attributes that define segments (null: chosen on validation)"
    )
    max_segments: int = Field(
        50, ge=1, description="an attribute with more values is not a candidate segment"
    )


class IntentConfig(_Strict):
    """Everything that decides the intent heads (recorded in the Model folder's ``intents.json``).

    Example
    -------
    >>> churn = {"name": "churn_2d", "kind": "churn", "horizon": "2d"}
    >>> cfg = IntentConfig.model_validate({"labels": [churn]})
    >>> [label.name for label in cfg.labels], cfg.train.mode
    (['churn_2d'], 'finetune')
    """

    labels: list[LabelSpec] | None = Field(
        None, description="labels to learn (null: the defaults the log supports)"
    )
    head_hidden: int = Field(64, ge=4, description="width of the heads' hidden layer")
    recent_events: int = Field(
        10,
        ge=0,
        description="the heads also read the raw codes of this many newest events and the history's "
        "action mix (a wide path beside the encoder; 0: the encoder state alone)",
    )
    summary_events: int = Field(
        500,
        ge=0,
        description="the heads also read counts and shares over this many newest events of the history "
        "(beyond the encoder's window; keep the online store at least this long; 0: no summary)",
    )
    protocol: ProtocolConfig = Field(default_factory=ProtocolConfig, description="cuts and splits")
    train: IntentTrainConfig = Field(default_factory=IntentTrainConfig, description="optimisation")
    calibration: Literal["auto", "temperature", "isotonic", "none"] = Field(
        "auto", description="calibrate probabilities on validation (auto: the lower validation log-loss)"
    )
    interests: InterestConfig = Field(default_factory=InterestConfig, description="interests and exclusions")
    cold_start: ColdStartConfig = Field(default_factory=ColdStartConfig, description="cold-start blend")

    @model_validator(mode="after")
    def _check(self) -> IntentConfig:
        names = [label.name for label in self.labels or []]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"label names must be unique; repeated: {dupes}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def load(cls, data: dict[str, Any] | None, *, file: str | None = None) -> IntentConfig:
        """Validate the ``intents:`` section of a training config.

        Raises
        ------
        ConfigError
            Naming the key (``intents.labels.0.horizon``) and, for an unknown key, the valid ones.
        """
        try:
            return cls.model_validate(data or {})
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(["intents", *(str(p) for p in err["loc"])])
            if err["type"] == "extra_forbidden":
                owner = _owner_of(err["loc"][:-1])
                raise ConfigError(
                    "unknown key",
                    file=file,
                    key=key,
                    candidates=close_names(str(err["loc"][-1]), owner.model_fields),
                ) from None
            raise ConfigError(err["msg"].removeprefix("Value error, "), file=file, key=key) from None


def _owner_of(loc: tuple[Any, ...]) -> type[BaseModel]:
    owner: type[BaseModel] = IntentConfig
    sections = {
        "protocol": ProtocolConfig,
        "train": IntentTrainConfig,
        "interests": InterestConfig,
        "cold_start": ColdStartConfig,
        "labels": LabelSpec,
    }
    for part in loc:
        owner = sections.get(str(part), owner)
    return owner


def read_training_config(path: str | Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A training config file split into its next-item part (``model:`` / ``train:``) and ``intents:``.

    Raises
    ------
    ConfigError
        If the file is missing, not YAML, or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            "training config file not found",
            file=str(path),
            fix="give a YAML file with model: / train: / intents:",
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError(
            "a training config must be a mapping with model: / train: / intents:", file=str(path)
        )
    intents = data.pop("intents", None)
    if intents is not None and not isinstance(intents, dict):
        raise ConfigError("intents: must be a mapping", file=str(path), key="intents")
    return data, intents
