"""The result cache: valid while the user's engaged counter holds and younger than the TTL; LRU by user."""

from __future__ import annotations

from seqintent.serve import ResultCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lives_until_the_counter_moves_or_the_ttl_passes():
    clock = Clock()
    cache = ResultCache(ttl_s=10, max_users=10, clock=clock)
    cache.put("u", ("k", 10), engaged=2, value="a")
    assert cache.get("u", ("k", 10), engaged=2) == "a"
    assert cache.get("u", ("k", 5), engaged=2) is None  # other parameters, other answer
    assert cache.get("u", ("k", 10), engaged=3) is None
    clock.now = 10.0
    assert cache.get("u", ("k", 10), engaged=2) == "a"
    clock.now = 10.5
    assert cache.get("u", ("k", 10), engaged=2) is None
    assert (cache.hits, cache.misses) == (2, 3)
    assert cache.hit_ratio == 0.4


def test_least_recently_used_users_go_first_and_invalidation_forgets_a_user():
    cache = ResultCache(ttl_s=60, max_users=2)
    cache.put("a", 1, engaged=0, value="A")
    cache.put("b", 1, engaged=0, value="B")
    assert cache.get("a", 1, engaged=0) == "A"  # a is now the most recent
    cache.put("c", 1, engaged=0, value="C")
    assert (cache.get("a", 1, engaged=0), cache.get("b", 1, engaged=0), cache.get("c", 1, engaged=0)) == (
        "A",
        None,
        "C",
    )
    cache.invalidate({"a", "nobody"})
    assert cache.get("a", 1, engaged=0) is None and len(cache) == 1


def test_a_zero_ttl_turns_the_cache_off():
    cache = ResultCache(ttl_s=0, max_users=2)
    cache.put("a", 1, engaged=0, value="A")
    assert cache.get("a", 1, engaged=0) is None and len(cache) == 0 and not cache.enabled
