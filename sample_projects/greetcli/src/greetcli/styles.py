"""The style that greetcli itself registers in ``greetcli.styles``."""


def whisper(text):
    """Say it quietly."""
    return text.lower()
