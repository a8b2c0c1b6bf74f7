"""Reasons in words: one short phrase per signal, naming the values that made it fire.

>>> usual_hours_text((8, 3))
'08:00–11:00'
>>> ratio_text(40.2), ratio_text(3.46)
('40×', '3.5×')
>>> clock_text(2 + 13 / 60)
'02:13'
"""

from __future__ import annotations

import math

from seqintent.anomaly._events import EventFrame
from seqintent.anomaly.profile import HOURS, Seen, UserProfile

USUAL_SHOWN = 2  # usual devices / locations named in a reason


def clock_text(hour: float) -> str:
    """Local time of day as ``HH:MM`` from a fractional hour."""
    minutes = round(hour * 60)
    return f"{(minutes // 60) % HOURS:02d}:{minutes % 60:02d}"


def usual_hours_text(arc: tuple[int, int]) -> str:
    start, length = arc
    return f"{start:02d}:00–{(start + length) % HOURS:02d}:00"


def ratio_text(ratio: float) -> str:
    return f"{ratio:.0f}×" if ratio >= 10 else f"{ratio:.1f}×"


def money_text(amount: float) -> str:
    return f"{amount:,.2f}"


def _usual(seen: dict[str, Seen]) -> str:
    top = sorted(seen.items(), key=lambda kv: (-kv[1].count, kv[0]))[:USUAL_SHOWN]
    return ", ".join(f'"{value}"' for value, _ in top)


def new_device_text(device: str, profile: UserProfile | None) -> str:
    usual = _usual(profile.devices) if profile is not None else ""
    return f'new device "{device}"' + (f" (usual: {usual})" if usual else "")


def new_location_text(location: str, profile: UserProfile | None) -> str:
    usual = _usual(profile.locations) if profile is not None else ""
    return f'new location "{location}"' + (f" (usual: {usual})" if usual else "")


def new_payee_text(payee: str) -> str:
    return f'payee never seen: "{payee}"'


def unusual_hour_text(hour: float, profile: UserProfile | None) -> str:
    arc = profile.usual_hours() if profile is not None else None
    text = f"active at {clock_text(hour)}"
    return text + (f", usually {usual_hours_text(arc)}" if arc is not None else "")


def large_amount_text(amount: float, ratio: float, median: float) -> str:
    return f"amount {money_text(amount)} is {ratio_text(ratio)} the user's median ({money_text(median)})"


def event_text(frame: EventFrame, position: int, payee_actions: list[str]) -> str:
    """One event in a few words: ``transfer 4,000.00 to "acct-77" at 02:16``."""
    parts = [str(frame.action[position])]
    amount = frame.amount[position]
    if not math.isnan(amount):
        parts.append(money_text(float(amount)))
    item = frame.item[position]
    if item is not None and frame.action[position] in payee_actions:
        parts.append(f'to "{item}"')
    if frame.has_time:
        parts.append(f"at {clock_text(float(frame.hour[position]))}")
    return " ".join(parts)


def rule_text(
    reason: str, name: str, frame: EventFrame, positions: tuple[int, ...], payee_actions: list[str]
) -> str:
    """``account-takeover pattern (rule "ato"): login at 02:13 → transfer … → delete_record at 02:18``."""
    chain = " → ".join(event_text(frame, p, payee_actions) for p in positions)
    head = reason if reason == name else f'{reason} (rule "{name}")'
    return f"{head}: {chain}"
