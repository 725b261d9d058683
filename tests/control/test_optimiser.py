"""The exact optimiser of (25) against SLSQP on log-frequencies, its invariants and its statuses."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hefl.control.optimiser import (
    SolveStatus,
    largest_affordable_tau,
    min_deadline,
    min_round_energy,
    optimise,
    solve_tau,
)
from hefl.costs import CostModel, CostParameters, FrequencyPlan
from hefl.errors import SolverError

from .slsqp_reference import max_rounds_total, min_energy_deadline

PARAMS = CostParameters()
#: Boston with N = 5 as hefl.data prepares it: 405 training rows, 13 features + bias.
BOSTON_N5 = CostModel(CostParameters.for_dataset("boston"), (81,) * 5, 14)


def random_instance(seed: int, kind: str) -> tuple[CostModel, int, float]:
    """A random job with heterogeneous caps and an energy budget placing the optimum in a chosen
    regime: ``tight`` (deadline close to the shortest feasible round: C2 clips), ``loose``
    (closed form) or ``time`` (more energy than the time limit can spend)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 6))
    sizes = tuple(int(s) for s in rng.integers(5, 100, n))
    caps = tuple(float(c) for c in rng.uniform(0.2, 1.0, n + 1) * PARAMS.f_max)
    model = CostModel(PARAMS, sizes, int(rng.integers(2, 15)), frequency_caps=caps)
    tau = int(rng.integers(1, 30))
    d_min = min_deadline(model, tau)
    u = {"tight": 10 ** rng.uniform(-3, -2), "loose": 10 ** rng.uniform(-0.3, 0.5), "time": 0.05}
    deadline = d_min * (1 + u[kind])
    sol = min_round_energy(model, tau, deadline)
    assert sol is not None
    energy = PARAMS.xi / deadline * sol.energy * (3.0 if kind == "time" else 1.0)
    return model, tau, energy


def check_against_slsqp(seeds: range) -> set[str]:
    methods = set()
    for seed in seeds:
        for kind in ("tight", "loose", "time"):
            model, tau, energy = random_instance(seed, kind)
            exact = solve_tau(model, tau, energy)
            reference = max_rounds_total(model, tau, energy, PARAMS.xi)
            assert exact.rounds_real == pytest.approx(reference, rel=1e-6), (seed, kind)
            methods.add(exact.method)
    return methods


def test_exact_rounds_agree_with_slsqp_total_mode() -> None:
    methods = check_against_slsqp(range(1))
    # closed form, C2/caps clipping (bisection) and the time limit all exercised
    assert methods == {"closed-form", "bisection", "time-limit"}


@pytest.mark.slow
def test_exact_rounds_agree_with_slsqp_many_instances() -> None:
    assert check_against_slsqp(range(1, 30)) == {"closed-form", "bisection", "time-limit"}


def check_min_energy_against_slsqp(seeds: range) -> list[str]:
    regimes = []
    for seed in seeds:
        model, tau, _ = random_instance(seed, "tight")
        deadline = min_deadline(model, tau) * 1.003
        exact = min_round_energy(model, tau, deadline)
        assert exact is not None
        regimes.append(exact.regime)
        assert exact.energy == pytest.approx(min_energy_deadline(model, tau, deadline), rel=1e-6)
        model.check_plan(exact.frequencies)
        assert exact.learning_time == pytest.approx(deadline, rel=1e-9)
        assert exact.consensus_time == pytest.approx(deadline, rel=1e-9)
    return regimes


def test_min_round_energy_agrees_with_slsqp_when_coupling_binds() -> None:
    assert check_min_energy_against_slsqp(range(0, 4, 2)) == ["coupling"] * 2


@pytest.mark.slow
def test_min_round_energy_agrees_with_slsqp_many_instances() -> None:
    regimes = check_min_energy_against_slsqp(range(2, 30))
    assert regimes.count("coupling") > len(regimes) // 2


def test_per_round_mode_agrees_with_slsqp() -> None:
    model, tau, _ = random_instance(5, "loose")
    xi = min_deadline(model, tau) * 1.01
    energy = 50.0
    exact = solve_tau(model, tau, energy, time_limit="per_round", time_budget=xi)
    reference = energy / min_energy_deadline(model, tau, xi)
    assert exact.rounds_real == pytest.approx(reference, rel=1e-6)


def test_closed_form_matches_formula() -> None:
    # No clip at Boston scale and a small budget: G* = (E ξ² / (γ(c_L³ + Σ c_i³)))^{1/3}.
    m, tau, energy = BOSTON_N5, 10, 100.0
    sol = solve_tau(m, tau, energy)
    assert sol.method == "closed-form"
    c_l = tau * np.cbrt(np.sum(m.local_cycles**3)) + m.aggregation_cycles
    c_s3 = np.sum(m.consensus_totals**3)
    expected = np.cbrt(energy * 300.0**2 / (1e-28 * (c_l**3 + c_s3)))
    assert sol.rounds_real == pytest.approx(expected, rel=1e-12)
    assert sol.rounds == math.floor(expected)
    # the plan for ⌊G*⌋ rounds stays within budget and time
    assert sol.round is not None
    assert sol.rounds * sol.round.energy <= energy
    assert sol.rounds * sol.round.deadline <= 300.0 * (1 + 1e-12)
    # participants finish together: f_1i ∝ Δ_1i
    ratio = np.asarray(sol.round.frequencies.local) / m.local_cycles
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)


