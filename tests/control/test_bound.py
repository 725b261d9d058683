"""h(τ), A(τ) and the bound (24) against a 60-digit decimal reference."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal, getcontext

import pytest

from hefl.control.bound import bound_denominator, convergence_bound, h_tau
from hefl.errors import SolverError


def h_reference(tau: int, eta: float, phi: float, omega: float) -> float:
    getcontext().prec = 60
    e, p, w = Decimal(eta), Decimal(phi), Decimal(omega)
    return float((w / p) * ((e * p + 1) ** tau - 1) - e * w * tau)


@pytest.mark.parametrize("tau", [1, 2, 3, 10, 90, 900])
@pytest.mark.parametrize(("eta", "phi"), [(1e-3, 1e-5), (1e-3, 0.05), (1e-3, 3.0), (0.1, 5.0)])
def test_h_matches_high_precision(tau: int, eta: float, phi: float) -> None:
    expected = h_reference(tau, eta, phi, 0.7)
    got = h_tau(tau, eta, phi, 0.7)
    if expected == 0:
        assert got == 0
    else:
        assert got == pytest.approx(expected, rel=1e-9)


def test_h_of_one_is_zero_and_series_is_continuous() -> None:
    assert h_tau(1, 1e-3, 2.0, 1.0) == 0.0
    # Both sides of the series threshold τηφ = 1e-4 agree with the reference.
    for phi in (0.099999, 0.1, 0.100001):
        assert h_tau(1000, 1e-3, phi, 1.0) == pytest.approx(
            h_reference(1000, 1e-3, phi, 1.0), rel=1e-9
        )


def test_a_decreases_and_a1_is_closed_form() -> None:
    eta, phi, omega, b0 = 1e-3, 3.0, 0.5, 1.5
    assert bound_denominator(1, eta, phi, omega, b0) == pytest.approx(eta * (1 - phi * eta / 2))
    values = [bound_denominator(t, eta, phi, omega, b0) for t in range(1, 400)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_bound_is_inf_where_meaningless() -> None:
    eta, phi, omega, b0 = 0.1, 5.0, 10.0, 2.0
    assert bound_denominator(50, eta, phi, omega, b0) < 0
    assert convergence_bound(500, 50, eta, phi, omega, b0) == math.inf
    a = bound_denominator(1, eta, phi, omega, b0)
    assert convergence_bound(40, 1, eta, phi, omega, b0) == pytest.approx(1 / (40 * a))


@pytest.mark.parametrize(
    "args", [(1, 0.0, 1.0, 1.0), (1, 1e-3, 0.0, 1.0), (1, 1e-3, 1.0, -1.0), (0, 1e-3, 1.0, 1.0)]
)
def test_bad_input_raises(args: tuple[float, float, float, float]) -> None:
    with pytest.raises(SolverError):
        h_tau(*args)
