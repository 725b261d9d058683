"""The computing party's estimates of φ and ω (Eqs. 22–23), with Wang et al.'s safeguards.

Which points the gradients are taken at. Each participant starts a round from the global model
w(t₀) (the previous aggregate) and ends it at its local model w_i(t₀+τ). It sends, encrypted, the
gradient of its local loss at both points. The computing party then forms

    φ̂_i = ‖∇F_i(w_i(t₀+τ)) − ∇F_i(w(t₀))‖ / ‖w_i(t₀+τ) − w(t₀)‖           (Eq. 22)
    ω̂_i = ‖∇F_i(w(t₀)) − ∇F(w(t₀))‖,  ∇F = Σ_i |D_i|∇F_i / |D|            (Eq. 23)

and weights both by |D_i|/|D|. Eq. 22 is a secant estimate of the local smoothness, and any two
points of the local trajectory serve; taking the round's start as the global point makes both
estimates available at the aggregation instead of one round later (Wang et al. wait for the next
round to get ∇F_i(w(t))). Safeguards: participants whose ‖w_i − w‖ is below ``min_distance`` are
skipped for φ̂ (the quotient is noise there), and φ̂ is floored at ``phi_floor`` so the control
problem stays well posed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hefl.errors import LearningError


@dataclass(frozen=True)
class EstimateSettings:
    """Safeguards of the estimates (defaults as Wang et al.'s code and the optimiser notes)."""

    min_distance: float = 1e-10
    phi_floor: float = 1e-5


@dataclass(frozen=True)
class Estimates:
    """Weighted φ̂ and ω̂; ``phi`` is ``None`` when every participant was skipped."""

    phi: float | None
    omega: float
    phi_per_participant: tuple[float | None, ...]
    omega_per_participant: tuple[float, ...]


def estimate_phi_omega(
    start: np.ndarray,
    local_models: Sequence[np.ndarray],
    grads_at_start: Sequence[np.ndarray],
    grads_at_local: Sequence[np.ndarray],
    sizes: Sequence[int],
    settings: EstimateSettings | None = None,
) -> Estimates:
    """φ̂ (Eq. 22) and ω̂ (Eq. 23), each weighted by |D_i|/|D|; see the module docstring."""
    settings = settings or EstimateSettings()
    n = len(sizes)
    if not (len(local_models) == len(grads_at_start) == len(grads_at_local) == n) or n == 0:
        raise LearningError(
            f"estimates need one local model and two gradients per participant; got "
            f"{len(local_models)}, {len(grads_at_start)}, {len(grads_at_local)} for {n} sizes"
        )
    weights = np.asarray(sizes, dtype=np.float64)
    weights = weights / weights.sum()
    global_grad = np.tensordot(weights, np.stack(grads_at_start), axes=1)

    phis: list[float | None] = []
    for w_i, g_local, g_start in zip(local_models, grads_at_local, grads_at_start, strict=True):
        distance = float(np.linalg.norm(w_i - start))
        phis.append(
            None
            if distance < settings.min_distance
            else float(np.linalg.norm(g_local - g_start)) / distance
        )
    omegas = tuple(float(np.linalg.norm(g - global_grad)) for g in grads_at_start)

    known = [(w, p) for w, p in zip(weights, phis, strict=True) if p is not None]
    phi = None
    if known:
        total = sum(w for w, _ in known)
        phi = max(sum(w * p for w, p in known) / total, settings.phi_floor)
    omega = float(np.dot(weights, omegas))
    return Estimates(
        phi=phi, omega=omega, phi_per_participant=tuple(phis), omega_per_participant=omegas
    )
