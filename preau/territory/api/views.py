"""API viewsets of the territory (filled by the API work)."""


def register(router) -> None:
    pass
