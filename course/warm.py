"""What a process that imports torch and the checks once, to answer many times, asks of the garbage collector."""

from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def long_lived_imports():
    """No garbage collection while the block imports (torch, nbgrader and the checks make several hundred thousand
    objects that all live on: each full collection meanwhile walks them and finds nothing, about half a second of
    CPU), then those objects are frozen out of every later collection (in a process that forks, in its children's
    too, whose pages of them then stay shared)."""
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        gc.enable()
