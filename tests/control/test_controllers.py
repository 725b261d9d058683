"""Controllers: the interface contract (every registered controller), the energy account, Algorithm
1's first-round and last-round rules, and the baselines' restrictions."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hefl.control import (
    CONTROLLERS,
    BudgetConfig,
    Controller,
    FixedTauController,
    JobInfo,
    JointController,
    OnlyAggregationController,
    OnlyResourceController,
    RoundPlan,
    RoundReport,
    make_controller,
    min_round_energy,
    solve_tau,
)
from hefl.costs import CostModel, CostParameters, FrequencyPlan
from hefl.errors import ConfigError

JOB = JobInfo(dataset_sizes=(81,) * 5, model_size=14, learning_rate=0.001)
MODEL = CostModel(CostParameters(), JOB.dataset_sizes, JOB.model_size)
MAX_ROUNDS = 20_000

FACTORIES: dict[str, Callable[[], Controller]] = {
    "joint": lambda: JointController(energy_budget=200.0),
    "joint-per-round": lambda: JointController(
        energy_budget=5.0, time_limit="per_round", tau_cap=50
    ),
    "only-aggregation": lambda: OnlyAggregationController(energy_budget=200.0),
    "only-resource": lambda: OnlyResourceController(energy_budget=400.0, dataset="boston"),
    "only-resource-per-round": lambda: OnlyResourceController(
        energy_budget=300.0, tau=5, time_limit="per_round"
    ),
    "fixed": lambda: FixedTauController(tau=4, rounds=3),
}


def report(
    g: int, plan: RoundPlan, phi: float | None = 2.0, omega: float | None = 0.3
) -> RoundReport:
    return RoundReport(
        round_index=g, iteration=0, tau=plan.tau, train_loss=0.1, phi_hat=phi, omega_hat=omega
    )


def drive(controller: Controller, job: JobInfo = JOB, **estimates: float | None) -> list[RoundPlan]:
    """Run a controller the way the learning loop does, with synthetic reports."""
    plans: list[RoundPlan] = []
    plan = controller.start(job)
    while plan is not None:
        plans.append(plan)
        assert len(plans) <= MAX_ROUNDS, "controller never stops"
        plan = controller.observe(report(len(plans) - 1, plan, **estimates))
    return plans


def test_registry_names_every_controller() -> None:
    assert set(CONTROLLERS) == {"joint", "only-aggregation", "only-resource", "fixed"}
    assert isinstance(make_controller("joint", energy_budget=10.0), JointController)
    assert isinstance(make_controller("fixed", tau=2, rounds=1), FixedTauController)
    with pytest.raises(ConfigError, match="joint"):
        make_controller("nope")


@pytest.mark.parametrize("name", sorted(FACTORIES))
class TestControllerContract:
    """What the learning loop relies on, for every controller."""

    def test_start_plans_a_valid_round(self, name: str) -> None:
        plan = FACTORIES[name]().start(JOB)
        assert isinstance(plan, RoundPlan)
        assert isinstance(plan.tau, int) and plan.tau >= 1
        assert plan.frequencies is None or isinstance(plan.frequencies, Mapping)
        assert plan.energy is None or plan.energy > 0

    def test_runs_to_completion_and_stops_after_last(self, name: str) -> None:
        plans = drive(FACTORIES[name]())
        assert plans, "at least one round"
        assert all(isinstance(p.tau, int) and p.tau >= 1 for p in plans)
        assert [p.last for p in plans[:-1]] == [False] * (len(plans) - 1)
        assert plans[-1].last

    def test_observe_after_stop_keeps_returning_none(self, name: str) -> None:
        controller = FACTORIES[name]()
        plans = drive(controller)
        assert controller.observe(report(len(plans), plans[-1])) is None

    def test_restart_gives_the_same_plans(self, name: str) -> None:
        controller = FACTORIES[name]()
        first = [(p.tau, p.energy, p.last) for p in drive(controller)]
        second = [(p.tau, p.energy, p.last) for p in drive(controller)]
        assert first == second

    def test_tolerates_missing_estimates(self, name: str) -> None:
        plans = drive(FACTORIES[name](), phi=None, omega=None)
        assert plans and plans[-1].last

    def test_frequency_plans_satisfy_c2(self, name: str) -> None:
        for plan in drive(FACTORIES[name]()):
            if plan.frequencies is None:
                continue
            f = plan.frequencies
            local = np.asarray(f["local"])
            consensus = np.asarray(f["consensus"])
            learn = np.append(local, f["aggregation"])
            assert np.all(learn + consensus.max(axis=1) <= MODEL.caps * (1 + 1e-9))

    def test_booked_energy_is_the_cost_of_the_planned_frequencies(self, name: str) -> None:
        for plan in drive(FACTORIES[name]()):
            if plan.frequencies is None:
                assert plan.energy is None
                continue
            f = plan.frequencies
            freq = FrequencyPlan.from_arrays(
                np.asarray(f["local"]), f["aggregation"], np.asarray(f["consensus"])
            )
            # Eqs. 19–21: τ·F_J(f) + F_Q(f), recomputed from the plan the loop receives
            assert plan.energy == pytest.approx(MODEL.round_energy(freq, plan.tau), rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    budget=st.floats(0.05, 300.0),
    name=st.sampled_from(["joint", "only-aggregation", "only-resource"]),
    mode=st.sampled_from(["total", "per_round"]),
    phi=st.floats(0.01, 20.0),
    omega=st.floats(0.0, 5.0),
)
def test_energy_account_never_exceeds_budget(
    budget: float, name: str, mode: str, phi: float, omega: float
) -> None:
    # per_round with a 20 s deadline keeps rounds expensive enough for a short test
    options: dict[str, object] = {"energy_budget": budget, "time_limit": mode, "tau_cap": 60}
    if mode == "per_round":
        options["time_budget"] = 20.0
    if name == "only-resource":
        options["tau"] = 7
    controller = make_controller(name, **options)
    plans = drive(controller, phi=phi, omega=omega)
    booked = sum(p.energy or 0.0 for p in plans)
    assert booked <= budget
    assert controller.account.used <= budget  # type: ignore[attr-defined]
    assert controller.account.used == pytest.approx(booked)  # type: ignore[attr-defined]
    if mode == "total":
        account = controller.account  # type: ignore[attr-defined]
        assert max(account.learning_time, account.consensus_time) <= 300.0 * (1 + 1e-9)


def test_joint_first_round_is_tau_1_with_even_split() -> None:
    plan = JointController(energy_budget=200.0).start(JOB)
    assert plan is not None and plan.tau == 1
    even = MODEL.uniform_plan(0.5).as_mapping()
    assert plan.frequencies == even
    assert plan.energy == pytest.approx(MODEL.round_energy(MODEL.uniform_plan(0.5), 1))


def test_joint_tau_search_grows_by_the_table_1_factor() -> None:
    controller = JointController(energy_budget=1e4, time_budget=1e5)
    plans = drive(controller, phi=1e-3, omega=0.0)  # no divergence: larger τ is never worse
    taus = [p.tau for p in plans]
    for before, after in itertools.pairwise(taus):
        assert after <= 10 * before
    assert taus[:3] == [1, 10, 100]


def test_joint_adapts_tau_to_the_divergence_estimate() -> None:
    def second_tau(omega: float) -> int:
        controller = JointController(energy_budget=1e4, time_budget=1e5)
        first = controller.start(JOB)
        assert first is not None
        plan = controller.observe(report(0, first, phi=3.0, omega=omega))
        assert plan is not None
        return plan.tau

    assert second_tau(50.0) < second_tau(0.0)


def test_only_aggregation_keeps_equal_fixed_frequencies() -> None:
    even = MODEL.uniform_plan(0.5).as_mapping()
    plans = drive(OnlyAggregationController(energy_budget=200.0))
    assert all(p.frequencies == even for p in plans)
    assert len({p.tau for p in plans}) > 1  # τ is adapted


def test_only_resource_fixed_tau_per_dataset() -> None:
    assert OnlyResourceController(energy_budget=1.0, dataset="boston").tau == 25
    assert OnlyResourceController(energy_budget=1.0, dataset="fish").tau == 30
    with pytest.raises(ConfigError, match="tau"):
        OnlyResourceController(energy_budget=1.0)
    with pytest.raises(ConfigError):
        OnlyResourceController(energy_budget=1.0, dataset="mnist")


def test_last_round_shrinks_tau_to_the_remaining_energy() -> None:
    # per_round: one round of τ = 10 at the deadline ξ costs P; give 2.5 P.
    tau = 10
    one = min_round_energy(MODEL, tau, 300.0)
    assert one is not None
    budget = 2.5 * one.energy
    controller = OnlyResourceController(energy_budget=budget, tau=tau, time_limit="per_round")
    plans = drive(controller)
    assert [p.tau for p in plans[:2]] == [tau, tau]
    last = plans[-1]
    assert len(plans) == 3 and last.last and last.tau < tau
    remaining = budget - 2 * one.energy
    # the largest τ whose round the remaining energy pays for
    assert solve_tau(MODEL, last.tau, remaining, time_limit="per_round").rounds == 1
    assert solve_tau(MODEL, last.tau + 1, remaining, time_limit="per_round").rounds == 0


def test_joint_last_round_takes_the_largest_affordable_tau() -> None:
    controller = JointController(energy_budget=150.0, tau_cap=200)
    plans = drive(controller)
    last = plans[-1]
    assert last.last
    before = controller.account.used - (last.energy or 0.0)
    remaining = controller.config.energy_budget - before
    spent = sum(r.learning_time for r in controller.history[:-1])
    time_left = 300.0 - max(spent, sum(r.consensus_time for r in controller.history[:-1]))
    bigger = solve_tau(MODEL, last.tau + 1, remaining, time_budget=time_left)
    assert bigger.rounds == 0 or last.tau + 1 > 10 * plans[-2].tau


def test_budget_too_small_for_any_round_stops_at_once() -> None:
    assert JointController(energy_budget=1e-9).start(JOB) is None
    assert OnlyResourceController(energy_budget=1e-9, tau=3).start(JOB) is None


def test_bad_configuration_raises() -> None:
    with pytest.raises(ConfigError):
        BudgetConfig(energy_budget=-1.0)
    with pytest.raises(ConfigError):
        BudgetConfig(energy_budget=1.0, time_limit="none")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        JointController(energy_budget=1.0).observe(
            RoundReport(round_index=0, iteration=1, tau=1, train_loss=0.0)
        )
    assert math.isfinite(BudgetConfig(energy_budget=1.0).xi)


@pytest.mark.parametrize("name", ["joint", "only-aggregation", "only-resource"])
def test_factories_take_the_keywords_hefl_run_passes(name: str) -> None:
    # hefl run calls CONTROLLERS[name](energy_budget=…, tau=…, dataset=…) for every controller.
    controller = CONTROLLERS[name](energy_budget=50.0, tau=5, dataset="fish")
    assert controller.config.params.b0 == 2.0  # type: ignore[attr-defined]
    other = CONTROLLERS[name](energy_budget=50.0, tau=5, dataset="diabetes")
    assert other.config.params.b0 == CostParameters().b0  # type: ignore[attr-defined]
    if name == "only-resource":
        assert controller.tau == 5  # type: ignore[attr-defined]


def test_first_round_falls_back_to_optimised_frequencies() -> None:
    # 25 steps at half the CPU need ≈ 378 s > ξ = 300 s: the even split does not fit, the
    # least-energy frequencies for τ = 25 do, and the job goes on afterwards.
    controller = JointController(energy_budget=400.0, initial_tau=25)
    plans = drive(controller)
    assert plans[0].tau == 25 and not plans[0].last
    assert plans[0].frequencies != MODEL.uniform_plan(0.5).as_mapping()
    assert len(plans) >= 2
