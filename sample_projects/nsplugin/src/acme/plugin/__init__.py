"""The acme.plugin part of the acme namespace package."""

NAME = "acme.plugin"


def describe():
    """Return a short message that shows the plugin was imported."""
    return "plugin ready"
