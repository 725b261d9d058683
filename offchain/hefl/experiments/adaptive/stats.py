"""Monte-Carlo summaries of the per-seed runs: the mean and a 95 % band per setting.

The band is Student's t interval of the mean over the seeds, mean ± t_{0.975, n−1}·s/√n (s the
sample standard deviation); with one seed it collapses to the value itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

#: The per-seed quantities every summary carries: loss, T (local steps) and G (aggregations).
SUMMARISED: tuple[str, ...] = ("train_loss", "test_loss", "iterations", "rounds", "energy_used")
#: Confidence of the band.
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Band:
    """Mean of ``n`` values and its 95 % t interval [low, high]."""

    mean: float
    low: float
    high: float
    n: int


def band(values: Iterable[float]) -> Band:
    """Mean and the 95 % t band of ``values`` (one value: a band of zero width)."""
    x = np.asarray(list(values), dtype=float)
    if x.size == 0:
        return Band(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if x.size == 1:
        return Band(mean, mean, mean, 1)
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return Band(mean, mean - half, mean + half, int(x.size))


def group(
    rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    """Rows by the values of ``keys``, in first-seen order; each group sorted by seed."""
    out: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(tuple(row[k] for k in keys), []).append(row)
    return {k: sorted(v, key=lambda r: r["seed"]) for k, v in out.items()}


def summarise(
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    values: Sequence[str] = SUMMARISED,
    per_seed: Sequence[str] = ("train_loss", "iterations", "rounds"),
) -> list[dict[str, Any]]:
    """One row per setting (the values of ``keys``): ``<v>_mean``, ``<v>_low``, ``<v>_high`` for
    each of ``values`` and ``<v>_s<seed>`` for each of ``per_seed`` (the CSVs' columns)."""
    out = []
    for key, runs in group(rows, keys).items():
        row: dict[str, Any] = dict(zip(keys, key, strict=True))
        row["seeds"] = len(runs)
        for name in values:
            b = band(r[name] for r in runs)
            row[f"{name}_mean"], row[f"{name}_low"], row[f"{name}_high"] = b.mean, b.low, b.high
        for name in per_seed:
            for r in runs:
                row[f"{name}_s{r['seed']}"] = r[name]
        out.append(row)
    return out
