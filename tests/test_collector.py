"""The archive step leaves the objects alive before it out of the cyclic garbage collector, and only for itself."""

from __future__ import annotations

import gc

from exearchive.backend import _collector


def test_older_objects_are_frozen_for_the_block_only() -> None:
    assert gc.get_freeze_count() == 0
    with _collector.older_objects_frozen():
        frozen = gc.get_freeze_count()
        assert frozen > 1000
        made = [[] for _ in range(100)]  # the block's own objects are collected as usual
        assert gc.get_freeze_count() == frozen
        assert any(item is made for item in gc.get_objects())
    assert gc.get_freeze_count() == 0


def test_a_freeze_or_a_disabled_collector_of_the_caller_is_left_alone() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with _collector.older_objects_frozen():
            assert gc.get_freeze_count() == frozen
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
    gc.disable()
    try:
        with _collector.older_objects_frozen():
            assert gc.get_freeze_count() == 0
        assert not gc.isenabled()
    finally:
        gc.enable()
