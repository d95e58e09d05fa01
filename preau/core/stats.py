"""Counts for `preau stats --json` and the dashboard. Each app registers a provider in its AppConfig.ready:
`register("territory", fn)` where fn(user=None) returns a dict (user=None: the whole database).

The dashboard computes only what it shows: the providers registered with `dashboard=` (True: the same
function; or a lighter function of the user, e.g. the assistance's open requests without the year's medians).
"""

from collections.abc import Callable

_PROVIDERS: dict[str, Callable] = {}
_DASHBOARD: dict[str, Callable] = {}


def register(name: str, fn: Callable, dashboard: Callable | bool = False) -> None:
    _PROVIDERS[name] = fn
    if dashboard:
        _DASHBOARD[name] = fn if dashboard is True else dashboard


def collect(user=None) -> dict:
    return {name: fn(user) for name, fn in _PROVIDERS.items()}


def for_dashboard(user) -> dict:
    return {name: fn(user) for name, fn in _DASHBOARD.items()}
