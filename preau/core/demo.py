"""Demo data registry: each app adds its part of the deterministic demo (see `preau demo`).

`register(order, fn)`: fn(rng: random.Random, context: dict) -> dict of counts; lower order runs
first (territory 10, accounts 20, later modules after). `context` carries what earlier parts built.
"""

import random
from collections.abc import Callable

from django.db import transaction

_BUILDERS: list[tuple[int, str, Callable]] = []


def register(order: int, name: str, fn: Callable) -> None:
    _BUILDERS.append((order, name, fn))


@transaction.atomic
def build(seed: int = 2016) -> dict:
    context: dict = {}
    counts = {}
    for _order, name, fn in sorted(_BUILDERS, key=lambda b: b[0]):
        counts[name] = fn(random.Random(f"{seed}:{name}"), context)
    from .maintenance import analyze_on_commit

    analyze_on_commit()  # bulk-built tables: give the planner its statistics
    return counts
