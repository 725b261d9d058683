"""The one timer the cost model, the benches and the calibration share.

A bottom-layer helper: it imports nothing from hefl but its errors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from hefl.errors import ConfigError

__all__ = ["best_of"]

T = TypeVar("T")


def best_of(fn: Callable[[], T], repeats: int, *, warm_up: bool = True) -> tuple[float, T]:
    """The least wall-clock seconds of ``repeats`` calls of ``fn`` and the last call's value,
    after one unmeasured call (key tables, caches, imports) unless ``warm_up`` is False."""
    if repeats < 1:
        raise ConfigError(f"best_of needs at least one timed call, got repeats={repeats}")
    if warm_up:
        fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value
