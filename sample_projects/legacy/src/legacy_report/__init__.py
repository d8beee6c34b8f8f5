"""Prints a small report from a CSV file shipped as package data."""
