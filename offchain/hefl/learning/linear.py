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


@dataclass(frozen=True)
class LowRankMap:
    """The fused map through the data: M^τ = s^τ·I + Xᵀ P X, c as :func:`fused_update_map`'s.

    Attributes:
        s_tau: s^τ with s = 1 − 2ηγ (1 without ridge).
        P: the |D_i| × |D_i| core matrix.
        Q_minus_I: Q − I with Q = s^τ·I + (XXᵀ)P, the same τ steps seen in data space:
            X·M^τ = Q·X, so X(w_τ − w_0) = (Q − I)·X w_0 + X c.
        c: the constant Σ_{s<τ} M^s·ηb.
    """

    s_tau: float
    P: np.ndarray
    Q_minus_I: np.ndarray
    c: np.ndarray

    def dense(self, X: np.ndarray) -> np.ndarray:
        """M^τ as a d × d matrix (for checks)."""
        return self.s_tau * np.eye(X.shape[1]) + X.T @ self.P @ X


def low_rank_update_map(
    X: np.ndarray, y: np.ndarray, eta: float, tau: int, ridge: float = 0.0
) -> LowRankMap:
    """τ gradient steps as w ↦ s^τ w + Xᵀ P (X w) + c, with P of size |D_i| × |D_i|.

    M = I − ηA = s·I − (η/|D|)·XᵀX with s = 1 − 2ηγ. Every power of M is s^k·I plus a product
    Xᵀ(·)X, because (XᵀX)^k = Xᵀ (XXᵀ)^(k−1) X. Writing M^k = s^k·I + Xᵀ P_k X and K = XXᵀ,

        M^(k+1) = M^k·M = s^(k+1)·I + Xᵀ [s·P_k − (η/|D|)·s^k·I − (η/|D|)·P_k K] X,

    so P_0 = 0 and P_(k+1) = s·P_k − (η/|D|)(s^k·I + P_k K): τ products of |D|×|D| matrices, and
    M^τ w = s^τ w + Xᵀ(P·(Xw)) costs 2|D|·d + |D|² multiplications instead of d² when |D| < d
    (the issue's "use what the data allow"). Same fixed point as :func:`fused_update_map`: equal
    up to float rounding (tested against it and against τ literal steps).
    """
    if tau < 1:
        raise LearningError(f"tau must be ≥ 1, got {tau}")
    n = X.shape[0]
    s = 1.0 - 2.0 * eta * ridge
    K = X @ X.T
    P = np.zeros((n, n))
    s_k = 1.0
    for _ in range(tau):
        P = s * P - (eta / n) * (s_k * np.eye(n) + P @ K)
        s_k *= s
    c = fused_update_map_constant(X, y, eta, tau, ridge)
    return LowRankMap(s_tau=s_k, P=P, Q_minus_I=(s_k - 1.0) * np.eye(n) + K @ P, c=c)


def fused_update_map_constant(
    X: np.ndarray, y: np.ndarray, eta: float, tau: int, ridge: float = 0.0
) -> np.ndarray:
    """c = Σ_{s<τ} M^s·ηb of :func:`fused_update_map` by τ matrix-vector products: it is the
    model τ steps reach from w_0 = 0 (O(τ·|D|·d), no d × d matrix)."""
    return local_steps(np.zeros(X.shape[1]), X, y, eta, tau, ridge)


def closed_form(X: np.ndarray, y: np.ndarray, ridge: float = 0.0) -> np.ndarray:
    """argmin_w (1/|D|) Σ ½(y − wᵀx)² + γ‖w‖²: solves (XᵀX/|D| + 2γI) w = Xᵀy/|D|."""
    d = X.shape[1]
    A = X.T @ X / X.shape[0] + 2.0 * ridge * np.eye(d)
    return np.linalg.solve(A, X.T @ y / X.shape[0])
