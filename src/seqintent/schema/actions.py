"""The canonical action taxonomy.

Every raw action value in a log maps to one canonical action, and every canonical action belongs
to one family. Models embed both, so a dataset with ``pv`` / ``buy`` and another with
``click`` / ``purchase`` share what they mean. The raw value is always kept in ``action_raw``.

>>> family_of("cart")
'convert'
>>> canonical_action("purchase")
'buy'
"""

from __future__ import annotations

from seqintent.errors import ConfigError, close_names

FAMILIES: dict[str, tuple[str, ...]] = {
    "browse": ("view", "click", "expose"),
    "engage": ("fav", "like", "share", "comment", "follow", "long_view"),
    "convert": ("cart", "buy", "subscribe"),
    "negative": ("uncart", "unfav", "hate", "skip", "return"),
    "search": ("search",),
    "review": ("review", "rate"),
    "account": ("login", "logout", "register", "change_password", "change_device"),
    "payment": ("transfer", "pay", "query_balance", "add_payee", "delete_record", "withdraw", "deposit"),
    "other": ("other",),
}

ACTION_FAMILY: dict[str, str] = {a: fam for fam, actions in FAMILIES.items() for a in actions}
CANONICAL_ACTIONS: tuple[str, ...] = tuple(ACTION_FAMILY)

# Common raw spellings that mean a canonical action. A config's own ``map`` takes precedence.
SYNONYMS: dict[str, str] = {
    "pv": "view",
    "page_view": "view",
    "pageview": "view",
    "impression": "expose",
    "exposure": "expose",
    "favorite": "fav",
    "favourite": "fav",
    "collect": "fav",
    "wishlist": "fav",
    "addtocart": "cart",
    "add_to_cart": "cart",
    "purchase": "buy",
    "transaction": "buy",
    "order": "buy",
    "forward": "share",
    "dislike": "hate",
    "remove_from_cart": "uncart",
    "query": "search",
    "balance": "query_balance",
    "rating": "rate",
}


def family_of(action: str) -> str:
    """The family of a canonical action.

    Raises
    ------
    ConfigError
        If ``action`` is not canonical; the message lists the closest canonical names.
    """
    try:
        return ACTION_FAMILY[action]
    except KeyError:
        raise ConfigError(
            "not a canonical action",
            value=action,
            candidates=close_names(action, CANONICAL_ACTIONS),
            fix="map it to one of the canonical actions listed by `seqintent actions`",
        ) from None


def canonical_action(raw: str) -> str | None:
    """The canonical action a raw value names by itself (canonical name or a known synonym), else None."""
    key = raw.strip().lower()
    if key in ACTION_FAMILY:
        return key
    return SYNONYMS.get(key)
