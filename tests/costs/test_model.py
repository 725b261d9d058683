"""Cost formulas (Eqs. 12–21) against hand-computed cases; Table 1 defaults."""

from __future__ import annotations

import numpy as np
import pytest

from hefl.costs import (
    CostModel,
    CostParameters,
    FrequencyPlan,
    aggregation_cycles,
    local_update_cycles,
    step_energy,
    step_time,
)
from hefl.errors import ConfigError


def test_table_1_defaults_in_si_units() -> None:
    p = CostParameters()
    assert (p.mu1, p.mu2, p.alpha, p.beta, p.theta) == (10e6, 0.5e6, 0.2e6, 8e6, 0.05e6)
    assert (p.gamma, p.f_max, p.xi, p.eta, p.tau_max_factor) == (1e-28, 1.5e9, 300.0, 0.001, 10)
    assert CostParameters.for_dataset("boston").b0 == 1.5
    assert CostParameters.for_dataset("Fish").b0 == 2.0


@pytest.mark.parametrize(
    "bad", [{"mu1": 0}, {"gamma": -1.0}, {"xi": float("nan")}, {"tau_max_factor": 0}]
)
def test_bad_parameters_raise(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        CostParameters(**bad)  # type: ignore[arg-type]


def test_unknown_dataset_raises() -> None:
    with pytest.raises(ConfigError, match="boston"):
        CostParameters.for_dataset("mnist")


def test_learning_cycles_hand_computed() -> None:
    p = CostParameters()
    # Eq. 12: 10e6 · 14 · 81.
    assert local_update_cycles(p, 14, 81) == pytest.approx(1.134e10)
    # Eq. 13 with N = 2, |w| = 3, |D| = (4, 6): 10e6·2·3 + 0.5e6·(2·3·4 + 2·3·6) = 6e7 + 3e7.
    assert aggregation_cycles(p, 3, (4, 6)) == pytest.approx(9e7)


def test_time_and_energy_of_a_step() -> None:
    assert step_time(3e9, 1.5e9) == pytest.approx(2.0)
    # γ·Δ·f² = 1e-28 · 1e10 · (1e9)² = 1 J; δ = 0 gates it off.
    assert step_energy(1e10, 1e9, 1e-28) == pytest.approx(1.0)
    assert step_energy(1e10, 1e9, 1e-28, delta=0) == 0.0


def small_model() -> CostModel:
    # N = 2, |w| = 3, |D| = (4, 6); K = N = 2; n = 3, F = 0.
    return CostModel(CostParameters(), (4, 6), 3)


def test_model_cycle_table_hand_computed() -> None:
    m = small_model()
    b, t, a = 8e6, 0.05e6, 0.2e6
    np.testing.assert_allclose(m.local_cycles, [1.2e8, 1.8e8])
    assert m.aggregation_cycles == pytest.approx(9e7)
    request = 2 * (b + t) + b + 2 * t
    pre_prepare = b + t + 2 * (b + t) + a + b + 2 * t
    prepare = b + 2 * t  # F = 0
    commit = 2 * (b + t)
    expected = [
        [0, pre_prepare, prepare, commit, 0],
        [0, pre_prepare, prepare, commit, 0],
        [request, 0, prepare, commit, 0],  # reply = 2F(β+θ) = 0
    ]
    np.testing.assert_allclose(m.consensus_cycles, expected)
    np.testing.assert_array_equal(
        m.participation, [[1, 0, 0, 1, 1, 1, 0], [1, 0, 0, 1, 1, 1, 0], [0, 1, 1, 0, 1, 1, 1]]
    )
    np.testing.assert_allclose(
        m.consensus_totals,
        [pre_prepare + prepare + commit] * 2 + [request + prepare + commit],
    )


def test_energy_and_time_of_a_plan_hand_computed() -> None:
    m = small_model()
    g = 1e-28
    plan = FrequencyPlan(
        local=(1e9, 5e8),
        aggregation=1.2e9,
        consensus=((0, 2e8, 3e8, 4e8, 0), (0, 1e8, 1e8, 1e8, 0), (5e8, 0, 5e8, 5e8, 5e8)),
    )
    cs = m.consensus_cycles
    f_j = g * (1.2e8 * 1e18 + 1.8e8 * 2.5e17)  # Eq. 19
    f_q = g * (  # Eq. 20
        9e7 * 1.44e18
        + cs[0, 1] * 4e16
        + cs[0, 2] * 9e16
        + cs[0, 3] * 16e16
        + (cs[1, 1] + cs[1, 2] + cs[1, 3]) * 1e16
        + (cs[2, 0] + cs[2, 2] + cs[2, 3]) * 25e16
    )
    assert m.local_energy(plan) == pytest.approx(f_j, rel=1e-12)
    assert m.aggregation_energy(plan) == pytest.approx(f_q, rel=1e-12)
    assert m.round_energy(plan, 7) == pytest.approx(7 * f_j + f_q, rel=1e-12)
    # Eq. 21: F_e = T(F_J + F_Q/τ); with T = 21, τ = 7 that is three rounds.
    assert m.total_energy(plan, 21, 7) == pytest.approx(3 * (7 * f_j + f_q), rel=1e-12)
    # C3 bracket: max(7·1.2e8/1e9, 7·1.8e8/5e8) + 9e7/1.2e9.
    assert m.learning_time(plan, 7) == pytest.approx(max(0.84, 2.52) + 0.075)
    # C4: slowest node's sum over its steps.
    times = [
        cs[0, 1] / 2e8 + cs[0, 2] / 3e8 + cs[0, 3] / 4e8,
        (cs[1, 1] + cs[1, 2] + cs[1, 3]) / 1e8,
        (cs[2, 0] + cs[2, 2] + cs[2, 3]) / 5e8,
    ]
    assert m.consensus_time(plan) == pytest.approx(max(times))


def test_uniform_plan_splits_every_cap_evenly() -> None:
    m = CostModel(CostParameters(), (4, 6), 3, frequency_caps=(1e9, 2e9, 3e9))
    plan = m.uniform_plan()
    np.testing.assert_allclose(plan.local, [5e8, 1e9])
    assert plan.aggregation == pytest.approx(1.5e9)
    np.testing.assert_allclose(plan.consensus_share(), [5e8, 1e9, 1.5e9])
    m.check_plan(plan)
    assert plan.as_mapping()["aggregation"] == pytest.approx(1.5e9)


def test_check_plan_enforces_c2() -> None:
    m = small_model()
    plan = m.uniform_plan(0.5)
    bad = FrequencyPlan(plan.local, 1.0e9, plan.consensus)  # 1.0e9 + 0.75e9 > 1.5e9 at C
    with pytest.raises(ConfigError, match="C2"):
        m.check_plan(bad)


def test_model_rejects_bad_inputs() -> None:
    with pytest.raises(ConfigError):
        CostModel(CostParameters(), (), 3)
    with pytest.raises(ConfigError):
        CostModel(CostParameters(), (4, 0), 3)
    with pytest.raises(ConfigError):
        CostModel(CostParameters(), (4, 6), 3, frequency_caps=(1e9, 1e9))


def test_transactions_default_to_one_per_participant() -> None:
    assert CostModel(CostParameters(), (4, 6, 8), 3).transactions == 3
    m = CostModel(CostParameters(transactions_per_block=7), (4, 6, 8), 3)
    assert m.transactions == 7
