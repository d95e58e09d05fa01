"""(to be written)"""


def register(router) -> None:
    pass
