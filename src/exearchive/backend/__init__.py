"""exearchive's PEP 517 / PEP 660 build backend.

Use it in a project's pyproject.toml::

    [build-system]
    requires = ["exearchive"]
    build-backend = "exearchive.backend"

``python -m build`` then makes the sdist and wheel that setuptools makes, and
an executable archive ``{name}-{version}.pyz`` beside the wheel.
"""

from ._errors import ConfigError, ExearchiveError, ExearchiveWarning
from ._hooks import (
    build_editable,
    build_sdist,
    build_wheel,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

__all__ = [
    "ConfigError",
    "ExearchiveError",
    "ExearchiveWarning",
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]
