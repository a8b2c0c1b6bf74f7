"""The predict result: what the engine answers for one history (also the HTTP response body).

Every score states its direction and range. Fields a Runtime cannot answer yet (a model exported
without intent heads has no ``next_action`` or ``intents``) are empty, never guessed; ``heads``
in the engine's description says which it has.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Source = Literal["model", "cache", "popularity"]


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemScore(_Result):
    """One recommended item."""

    item_id: str = Field(description="the item's id as the log names it")
    score: float = Field(description="probability that it is the next item, 0-1 (higher is likelier)")
    rank: int = Field(description="1-based rank")


class ExplainedEvent(_Result):
    """An event of the history and how much it drove the answer."""

    event_id: str | None = Field(None, description="the event's id (when the history came with ids)")
    ts: int | None = Field(None, description="UTC epoch milliseconds")
    action: str = Field(description="canonical action")
    item_id: str | None = Field(None, description="the event's item")
    category: str | None = Field(None, description="the item's category")
    weight: float = Field(description="share of the answer this event drove, 0-1; all events sum to 1")


class Explanation(_Result):
    """The events that drove the answer, heaviest first, and a rationale in words."""

    method: str = Field(description="how weights were computed (attention_rollout: Abnar & Zuidema 2020)")
    events: list[ExplainedEvent] = Field(description="the heaviest events, by weight")
    other_weight: float = Field(description="weight of the events not listed, 0-1")
    rationale: str = Field(description="one sentence on what drove the answer")


class Risk(_Result):
    """How unusual the user's newest session is under the anomaly model exported with the Runtime."""

    score: float = Field(description="0-100, higher is riskier")
    level: str = Field(description="low, medium, high or critical")
    action: str = Field(description="recommended: allow, step_up or hold_for_review")
    reasons: list[str] = Field(description="what made it unusual, strongest first")
    session_events: int = Field(description="events of the session scored")


class HistoryInfo(_Result):
    """What the engine made of the history."""

    events: int = Field(description="events in the history")
    read: int = Field(description="events the model read (the newest, up to its max length)")
    ignored: int = Field(description="events with an action the model never saw (left out)")
    known_items: int = Field(description="events the model read whose item it knows")


class PredictResult(_Result):
    """The answer for one user or history."""

    user_id: str | None = Field(None, description="the user, when the history is a stored one")
    next_items: list[ItemScore] = Field(description="top-K next items, likeliest first")
    next_action: dict[str, float] = Field(
        default_factory=dict,
        description="probability of each next action, sums to 1 (empty without the head)",
    )
    next_family: dict[str, float] = Field(
        default_factory=dict,
        description="probability of each next action family (browse, engage, convert …), sums to 1 "
        "(empty without the head)",
    )
    intents: dict[str, float] = Field(
        default_factory=dict,
        description="probability of each intent within its horizon (empty without heads)",
    )
    interests: list[dict[str, float | str]] = Field(
        default_factory=list,
        description="categories (or items) and their share of recent engagement, largest first "
        "(empty without heads)",
    )
    exclusions: list[str] = Field(
        default_factory=list,
        description="categories (items, for a log without categories) the user repeatedly skips fast or "
        "dislikes; their items are left out of next_items (empty without heads)",
    )
    risk: Risk | None = Field(None, description="risk of the newest session (None: no anomaly model)")
    explanation: Explanation | None = Field(None, description="why (None when not asked or from popularity)")
    cold_start: bool = Field(description="the history had nothing the model can infer from")
    source: Source = Field(description="model: inferred now; cache: an earlier answer; popularity: fallback")
    history: HistoryInfo
