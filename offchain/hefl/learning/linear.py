"""Plaintext linear regression: the reference every encrypted path must follow.

Loss per sample f(w, x, y) = ½(y − wᵀx)² (Eq. 1), local loss F_i(w) = mean_j f + γ‖w‖²
(Eq. 2, with the optional ridge term of the notes paper), global loss F = Σ_i |D_i| F_i / |D|
(Eq. 3). Local gradient descent w ← w − η∇F_i(w) (Eq. 4); aggregation w = Σ_i |D_i| w_i / |D|
(Eq. 5).

Because F_i is quadratic, ∇F_i(w) = A_i w − b_i with A_i = X_iᵀX_i/|D_i| + 2γI and
b_i = X_iᵀy_i/|D_i|, so τ gradient steps are one affine map (see :func:`fused_update_map`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hefl.errors import LearningError


def loss(w: np.ndarray, X: np.ndarray, y: np.ndarray, ridge: float = 0.0) -> float:
    """F(w) = (1/|D|) Σ_j ½(y_j − wᵀx_j)² + γ‖w‖² (Eqs. 1–2)."""
    residual = X @ w - y
    return float(0.5 * np.mean(residual**2) + ridge * float(w @ w))


def gradient(w: np.ndarray, X: np.ndarray, y: np.ndarray, ridge: float = 0.0) -> np.ndarray:
    """∇F(w) = (1/|D|) Σ_j (wᵀx_j − y_j)·x_j + 2γw (Eqs. 6–8 in plaintext)."""
    return X.T @ (X @ w - y) / X.shape[0] + 2.0 * ridge * w


def local_steps(
    w: np.ndarray, X: np.ndarray, y: np.ndarray, eta: float, tau: int, ridge: float = 0.0
) -> np.ndarray:
    """τ local gradient steps w ← w − η∇F_i(w) (Eq. 4)."""
    for _ in range(tau):
        w = w - eta * gradient(w, X, y, ridge)
    return w


def aggregate(models: Sequence[np.ndarray], sizes: Sequence[int]) -> np.ndarray:
    """w = Σ_i |D_i| w_i / |D| (Eq. 5)."""
    if len(models) != len(sizes) or not models:
        raise LearningError(f"{len(models)} models for {len(sizes)} sizes; give one per size")
    weights = np.asarray(sizes, dtype=np.float64)
    return np.tensordot(weights / weights.sum(), np.stack(models), axes=1)


@dataclass(frozen=True)
class AffineMap:
    """w ↦ M w + c."""

    M: np.ndarray
    c: np.ndarray

    def __call__(self, w: np.ndarray) -> np.ndarray:
        return self.M @ w + self.c


def fused_update_map(
    X: np.ndarray, y: np.ndarray, eta: float, tau: int, ridge: float = 0.0
) -> AffineMap:
    """τ gradient steps on a quadratic loss as one affine map w ↦ M^τ w + c.

    One step is w ← w − η(A w − b) = (I − ηA) w + ηb with A = XᵀX/|D| + 2γI and b = Xᵀy/|D|.
    Writing M = I − ηA, induction on τ gives w_τ = M^τ w_0 + Σ_{s<τ} M^s·ηb, so τ literal steps of
    Eq. 4 equal one matrix-vector product plus a constant. The participant computes M^τ and c from
    its own plaintext data and applies them to the encrypted model with a single plaintext-matrix ×
    encrypted-vector product: |w|² ciphertext exponentiations instead of 2τ|w||D_i|.
    """
    if tau < 1:
        raise LearningError(f"tau must be ≥ 1, got {tau}")
    d = X.shape[1]
    A = X.T @ X / X.shape[0] + 2.0 * ridge * np.eye(d)
    b = X.T @ y / X.shape[0]
    M = np.eye(d) - eta * A
    power = np.eye(d)
    c = np.zeros(d)
    for _ in range(tau):  # c = Σ_{s<τ} M^s ηb accumulated with the powers (τ ≤ a few hundred)
        c = c + power @ (eta * b)
        power = power @ M
    return AffineMap(M=power, c=c)


def closed_form(X: np.ndarray, y: np.ndarray, ridge: float = 0.0) -> np.ndarray:
    """argmin_w (1/|D|) Σ ½(y − wᵀx)² + γ‖w‖²: solves (XᵀX/|D| + 2γI) w = Xᵀy/|D|."""
    d = X.shape[1]
    A = X.T @ X / X.shape[0] + 2.0 * ridge * np.eye(d)
    return np.linalg.solve(A, X.T @ y / X.shape[0])
