"""The ecommerce catalogue: named categories with power-law popularity, prices, complementary pairs."""

from __future__ import annotations

import numpy as np

from seqintent.simulate._common import NONE, zipf_weights

# (category, search query, median price); list order is popularity rank
CATEGORIES: tuple[tuple[str, str, float], ...] = (
    ("phones", "smartphone", 420.0),
    ("shoes", "running shoes", 80.0),
    ("phone_cases", "phone case", 18.0),
    ("headphones", "wireless headphones", 90.0),
    ("t_shirts", "t shirt", 20.0),
    ("laptops", "laptop", 900.0),
    ("skincare", "face cream", 25.0),
    ("books", "bestseller book", 15.0),
    ("jeans", "slim jeans", 55.0),
    ("laptop_sleeves", "laptop sleeve", 25.0),
    ("coffee_machines", "espresso machine", 250.0),
    ("coffee_beans", "coffee beans", 14.0),
    ("toys", "lego", 35.0),
    ("jackets", "winter jacket", 120.0),
    ("cameras", "mirrorless camera", 700.0),
    ("memory_cards", "sd card", 20.0),
    ("consoles", "game console", 450.0),
    ("video_games", "video game", 55.0),
    ("smartwatches", "smartwatch", 220.0),
    ("kitchenware", "frying pan", 30.0),
    ("printers", "printer", 150.0),
    ("printer_ink", "ink cartridge", 30.0),
    ("bags", "backpack", 60.0),
    ("makeup", "lipstick", 18.0),
    ("tablets", "tablet", 380.0),
    ("bedding", "duvet", 60.0),
    ("fitness", "yoga mat", 30.0),
    ("snacks", "protein bar", 8.0),
    ("perfume", "perfume", 65.0),
    ("lamps", "desk lamp", 40.0),
    ("tea", "green tea", 9.0),
    ("garden", "garden hose", 35.0),
    ("tools", "drill", 90.0),
    ("pet_food", "dog food", 30.0),
    ("baby_care", "diapers", 25.0),
    ("board_games", "board game", 35.0),
    ("bicycles", "city bike", 500.0),
    ("camping", "tent", 140.0),
    ("stationery", "notebook", 6.0),
    ("sunglasses", "sunglasses", 70.0),
)
COMPLEMENT_PAIRS: tuple[tuple[str, str], ...] = (
    ("phones", "phone_cases"),
    ("laptops", "laptop_sleeves"),
    ("cameras", "memory_cards"),
    ("consoles", "video_games"),
    ("coffee_machines", "coffee_beans"),
    ("printers", "printer_ink"),
)


def catalogue(rng: np.random.Generator, n_items: int) -> dict[str, np.ndarray]:
    """``n_items`` items (at least 8 per category) grouped by category in popularity order.

    Returns arrays indexed by catalogue position: ``category``, ``within`` (popularity within the
    category), ``weight`` (overall popularity), ``price``, ``item_id`` (a random permutation, so ids
    say nothing of category or popularity), ``complement`` (the matching item of the paired
    category, or NONE); and ``cat_pop`` (category popularity).
    """
    n_cat = len(CATEGORIES)
    cat_pop = zipf_weights(n_cat, 0.9)
    size = np.maximum(8, np.round(n_items * cat_pop**0.6 / (cat_pop**0.6).sum())).astype(np.int64)
    category = np.repeat(np.arange(n_cat), size)
    within = np.concatenate([zipf_weights(int(k), 1.05) for k in size])
    median_price = np.array([c[2] for c in CATEGORIES])[category]
    price = np.maximum(1.0, np.round(median_price * np.exp(0.35 * rng.standard_normal(len(category))), 2))
    item_id = rng.permutation(len(category)).astype(np.int64) + 1
    # complement of a source item: the target item of the same popularity rank (scaled)
    complement = np.full(len(category), NONE, dtype=np.int64)
    names = [c[0] for c in CATEGORIES]
    lo = np.searchsorted(category, np.arange(n_cat))
    for source, target in COMPLEMENT_PAIRS:
        s, t = names.index(source), names.index(target)
        rank = np.arange(size[s])
        complement[lo[s] : lo[s] + size[s]] = lo[t] + rank * size[t] // size[s]
    return {
        "category": category,
        "weight": cat_pop[category] * within,
        "within": within,
        "price": price,
        "item_id": item_id,
        "complement": complement,
        "cat_pop": cat_pop,
    }
