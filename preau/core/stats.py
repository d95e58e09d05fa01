"""Counts for `preau stats --json` and the dashboard. Each app registers a provider in its AppConfig.ready:
`register("territory", fn)` where fn(user=None) returns a dict (user=None: the whole database)."""

from collections.abc import Callable

_PROVIDERS: dict[str, Callable] = {}


def register(name: str, fn: Callable) -> None:
    _PROVIDERS[name] = fn


def collect(user=None) -> dict:
    return {name: fn(user) for name, fn in _PROVIDERS.items()}
