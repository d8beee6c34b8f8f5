"""``_pack.walk``: the payload's members in the order every build lists them, and no symbolic links."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from exearchive.backend import _pack
from exearchive.backend._errors import ExearchiveError


def _os_walk_order(root: Path) -> list[str]:
    """The order of os.walk, top-down, each directory's files and subdirectories sorted."""
    found = []
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        found += [(Path(directory) / name).relative_to(root).as_posix() for name in sorted(files)]
    return found


def _tree(root: Path) -> None:
    for name in ("b.py", "a/z.py", "a/b/c.txt", "a/b.py", "B/x", "_y/__init__.py", "a-b/q", "a.py", "a/B/w"):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    (root / "empty" / "dir").mkdir(parents=True)


def test_files_in_os_walk_order_with_their_paths(tmp_path: Path) -> None:
    _tree(tmp_path)
    members = list(_pack.walk(tmp_path))
    assert [name for name, _ in members] == _os_walk_order(tmp_path)
    assert members[:3] == [("a.py", tmp_path / "a.py"), ("b.py", tmp_path / "b.py"), ("B/x", tmp_path / "B" / "x")]
    assert all(path.read_text() == name for name, path in members)


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_a_symbolic_link_is_refused(tmp_path: Path, kind: str) -> None:
    _tree(tmp_path)
    (tmp_path / "a" / "link").symlink_to(tmp_path / ("b.py" if kind == "file" else "B"))
    with pytest.raises(ExearchiveError, match="symbolic link a/link; links are not packed"):
        list(_pack.walk(tmp_path))


def test_a_missing_tree_has_no_members(tmp_path: Path) -> None:
    assert list(_pack.walk(tmp_path / "missing")) == []
