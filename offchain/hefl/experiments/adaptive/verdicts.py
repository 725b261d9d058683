"""The paper's claims judged over seeds: "A ≤ B" as holds / ties / fails with a stated tolerance
and a paired test, the best τ as an interior minimum beyond the tolerance, and the gap between
schemes per budget.

**The rule.** For a claim "A's loss ≤ B's loss" with per-seed losses a_s, b_s (same seed, same
sample and partition), d_s = a_s − b_s, d̄ their mean, ε = ``tolerance`` × |mean b|:

* **ties** if |d̄| ≤ ε, or if the paired two-sided t-test of d̄ = 0 gives p ≥ α (the difference is
  not distinguishable from seed noise);
* otherwise **holds** if d̄ < 0 and **fails** if d̄ > 0.

A tie does not contradict "≤"; only "fails" does. With one seed there is no test and the tolerance
alone decides (p is reported as ``nan``). With zero spread, p is 0 for a non-zero d̄ and 1 for zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

from hefl.errors import ConfigError
from hefl.experiments.adaptive.stats import Band, band, group

Verdict = Literal["holds", "ties", "fails"]


@dataclass(frozen=True)
class Comparison:
    """The verdict on "A ≤ B" over paired seeds.

    Attributes:
        verdict: holds / ties / fails (module docstring).
        difference: d̄ = mean(a − b).
        tolerance: ε, in loss units.
        p_value: the paired two-sided t-test's p (``nan`` with one seed).
        n: seeds compared.
    """

    verdict: Verdict
    difference: float
    tolerance: float
    p_value: float
    n: int

    def describe(self) -> str:
        p = "n/a" if math.isnan(self.p_value) else f"{self.p_value:.2g}"
        return f"{self.verdict} (Δ = {self.difference:+.3g}, p = {p})"


def paired_p_value(differences: Sequence[float]) -> float:
    """Two-sided p of the paired t-test that the mean difference is 0."""
    d = np.asarray(differences, dtype=float)
    if d.size < 2:
        return math.nan
    if float(d.std(ddof=1)) == 0.0:
        return 1.0 if float(d.mean()) == 0.0 else 0.0
    return float(stats.ttest_1samp(d, 0.0).pvalue)


def compare(
    a: Sequence[float], b: Sequence[float], tolerance: float, alpha: float = 0.05
) -> Comparison:
    """Judge "A ≤ B" from per-seed values paired by position (module docstring's rule)."""
    if len(a) != len(b) or len(a) == 0:
        raise ConfigError(f"need the same positive number of seeds, got {len(a)} and {len(b)}")
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    mean = float(d.mean())
    eps = tolerance * abs(float(np.mean(b)))
    p = paired_p_value(d)
    verdict: Verdict
    if abs(mean) <= eps or (not math.isnan(p) and p >= alpha):
        verdict = "ties"
    else:
        verdict = "holds" if mean < 0 else "fails"
    return Comparison(verdict, mean, eps, p, int(d.size))


def scheme_losses(rows: Sequence[dict[str, Any]], key: str) -> dict[Any, dict[str, list[float]]]:
    """Per value of ``key`` (and scheme): the per-seed final losses, ordered by seed."""
    out: dict[Any, dict[str, list[float]]] = {}
    for (value, scheme), runs in group(rows, (key, "scheme")).items():
        out.setdefault(value, {})[scheme] = [r["train_loss"] for r in runs]
    return dict(sorted(out.items()))


def orderings(
    rows: Sequence[dict[str, Any]], key: str, tolerance: float, alpha: float = 0.05
) -> list[tuple[Any, Comparison, Comparison]]:
    """Per value of ``key``: (value, joint ≤ only-resource, only-resource ≤ only-aggregation)."""
    out = []
    for value, loss in scheme_losses(rows, key).items():
        out.append(
            (
                value,
                compare(loss["joint"], loss["only-resource"], tolerance, alpha),
                compare(loss["only-resource"], loss["only-aggregation"], tolerance, alpha),
            )
        )
    return out


def count(verdicts: Sequence[Comparison]) -> dict[Verdict, int]:
    """How many holds, ties and fails."""
    out: dict[Verdict, int] = {"holds": 0, "ties": 0, "fails": 0}
    for c in verdicts:
        out[c.verdict] += 1
    return out


def gap_by_energy(rows: Sequence[dict[str, Any]]) -> list[tuple[float, Band]]:
    """(energy, band of loss(only-aggregation) − loss(joint) over seeds) per budget."""
    out = []
    for e, loss in scheme_losses(rows, "energy").items():
        gaps = np.asarray(loss["only-aggregation"]) - np.asarray(loss["joint"])
        out.append((e, band(gaps.tolist())))
    return out


@dataclass(frozen=True)
class BestTau:
    """The best fixed τ for one N.

    Attributes:
        tau: argmin over τ of the mean loss (``None`` if no τ fits one round).
        kind: ``"interior"`` (lower than both ends of the grid by more than the tolerance),
            ``"edge"`` (the minimum is at, or within the tolerance of, an end of the grid) or
            ``"flat"`` (every τ within the tolerance of the best).
        near: every τ whose mean loss is within the tolerance of the best (the near-ties).
        spread: max − min of the mean loss over τ.
    """

    tau: int | None
    kind: Literal["interior", "edge", "flat", "none"]
    near: tuple[int, ...]
    spread: float


def best_tau(by_tau: dict[int, float], tolerance: float) -> BestTau:
    """The best τ from mean losses per τ (only τ of which whole rounds ran)."""
    if not by_tau:
        return BestTau(None, "none", (), 0.0)
    taus = sorted(by_tau)
    tau = min(taus, key=lambda t: by_tau[t])
    best = by_tau[tau]
    eps = tolerance * abs(best)
    near = tuple(t for t in taus if by_tau[t] - best <= eps)
    spread = max(by_tau.values()) - best
    if len(near) == len(taus):
        kind: Literal["interior", "edge", "flat", "none"] = "flat"
    elif min(by_tau[taus[0]], by_tau[taus[-1]]) - best > eps:
        kind = "interior"
    else:
        kind = "edge"
    return BestTau(tau, kind, near, spread)


def best_tau_by_n(rows: Sequence[dict[str, Any]], tolerance: float) -> dict[int, BestTau]:
    """:func:`best_tau` per N from the sweep's per-seed rows (τ with a whole round in every
    seed)."""
    out: dict[int, BestTau] = {}
    for n in sorted({r["participants"] for r in rows}):
        by_tau = {}
        for (tau,), runs in group([r for r in rows if r["participants"] == n], ("tau",)).items():
            if all(r["fits"] for r in runs):
                by_tau[tau] = float(np.mean([r["train_loss"] for r in runs]))
        out[n] = best_tau(by_tau, tolerance)
    return out


def depends_on_n(best: dict[int, BestTau]) -> bool:
    """ "The best τ depends on N": at least two N have interior minima with disjoint near-ties."""
    interior = [b for b in best.values() if b.kind == "interior"]
    return any(
        not set(x.near) & set(y.near) for i, x in enumerate(interior) for y in interior[i + 1 :]
    )
