"""Only the C extension is declared here; all other metadata is in pyproject.toml."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("sdistnative._native", sources=["src/sdistnative/_native.c"])])
