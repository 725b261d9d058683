"""The divergence guard: stop a job whose learning rate makes gradient descent blow up, before the
next round, with the learning rate that would have been safe.

Each participant's local loss F_i (Eq. 2) is quadratic with Hessian A_i = X_iᵀX_i/|D_i| + 2γI, so
it is L_i-smooth with L_i = λ_max(A_i), and τ local steps of Eq. 4 contract towards the minimiser
exactly when 0 < η < 2/L_i (the iteration matrix I − ηA_i has spectral radius |1 − ηL_i| < 1).
A participant publishes its bound 2/L_i (computed from its own data, no data leaves it); the job
is safe for η below the smallest bound, :func:`step_size_bound`. ``--eta auto`` takes
:func:`auto_eta`, the classic η = 1/L_max, half the bound.

After every round the guard (:func:`check_round`) compares the training loss with the loss
before the round and the decrypted model with the fixed-point budget's safe range
(:func:`safe_model_bits`); either failing gives a :class:`~hefl.errors.DivergenceError` naming η
and the largest safe η, raised once the round is recorded — what was done is kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from hefl.data.prepare import Part
from hefl.errors import DivergenceError

#: A round whose training loss ends more than this factor above where it started diverges
#: (gradient descent with a safe η never increases a participant's quadratic loss; aggregation
#: over heterogeneous participants may, but not by an order of magnitude).
DIVERGENCE_FACTOR = 10.0
#: Fraction of the step-size bound 2/L_max that ``--eta auto`` takes (1/L_max).
AUTO_ETA_FRACTION = 0.5
#: Bits of headroom the safe range keeps for the next round's products (matrix × model at the
#: budget's significant bits, twice) and for rounding.
HEADROOM_BITS = 16
#: Largest binary exponent of a finite float64.
FLOAT64_MAX_EXPONENT = 1023


def smoothness(part: Part, ridge: float = 0.0) -> float:
    """L_i = λ_max(X_iᵀX_i/|D_i|) + 2γ: the smoothness constant of F_i (Eq. 2)."""
    if part.size == 0:
        return 2.0 * ridge
    gram = part.X.T @ part.X / part.size
    return float(np.linalg.eigvalsh(gram)[-1]) + 2.0 * ridge


def published_bound(part: Part, ridge: float = 0.0) -> float:
    """The step-size bound 2/L_i a participant publishes (∞ for a flat loss)."""
    smooth = smoothness(part, ridge)
    return math.inf if smooth <= 0.0 else 2.0 / smooth


def step_size_bound(bounds: Iterable[float]) -> float:
    """The largest η every participant's local descent tolerates: min_i 2/L_i (exclusive)."""
    return min(bounds, default=math.inf)


def auto_eta(bound: float) -> float:
    """``--eta auto``: :data:`AUTO_ETA_FRACTION` of the bound (η = 1/L_max)."""
    if not math.isfinite(bound):
        raise DivergenceError("--eta auto: the data's loss is flat (L = 0); give --eta")
    return AUTO_ETA_FRACTION * bound


def safe_model_bits(key_bits: int, model_scale_bits: int, significant_bits: int) -> int:
    """The fixed-point budget's safe range for a decrypted model: |w_j| < 2^bits.

    The next round encrypts w at scale 2^f (f = ``model_scale_bits``) and multiplies it by plaintext
    matrices at ``significant_bits`` of precision (twice in a literal step) inside Paillier's safe
    band |x| < n/3 ≈ 2^(key_bits − 2); decrypted values must stay finite float64s. Both limits,
    less :data:`HEADROOM_BITS`.
    """
    band = key_bits - 2 - model_scale_bits - 2 * significant_bits
    floats = FLOAT64_MAX_EXPONENT - significant_bits
    return min(band, floats) - HEADROOM_BITS


def check_round(
    round_index: int,
    eta: float,
    bound: float,
    loss_before: float,
    loss_after: float,
    model: np.ndarray,
    model_bits: int,
) -> DivergenceError | None:
    """The guard's verdict on one finished round; ``None`` when learning is on track."""
    advice = _advice(eta, bound)
    if not math.isfinite(loss_after) or loss_after > DIVERGENCE_FACTOR * max(loss_before, 0.0):
        return DivergenceError(
            f"learning diverges: the training loss grew from {loss_before:.4g} to "
            f"{loss_after:.4g} in round {round_index} (more than ×{DIVERGENCE_FACTOR:g}) with "
            f"η = {eta:g}; {advice}"
        )
    largest = float(np.max(np.abs(model))) if np.size(model) else 0.0
    if not math.isfinite(largest) or largest >= 2.0**model_bits:
        return DivergenceError(
            f"learning diverges: the model after round {round_index} has an entry of "
            f"{largest:.4g}, outside the fixed-point budget's safe range ±2^{model_bits}, with "
            f"η = {eta:g}; {advice}"
        )
    return None


def _advice(eta: float, bound: float) -> str:
    if not math.isfinite(bound):
        return "the data's loss is flat, so lower --eta"
    verdict = "above" if eta >= bound else "below"
    return (
        f"η is {verdict} the largest safe η < {bound:.4g} (2/L for this data, from the "
        f"participants' published bounds); rerun with --eta {auto_eta(bound):.4g} or --eta auto"
    )
