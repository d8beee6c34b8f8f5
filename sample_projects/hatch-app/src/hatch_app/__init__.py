"""The hatch-app sample: an app built with hatchling, packed by ``exearchive build``."""
