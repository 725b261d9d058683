"""The convergence bound (24) and its pieces, computed without cancellation.

For learning rate η, smoothness φ and gradient divergence ω (δ in Wang et al.),

    h(τ) = (ω/φ)·((ηφ + 1)^τ − 1) − ηωτ,
    A(τ) = η(1 − φη/2) − B0·h(τ)/τ,
    F(w(T, τ)) − F(w*) ≤ 1 / (T·A(τ))                                            (24)

and the bound is meaningful only where A(τ) > 0. With G = T/τ rounds it reads 1/(τ·G·A(τ)).
"""

from __future__ import annotations

import math

from hefl.errors import SolverError

#: Below this τ·ηφ, h uses its Taylor series (the expm1 form loses digits to cancellation).
SERIES_THRESHOLD: float = 1e-4


def _check(eta: float, phi: float, omega: float) -> None:
    if not math.isfinite(eta) or eta <= 0:
        raise SolverError(f"learning rate η must be positive and finite, got {eta!r}")
    if not math.isfinite(phi) or phi <= 0:
        raise SolverError(f"φ must be positive and finite (floor the estimate), got {phi!r}")
    if not math.isfinite(omega) or omega < 0:
        raise SolverError(f"ω must be non-negative and finite, got {omega!r}")


def h_tau(tau: float, eta: float, phi: float, omega: float) -> float:
    """h(τ) = (ω/φ)((ηφ + 1)^τ − 1) − ηωτ (§2.2), stably; never negative.

    Evaluated as (ω/φ)·(expm1(τ·log1p(ηφ)) − τ·ηφ); when τ·ηφ < :data:`SERIES_THRESHOLD` the series
    ω·η·ηφ·[τ(τ−1)/2 + τ(τ−1)(τ−2)·ηφ/6] (relative truncation error below (τηφ)²/12) is used
    instead. h(1) = 0 exactly.
    """
    _check(eta, phi, omega)
    if tau < 1:
        raise SolverError(f"τ must be at least 1, got {tau!r}")
    x = eta * phi
    if tau * x < SERIES_THRESHOLD:
        value = omega * eta * x * (tau * (tau - 1) / 2 + tau * (tau - 1) * (tau - 2) * x / 6)
    else:
        value = (omega / phi) * (math.expm1(tau * math.log1p(x)) - tau * x)
    return max(value, 0.0)


def bound_denominator(tau: float, eta: float, phi: float, omega: float, b0: float) -> float:
    """A(τ) = η(1 − φη/2) − B0·h(τ)/τ, the bracket of (24); the bound needs A(τ) > 0."""
    if not math.isfinite(b0) or b0 <= 0:
        raise SolverError(f"B0 must be positive and finite, got {b0!r}")
    return eta * (1 - phi * eta / 2) - b0 * h_tau(tau, eta, phi, omega) / tau


def convergence_bound(
    iterations: float, tau: float, eta: float, phi: float, omega: float, b0: float
) -> float:
    """1 / (T·A(τ)) (Eq. 24); ``inf`` where the bound is meaningless (A(τ) ≤ 0 or T ≤ 0)."""
    a = bound_denominator(tau, eta, phi, omega, b0)
    if a <= 0 or iterations <= 0:
        return math.inf
    return 1.0 / (iterations * a)
