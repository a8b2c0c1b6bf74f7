"""Tiny hand-written finance histories shared by the anomaly tests."""

from __future__ import annotations

H = 3_600_000  # ms
M = 60_000
D = 24 * H


def habitual_history(user: str = "ann", days: int = 30) -> list[dict]:
    """A user who logs in at 09:00 from her phone in Berlin and pays mum or the rent, 100–129."""
    events = []
    for d in range(days):
        base = d * D + 9 * H
        events.append(
            {"user_id": user, "ts": base, "action": "login", "device": "phone", "location": "Berlin"}
        )
        events.append(
            {
                "user_id": user,
                "ts": base + M,
                "action": "transfer",
                "item_id": "mum" if d % 2 == 0 else "rent",
                "amount": 100.0 + d,
                "device": "phone",
                "location": "Berlin",
            }
        )
    return events


def takeover(user: str = "ann", day: int = 40) -> list[dict]:
    """New device at 02:00 → balance query → large transfer to a new payee → delete record."""
    base = day * D + 2 * H
    common = {"user_id": user, "device": "laptop-x", "location": "Berlin"}
    return [
        {**common, "ts": base, "action": "login"},
        {**common, "ts": base + M, "action": "query_balance"},
        {**common, "ts": base + 3 * M, "action": "transfer", "item_id": "acct-77", "amount": 4000.0},
        {**common, "ts": base + 5 * M, "action": "delete_record"},
    ]


def normal_day(user: str = "ann", day: int = 41) -> list[dict]:
    base = day * D + 9 * H + 5 * M
    common = {"user_id": user, "device": "phone", "location": "Berlin"}
    return [
        {**common, "ts": base, "action": "login"},
        {**common, "ts": base + M, "action": "transfer", "item_id": "mum", "amount": 115.0},
    ]
