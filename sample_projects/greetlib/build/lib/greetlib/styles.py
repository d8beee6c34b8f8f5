"""Text styles that greetlib offers to greetcli (entry point group ``greetcli.styles``).

A style is a callable that takes the text and returns the styled text.
"""


def shout(text):
    """Say it loudly."""
    return text.upper()