def test_fixed_frequencies_hand_computed() -> None:
    m = BOSTON_N5
    plan = m.uniform_plan()
    tau, energy = 3, 40.0
    p = m.round_energy(plan, tau)
    t = max(m.learning_time(plan, tau), m.consensus_time(plan))
    sol = solve_tau(m, tau, energy, frequencies=plan)
    assert sol.rounds_real == pytest.approx(min(energy / p, 300.0 / t))
    per_round = solve_tau(m, tau, energy, frequencies=plan, time_limit="per_round")
    assert per_round.rounds_real == pytest.approx(energy / p)


def test_fixed_frequencies_must_satisfy_c2() -> None:
    plan = BOSTON_N5.uniform_plan()
    bad = FrequencyPlan(plan.local, 1.4e9, plan.consensus)
    with pytest.raises(SolverError, match="C2"):
        solve_tau(BOSTON_N5, 1, 10.0, frequencies=bad)


@settings(max_examples=25, deadline=None)
@given(
    e1=st.floats(0.5, 5e4),
    factor=st.floats(1.0, 50.0),
    mode=st.sampled_from(["total", "per_round"]),
)
def test_more_energy_never_gives_a_worse_optimum(e1: float, factor: float, mode: str) -> None:
    kw = {"phi": 2.0, "omega": 0.3, "tau_max": 40, "time_limit": mode}
    first = optimise(BOSTON_N5, e1, **kw)  # type: ignore[arg-type]
    second = optimise(BOSTON_N5, e1 * factor, **kw)  # type: ignore[arg-type]
    assert second.bound <= first.bound
    if first.success:
        assert second.success


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    factor=st.floats(1.0, 20.0),
    mode=st.sampled_from(["total", "per_round"]),
)
def test_more_energy_never_worse_on_random_jobs(seed: int, factor: float, mode: str) -> None:
    model, tau, energy = random_instance(seed, "tight")
    xi = PARAMS.xi if mode == "total" else min_deadline(model, tau) * 1.5
    kw = {"phi": 1.0, "omega": 0.1, "tau_max": 2 * tau, "time_limit": mode, "time_budget": xi}
    first = optimise(model, energy, **kw)  # type: ignore[arg-type]
    second = optimise(model, energy * factor, **kw)  # type: ignore[arg-type]
    assert second.bound <= first.bound
    low = solve_tau(model, tau, energy, time_limit=mode, time_budget=xi)  # type: ignore[arg-type]
    high = solve_tau(model, tau, energy * factor, time_limit=mode, time_budget=xi)  # type: ignore[arg-type]
    assert high.rounds_real >= low.rounds_real * (1 - 1e-12)


@pytest.mark.parametrize("mode", ["total", "per_round"])
def test_result_is_consistent(mode: str) -> None:
    energy = 500.0
    res = optimise(BOSTON_N5, energy, phi=2.0, omega=0.3, tau_max=60, time_limit=mode)  # type: ignore[arg-type]
    assert res.success and res.status == SolveStatus.OPTIMAL
    assert res.tau is not None and 1 <= res.tau <= 60
    assert res.iterations == res.tau * res.rounds
    assert res.energy == pytest.approx(res.rounds * res.round_energy)
    assert res.energy <= energy
    assert res.frequencies is not None
    BOSTON_N5.check_plan(res.frequencies)
    assert res.learning_time <= res.deadline * (1 + 1e-9)
    assert res.consensus_time <= res.deadline * (1 + 1e-9)
    if mode == "total":
        assert res.rounds * res.deadline <= 300.0 * (1 + 1e-9)
    best = min(c.bound for c in res.candidates)
    assert res.bound == best


def test_boston_table_1_literal_total_time_limit() -> None:
    # The papers README: at f_max one local step ≈ 7.6 s, aggregation ≈ 9.9 s, so no τ above ≈ 38
    # fits even one round of ξ = 300 s, whatever the energy.
    assert min_deadline(BOSTON_N5, 38) <= 300.0 < min_deadline(BOSTON_N5, 39)
    res = optimise(BOSTON_N5, 1e9, phi=2.0, omega=0.3, tau_max=90)
    feasible = [c.tau for c in res.candidates if c.rounds >= 1]
    assert max(feasible) == 38
    # with unlimited energy the time limit binds: at most ≈ 38 local steps in all
    assert max(c.tau * c.rounds for c in res.candidates) <= 38


def test_infeasible_is_a_status_not_an_error() -> None:
    res = optimise(BOSTON_N5, 1e-6, phi=2.0, omega=0.3, tau_max=10)
    assert not res.success and res.status == SolveStatus.INFEASIBLE
    assert "energy budget" in res.message
    short = optimise(BOSTON_N5, 100.0, phi=2.0, omega=0.3, tau_max=10, time_budget=1.0)
    assert not short.success and "ξ" in short.message
    meaningless = optimise(BOSTON_N5, 100.0, phi=5.0, omega=1e3, tau_max=10, eta=0.5)
    assert not meaningless.success and "A(τ)" in meaningless.message


@pytest.mark.parametrize(
    "kwargs",
    [
        {"energy": 0.0},
        {"energy": math.nan},
        {"time_limit": "none"},
        {"tau_max": 0},
        {"phi": 0.0},
        {"omega": -1.0},
        {"taus": []},
        {"time_budget": -5.0},
    ],
)
def test_bad_input_raises(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"energy": 10.0, "phi": 1.0, "omega": 0.1, "tau_max": 5}
    args.update(kwargs)
    energy = args.pop("energy")
    with pytest.raises(SolverError):
        optimise(BOSTON_N5, energy, **args)  # type: ignore[arg-type]


def test_largest_affordable_tau() -> None:
    energy = 30.0
    sol = largest_affordable_tau(BOSTON_N5, energy, 200)
    assert sol is not None and sol.rounds >= 1
    assert solve_tau(BOSTON_N5, sol.tau + 1, energy).rounds == 0
    assert largest_affordable_tau(BOSTON_N5, 1e-9, 50) is None
