"""exearchive: your wheel, and an executable archive of your app with all its dependencies.

The build backend is :mod:`exearchive.backend`; the launcher that goes into
every archive is :mod:`exearchive.runtime`; the command is :mod:`exearchive.cli`.
"""

__version__ = "0.1.0"
