"""Reads python_full_version in its requirements, like cryptography."""

__version__ = "1.0"
