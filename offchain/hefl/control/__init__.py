"""Controllers: who decides τ and CPU frequencies each round (Algorithm 1).

:mod:`hefl.control.base` is the interface the round loop uses; :mod:`hefl.control.loop` the
loop itself (Algorithm 1), shared by the plaintext simulation and the encrypted job;
:mod:`hefl.control.bound` the bound (24); :mod:`hefl.control.optimiser` the exact solution of (25);
and :mod:`hefl.control.controllers` Algorithm 1's controller and its baselines, registered by name
in :data:`CONTROLLERS`.
"""

from hefl.control.base import Controller, FixedTauController, JobInfo, RoundPlan, RoundReport
from hefl.control.bound import bound_denominator, convergence_bound, h_tau
from hefl.control.controllers import (
    CONTROLLERS,
    FIRST_ROUNDS,
    UNCAPPED_TAU_MAX,
    BudgetConfig,
    BudgetedController,
    EnergyAccount,
    FirstRound,
    JointController,
    OnlyAggregationController,
    OnlyResourceController,
    PlanRecord,
    make_controller,
)
from hefl.control.loop import RoundStep, RoundSummary, StepResult, Trace, run_rounds
from hefl.control.optimiser import (
    TIME_LIMITS,
    OptimiseResult,
    RoundSolution,
    SolveStatus,
    TauCandidate,
    TauSolution,
    TimeLimit,
    largest_affordable_tau,
    min_deadline,
    min_round_energy,
    optimise,
    solve_tau,
)

__all__ = [
    "CONTROLLERS",
    "FIRST_ROUNDS",
    "TIME_LIMITS",
    "UNCAPPED_TAU_MAX",
    "BudgetConfig",
    "BudgetedController",
    "Controller",
    "EnergyAccount",
    "FirstRound",
    "FixedTauController",
    "JobInfo",
    "JointController",
    "OnlyAggregationController",
    "OnlyResourceController",
    "OptimiseResult",
    "PlanRecord",
    "RoundPlan",
    "RoundReport",
    "RoundSolution",
    "RoundStep",
    "RoundSummary",
    "SolveStatus",
    "StepResult",
    "TauCandidate",
    "TauSolution",
    "TimeLimit",
    "Trace",
    "bound_denominator",
    "convergence_bound",
    "h_tau",
    "largest_affordable_tau",
    "make_controller",
    "min_deadline",
    "min_round_energy",
    "optimise",
    "run_rounds",
    "solve_tau",
]
