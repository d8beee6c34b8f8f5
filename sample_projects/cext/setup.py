"""Only the C extension is declared here; all other metadata is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("cext_demo._fast", sources=["src/cext_demo/_fast.c"]),
    ],
)
