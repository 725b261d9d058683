"""The plaintext reference against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from hefl.data import SplitConfig, load_dataset, prepare
from hefl.learning.estimates import estimate_phi_omega
from hefl.learning.linear import (
    aggregate,
    closed_form,
    fused_update_map,
    gradient,
    local_steps,
    loss,
)


@pytest.fixture(scope="module")
def boston():
    return prepare(load_dataset("boston"), SplitConfig(participants=5))


def test_gradient_matches_finite_differences(boston) -> None:
    part = boston.parts[0]
    w = np.linspace(-0.5, 0.5, boston.model_size)
    g = gradient(w, part.X, part.y, ridge=0.01)
    eps = 1e-6
    numeric = [
        (loss(w + eps * e, part.X, part.y, 0.01) - loss(w - eps * e, part.X, part.y, 0.01))
        / (2 * eps)
        for e in np.eye(len(w))
    ]
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("tau", [1, 5, 25, 90])
def test_fused_map_equals_tau_literal_steps(boston, tau: int) -> None:
    part = boston.parts[1]
    w0 = np.random.default_rng(tau).normal(size=boston.model_size)
    literal = local_steps(w0, part.X, part.y, eta=0.05, tau=tau, ridge=0.001)
    fused = fused_update_map(part.X, part.y, eta=0.05, tau=tau, ridge=0.001)(w0)
    np.testing.assert_allclose(fused, literal, rtol=1e-12, atol=1e-12)


def test_distributed_gd_converges_to_the_ridge_closed_form(boston) -> None:
    ridge = 0.01
    A = boston.X_train.T @ boston.X_train / boston.X_train.shape[0]
    eta = 1.0 / (np.linalg.eigvalsh(A)[-1] + 2 * ridge)
    target = closed_form(boston.X_train, boston.y_train, ridge)
    best = loss(target, boston.X_train, boston.y_train, ridge)
    for tau, iterations, atol in [(1, 2000, 1e-5), (5, 400, 2e-2)]:
        w = np.zeros(boston.model_size)
        for _ in range(iterations):
            w = aggregate(
                [local_steps(w, p.X, p.y, eta, tau, ridge) for p in boston.parts], boston.sizes
            )
        # τ = 1 is exact gradient descent on F; τ > 1 drifts slightly (client drift).
        np.testing.assert_allclose(w, target, atol=atol)
        assert loss(w, boston.X_train, boston.y_train, ridge) <= best * 1.01


def test_aggregate_is_the_size_weighted_mean() -> None:
    models = [np.array([1.0, 0.0]), np.array([0.0, 3.0])]
    np.testing.assert_allclose(aggregate(models, [1, 3]), [0.25, 2.25])


def test_estimates_on_a_quadratic_recover_curvature_bounds(boston) -> None:
    start = np.zeros(boston.model_size)
    locals_, g0, g1 = [], [], []
    for p in boston.parts:
        w_i = local_steps(start, p.X, p.y, 0.1, 10)
        locals_.append(w_i)
        g0.append(gradient(start, p.X, p.y))
        g1.append(gradient(w_i, p.X, p.y))
    est = estimate_phi_omega(start, locals_, g0, g1, boston.sizes)
    # For a quadratic the secant ratio lies between the smallest and largest eigenvalue of A_i.
    for p, phi_i in zip(boston.parts, est.phi_per_participant, strict=True):
        eig = np.linalg.eigvalsh(p.X.T @ p.X / p.size)
        assert eig[0] - 1e-12 <= phi_i <= eig[-1] + 1e-12
    full = gradient(start, boston.X_train, boston.y_train)
    expected = np.mean([np.linalg.norm(g - full) for g in g0])  # equal sizes
    assert est.omega == pytest.approx(expected, rel=1e-12)
    # No movement: φ̂ cannot be estimated and is reported as None.
    still = estimate_phi_omega(start, [start] * 5, g0, g0, boston.sizes)
    assert still.phi is None
