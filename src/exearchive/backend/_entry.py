"""Choose and check the archive's entry point against the staged tree.

The ``entry-point`` key may name a console script or a plain Python script
(``bin/NAME``) of any staged distribution, ``module:function`` or ``module``
(run like ``python -m``).  Without it, the project's only script is used.
Whatever it names must exist in the staged tree; otherwise the build stops
naming the key and the choices.
"""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from ._errors import ConfigError
from ._staged import Staged

_SPEC = re.compile(r"^\s*(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?(\[.*\])?\s*$")


@dataclass(frozen=True)
class EntryPoint:
    """What the archive runs by default."""

    spec: str
    """``module:attr``, ``module``, or a plain script's path in the payload (``bin/NAME``)."""
    name: str | None
    """The console script's or plain script's name, when it is one."""


def choose(staged: Staged, project: str, configured: str | None, source: str) -> EntryPoint:
    """The entry point: ``configured`` (from ``source``) or the project's only script."""
    scripts = {**staged.scripts(), **staged.script_files()}
    if configured is None:
        dist = staged.find(project)
        own = sorted([*dist.console_scripts, *dist.python_scripts]) if dist else []
        if len(own) == 1:
            return EntryPoint(scripts[own[0]], own[0])
        if not own:
            others = f" (console scripts of its dependencies: {', '.join(scripts)})" if scripts else ""
            raise ConfigError(
                f"{project} declares no [project.scripts] entry{others}; "
                "set [tool.exearchive] entry-point to a script name, 'module:function' or 'module'"
            )
        raise ConfigError(
            f"{project} declares several console scripts ({', '.join(own)}); "
            f"choose one with [tool.exearchive] entry-point = {own[0]!r}"
        )
    if configured in scripts:
        return EntryPoint(scripts[configured], configured)
    other = staged.other_scripts().get(configured)
    if other:
        raise ConfigError(
            f"{source} = {configured!r} is {other}, not Python, so the archive cannot run it; "
            "choose a console script, a Python script, 'module:function' or 'module'"
        )
    choices = f"; console scripts in the archive: {', '.join(scripts)}" if scripts else ""
    close = difflib.get_close_matches(configured, list(scripts), n=1)
    if close:
        choices += f"; did you mean {close[0]!r}?"
    match = _SPEC.match(configured)
    if not match:
        raise ConfigError(
            f"{source} = {configured!r} is not a console script in the archive, 'module:function' or 'module'{choices}"
        )
    module, attr = match["module"], match["attr"]
    problem = _check_module(_site_of(staged.sites, module), module, attr)
    if problem:
        more = "" if "did you mean" in problem else choices
        raise ConfigError(f"{source} = {configured!r}: {problem}{more}")
    return EntryPoint(f"{module}:{attr}" if attr else module, None)


def _site_of(sites: list[Path], module: str) -> Path:
    """The first of ``sites`` that holds ``module`` (a package, a source or a native module), else the first."""
    parts = module.split(".")
    for site in sites:
        base = site.joinpath(*parts)
        native = [*base.parent.glob(parts[-1] + ".*.so"), *base.parent.glob(parts[-1] + ".*.pyd")]
        if base.is_dir() or base.with_suffix(".py").is_file() or native:
            return site
    return sites[0]


def _check_module(site: Path, module: str, attr: str | None) -> str | None:
    """Why ``module`` (and ``attr`` in it) cannot be run from ``site``, or None."""
    parts = module.split(".")
    base = site.joinpath(*parts)
    package = base.is_dir()
    candidates = [base / "__init__.py"] if package else [base.with_suffix(".py")]
    source = next((c for c in candidates if c.is_file()), None)
    native = list(base.parent.glob(parts[-1] + ".*.so")) + list(base.parent.glob(parts[-1] + ".*.pyd"))
    if source is None and not package and not native:
        return f"there is no module {module!r} in the archive"
    if attr is None:
        if package and not (base / "__main__.py").is_file():
            return f"package {module!r} has no __main__.py, so it cannot be run as a module{_main_hint(source, module)}"
        if not package and source is not None and not _runs_as_main(source):
            hint = _main_hint(source, module)
            if hint:
                return f"module {module!r} has no 'if __name__ == \"__main__\"' block, so running it does nothing{hint}"
        return None
    if source is not None:
        first = attr.split(".")[0]
        names = _top_level_names(source)
        if names is not None and first not in names:
            close = difflib.get_close_matches(first, _top_level_definitions(source), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            return f"module {module!r} defines no {first!r} at top level{hint}"
    return None


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_bytes())
    except (SyntaxError, ValueError, OSError):
        return None


def _runs_as_main(path: Path) -> bool:
    """The module has a top-level ``if __name__ == "__main__":`` block (True when that cannot be known)."""
    tree = _parse(path)
    if tree is None:
        return True
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and len(node.test.comparators) == 1:
            sides = [node.test.left, node.test.comparators[0]]
            names = {side.id for side in sides if isinstance(side, ast.Name)}
            values = {side.value for side in sides if isinstance(side, ast.Constant)}
            if names == {"__name__"} and values == {"__main__"}:
                return True
    return False


def _top_level_definitions(path: Path) -> list[str]:
    """The functions, classes and variables a module defines at top level, for a "did you mean"."""
    tree = _parse(path)
    names: set[str] = set()
    for node in tree.body if tree is not None else []:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return sorted(names)


def _main_hint(path: Path | None, module: str) -> str:
    """``; did you mean 'module:main'?`` when the module defines a function ``main`` at top level."""
    tree = _parse(path) if path is not None else None
    if tree is None:
        return ""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "main":
            return f"; did you mean '{module}:main'?"
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == "main" for a in node.names):
            return f"; did you mean '{module}:main'?"
    return ""


def _top_level_names(path: Path) -> set[str] | None:
    """Names bound in a module (best effort); None when that cannot be known."""
    tree = _parse(path)
    if tree is None:
        return None
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
                if alias.name == "*":
                    return None
        elif isinstance(node, ast.Global):
            names.update(node.names)
    if "__getattr__" in names:
        return None
    return names
