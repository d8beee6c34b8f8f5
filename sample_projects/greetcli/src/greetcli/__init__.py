"""Command line greeter built on greetlib, with pluggable styles."""
