"""A backport of something newer Pythons have built in."""


def source() -> str:
    return "shimlib"
