"""A short rationale in words for each answer, from its probability and its top-weighted events.

>>> ev = [{"action": "cart", "item": "42", "ago_s": 7200.0, "weight": 0.41}]
>>> intent_sentence("purchase_24h", 0.62, "24h", ev)
'62% likely: purchase within 24h, mostly because of cart of item 42 (2 h ago, 41%).'
"""

from __future__ import annotations

from typing import Any


def ago(seconds: float | None) -> str:
    """'just now', '5 min ago', '2 h ago', '3 days ago' (None: no time)."""
    if seconds is None:
        return ""
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def describe_event(event: dict[str, Any]) -> str:
    """'cart of item 42 (2 h ago, 41%)'."""
    what = event.get("action", "event")
    if event.get("item") is not None:
        what += f" of item {event['item']}"
    elif event.get("category") is not None:
        what += f" in {event['category']}"
    when = ago(event.get("ago_s"))
    parts = [p for p in (when, f"{event['weight']:.0%}") if p]
    return f"{what} ({', '.join(parts)})"


def _because(events: list[dict[str, Any]], top: int = 2) -> str:
    if not events:
        return "."
    return ", mostly because of " + " and ".join(describe_event(e) for e in events[:top]) + "."


def _label_words(name: str, horizon: str | float | None) -> str:
    words = name.replace("_", " ")
    if horizon is None or not str(horizon):
        return words
    suffix = str(horizon)
    if words.endswith(suffix.replace("_", " ")):
        words = words[: -len(suffix)].rstrip()
    return f"{words} within {'the session' if suffix == 'session' else suffix}"


def intent_sentence(
    name: str, probability: float, horizon: str | float | None, events: list[dict[str, Any]]
) -> str:
    """'62% likely: purchase within 24h, mostly because of …'."""
    return f"{probability:.0%} likely: {_label_words(name, horizon)}" + _because(events)


def action_sentence(action: str, probability: float, events: list[dict[str, Any]]) -> str:
    """'Next action most likely view (71%), mostly because of …'."""
    return f"Next action most likely {action} ({probability:.0%})" + _because(events)


def item_sentence(item: str | None, events: list[dict[str, Any]]) -> str:
    """'Top recommendation item 7, mostly because of …'."""
    return f"Top recommendation item {item}" + _because(events)


def interest_sentence(interests: list[dict[str, Any]], exclusions: list[dict[str, Any]], by: str) -> str:
    """'Into 80% sci-fi, 12% cooking; skips news.'"""
    if not interests:
        return "No interests yet."
    text = "Into " + ", ".join(f"{x['share']:.0%} {x[by]}" for x in interests[:3])
    if exclusions:
        text += "; skips " + ", ".join(str(x[by]) for x in exclusions)
    return text + "."
