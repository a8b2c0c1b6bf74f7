"""Settings of the anomaly stage: what a profile keeps, how signals weigh, where levels start.

Every field is typed, defaulted and described in one line; unknown keys are errors. The whole
:class:`AnomalyConfig` is saved in the anomaly model folder (``config.json``) and round-trips.

>>> cfg = AnomalyConfig.model_validate({"risk": {"levels": {"high": 70}}})
>>> cfg.risk.levels.high, cfg.risk.level_of(72), cfg.risk.action_of("high")
(70.0, 'high', 'hold_for_review')
>>> AnomalyConfig.model_validate(cfg.model_dump(mode="json")) == cfg
True
"""

from __future__ import annotations

import zoneinfo
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from seqintent.errors import ConfigError, close_names
from seqintent.schema.actions import ACTION_FAMILY, CANONICAL_ACTIONS

LEVELS = ("low", "medium", "high", "critical")
RECOMMENDED_ACTIONS = ("allow", "step_up", "hold_for_review")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _canonical(actions: list[str]) -> list[str]:
    for action in actions:
        if action not in ACTION_FAMILY:
            near = ", ".join(close_names(action, CANONICAL_ACTIONS))
            raise ValueError(f"{action!r} is not a canonical action (closest: {near})")
    return actions


class ProfileConfig(_Strict):
    """What a per-user habit profile records."""

    timezone: str = Field(
        "UTC", description="zone of local time for hour-of-day habits (a Dataset's own wins)"
    )
    location_field: str | None = Field("location", description="column or attrs key holding the location")
    payee_actions: list[str] = Field(
        default_factory=lambda: ["transfer", "pay", "add_payee"],
        description="actions whose item_id is a payee",
    )
    amount_actions: list[str] = Field(
        default_factory=lambda: ["transfer", "pay", "withdraw", "buy"],
        description="actions whose amounts form the user's amount distribution",
    )
    amount_window: int = Field(
        500, ge=1, description="recent amounts kept per user for median / MAD / quantiles"
    )
    max_values: int = Field(
        200, ge=1, description="distinct devices / payees / locations kept per user (LRU)"
    )
    min_history: int = Field(
        10, ge=1, description="events a user needs before 'new' and 'unusual' signals count"
    )
    min_amounts: int = Field(5, ge=1, description="amounts a user needs before amount signals count")
    hour_bandwidth_h: float = Field(1.0, gt=0, description="smoothing of the hour-of-day histogram (hours)")
    session_gap_s: float = Field(
        1800.0, gt=0, description="idle gap that starts a session when the log has none"
    )

    @field_validator("payee_actions", "amount_actions")
    @classmethod
    def _actions(cls, value: list[str]) -> list[str]:
        return _canonical(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'UTC'") from None
        return value


class SignalWeights(_Strict):
    """Largest contribution (0–1) of each signal to the combined risk (noisy-OR, see ``risk``)."""

    new_device: float = Field(0.35, ge=0, le=1, description="event from a device the user never used")
    new_payee: float = Field(0.30, ge=0, le=1, description="payment to a payee the user never paid")
    new_location: float = Field(0.30, ge=0, le=1, description="event from a location the user never was")
    unusual_hour: float = Field(0.25, ge=0, le=1, description="event at an hour the user is rarely active")
    large_amount: float = Field(0.50, ge=0, le=1, description="amount far above the user's usual amounts")
    surprise: float = Field(0.60, ge=0, le=1, description="event order the sequence model finds improbable")


class LevelThresholds(_Strict):
    """Score (0–100) at which each level starts; below ``medium`` is ``low``."""

    medium: float = Field(30.0, ge=0, le=100, description="first score of level medium")
    high: float = Field(60.0, ge=0, le=100, description="first score of level high")
    critical: float = Field(85.0, ge=0, le=100, description="first score of level critical")

    @model_validator(mode="after")
    def _ordered(self) -> LevelThresholds:
        if not self.medium <= self.high <= self.critical:
            raise ValueError(
                f"need medium <= high <= critical (got {self.medium}, {self.high}, {self.critical})"
            )
        return self


class LevelActions(_Strict):
    """Recommended action per level: allow, step_up (step-up verification) or hold_for_review."""

    low: Literal["allow", "step_up", "hold_for_review"] = Field("allow", description="action at level low")
    medium: Literal["allow", "step_up", "hold_for_review"] = Field(
        "step_up", description="action at level medium"
    )
    high: Literal["allow", "step_up", "hold_for_review"] = Field(
        "hold_for_review", description="at level high"
    )
    critical: Literal["allow", "step_up", "hold_for_review"] = Field(
        "hold_for_review", description="at critical"
    )


class RiskConfig(_Strict):
    """How per-event signals become a 0–100 score, a level and an action."""

    weights: SignalWeights = Field(default_factory=SignalWeights, description="signal weights")
    unusual_hour_prob: float = Field(
        0.01, ge=0, le=1, description="an hour is unusual when the user's smoothed share of it is below this"
    )
    amount_ratio_low: float = Field(
        3.0, gt=1, description="amount / user median where the amount signal starts"
    )
    amount_ratio_high: float = Field(
        30.0, gt=1, description="amount / user median where it reaches its weight"
    )
    levels: LevelThresholds = Field(default_factory=LevelThresholds, description="level thresholds")
    actions: LevelActions = Field(default_factory=LevelActions, description="recommended action per level")
    severity_risk: dict[str, float] = Field(
        default_factory=lambda: {"low": 25.0, "medium": 50.0, "high": 80.0, "critical": 95.0},
        description="risk (0–100) a rule of each severity adds when it matches",
    )
    max_reasons: int = Field(8, ge=1, description="reasons kept per result, strongest first")

    @model_validator(mode="after")
    def _check(self) -> RiskConfig:
        if self.amount_ratio_high <= self.amount_ratio_low:
            raise ValueError("amount_ratio_high must be above amount_ratio_low")
        if set(self.severity_risk) != set(LEVELS):
            raise ValueError(f"severity_risk needs exactly the keys {list(LEVELS)}")
        return self

    def level_of(self, score: float) -> str:
        """The level of a 0–100 score."""
        if score >= self.levels.critical:
            return "critical"
        if score >= self.levels.high:
            return "high"
        if score >= self.levels.medium:
            return "medium"
        return "low"

    def action_of(self, level: str) -> str:
        """The recommended action for a level."""
        return getattr(self.actions, level)


class AnomalyConfig(_Strict):
    """Everything an :class:`~seqintent.anomaly.AnomalyDetector` needs besides its rules."""

    profile: ProfileConfig = Field(default_factory=ProfileConfig, description="habit profile settings")
    risk: RiskConfig = Field(default_factory=RiskConfig, description="risk combination settings")
    unit: Literal["session", "user"] = Field("session", description="one risk result per session or per user")

    @classmethod
    def from_dict(cls, data: dict, *, file: str | None = None) -> AnomalyConfig:
        """Validate a dict, turning pydantic's error into a :class:`ConfigError` naming the key."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise _error_from(exc, file) from None


def _error_from(exc: ValidationError, file: str | None) -> ConfigError:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc) or None
    if err["type"] != "extra_forbidden":
        return ConfigError(err["msg"].removeprefix("Value error, "), file=file, key=key)
    model: type[BaseModel] | None = AnomalyConfig
    for part in loc[:-1]:
        field = model.model_fields.get(part) if model is not None else None
        annotation = field.annotation if field is not None else None
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    valid = list(model.model_fields) if model is not None else []
    return ConfigError("unknown key", file=file, key=key, candidates=close_names(loc[-1], valid) or None)
