"""The divergence guard's bound is the real stability edge of local gradient descent (Eq. 4): just
below 2/L the iterates contract, just above they blow up; the guard's verdicts name η and it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hefl.data import SplitConfig, load_dataset, prepare
from hefl.errors import DivergenceError
from hefl.learning import linear
from hefl.learning.divergence import (
    DIVERGENCE_FACTOR,
    auto_eta,
    check_round,
    published_bound,
    safe_model_bits,
    smoothness,
    step_size_bound,
)


@pytest.fixture(scope="module")
def parts():
    return prepare(load_dataset("diabetes"), SplitConfig(participants=3, n_samples=None)).parts


@pytest.mark.parametrize("ridge", [0.0, 0.05])
def test_two_over_l_is_the_edge_of_stable_local_descent(parts, ridge: float) -> None:
    for part in parts:
        bound = published_bound(part, ridge)
        start = np.zeros(part.X.shape[1])
        below = linear.local_steps(start, part.X, part.y, 0.98 * bound, 400, ridge)
        above = linear.local_steps(start, part.X, part.y, 1.02 * bound, 400, ridge)
        optimum = linear.loss(linear.closed_form(part.X, part.y, ridge), part.X, part.y, ridge)
        assert linear.loss(below, part.X, part.y, ridge) < 2 * optimum + 1e-3
        assert linear.loss(above, part.X, part.y, ridge) > 1e3


def test_the_job_bound_is_the_least_smooth_participants(parts) -> None:
    bounds = [published_bound(p) for p in parts]
    assert step_size_bound(bounds) == min(bounds)
    assert step_size_bound([]) == math.inf
    assert auto_eta(min(bounds)) == pytest.approx(1 / max(smoothness(p) for p in parts))
    with pytest.raises(DivergenceError, match="--eta"):
        auto_eta(math.inf)


def test_the_guard_names_eta_and_the_safe_eta() -> None:
    model = np.ones(3)
    assert check_round(0, 0.1, 1.2, 1.0, 0.5, model, 900) is None
    assert check_round(0, 0.1, 1.2, 1.0, DIVERGENCE_FACTOR * 0.99, model, 900) is None
    grown = check_round(4, 100.0, 1.2, 1.0, 1e9, model, 900)
    assert isinstance(grown, DivergenceError)
    assert "round 4" in str(grown) and "η = 100" in str(grown) and "< 1.2" in str(grown)
    assert "--eta 0.6" in str(grown)
    outside = check_round(1, 100.0, 1.2, 1.0, 0.5, np.array([2.0**901]), 900)
    assert isinstance(outside, DivergenceError) and "±2^900" in str(outside)
    assert isinstance(check_round(1, 0.1, 1.2, 1.0, math.nan, model, 900), DivergenceError)


def test_the_safe_range_fits_the_key_and_float64() -> None:
    # A 2048-bit key leaves more room than float64; a 512-bit key less.
    assert safe_model_bits(2048, 40, 30) == 1023 - 30 - 16
    assert safe_model_bits(512, 40, 30) == 512 - 2 - 40 - 60 - 16
