"""Algorithm 1 and its two baselines as :class:`~hefl.control.base.Controller` subclasses.

All three keep an energy account against the budget E′ (Algorithm 1, lines 1–2, 13–14): before a
round they book the energy its plan costs, τ·F_J(f) + F_Q(f) (Eqs. 19–21), and never plan a round
the rest of the budget cannot pay for, so the account never exceeds E′. In ``time_limit="total"``
mode they also account the learning and consensus time against ξ (C3, C4).

* :class:`JointController` — Algorithm 1: τ and every frequency from (25), re-solved each round with
  the latest φ̂, ω̂ (Eqs. 22–23) and what is left of the budget.
* :class:`OnlyAggregationController` — the only-aggregation baseline (Wang et al.'s adaptive τ):
  every node and step at an equal, fixed share of its CPU; τ from (25) with those frequencies.
* :class:`OnlyResourceController` — the only-resource baseline: τ fixed (25 Boston, 30 fish),
  frequencies optimised.

Rules for the first rounds and the last (Wang et al., JSAC 2019, Algorithm 2, as Algorithm 1 here):

* the first round runs τ = 1 with the CPU "evenly distributed to each process" (learning and
  consensus each get half of f_i; if that round does not fit the budget, the least-energy
  frequencies for it) — the estimates φ̂, ω̂ only exist after an aggregation;
  until an estimate arrives φ falls back to ``phi_floor`` and ω to 0. ``first_round`` names the
  reading (:data:`FIRST_ROUNDS`): ``"probe"`` that half-speed round charged against E′ and ξ
  (the default, Algorithm 1 as written), ``"optimised"`` τ = 1 at the least-energy frequencies
  (25) gives it, charged, or ``"free"`` the half-speed probe not charged (a warm-up outside the
  budget);
* τ is searched in [1, τ_max] with τ_max = ``tau_max_factor`` × the current τ (Table 1 "10τ";
  ``growth_cap=False`` drops it, leaving :data:`UNCAPPED_TAU_MAX`), capped by ``tau_cap``;
* φ̂ is floored at ``phi_floor`` (the secant estimate (22) can come out 0);
* the last round: once the rest of the budget no longer pays for two rounds of the chosen τ, the
  controller plans one final round with the largest τ the remaining energy (and time) allows
  (Algorithm 1, lines 16–18) and marks it ``last``; it stops when not even τ = 1 fits. A
  fixed-τ scheme with ``shorten_last_round=False`` runs only whole rounds of its τ instead.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, get_args

from hefl.control.base import Controller, FixedTauController, JobInfo, RoundPlan, RoundReport
from hefl.control.bound import bound_denominator
from hefl.control.optimiser import (
    TIME_LIMITS,
    RoundSolution,
    TimeLimit,
    fixed_round,
    largest_affordable_tau,
    optimise,
    solve_tau,
)
from hefl.costs.model import CostModel, FrequencyPlan
from hefl.costs.parameters import B0_BY_DATASET, ONLY_RESOURCE_TAU, CostParameters
from hefl.errors import ConfigError

#: Readings of Algorithm 1's first round (see the module docstring).
FirstRound = Literal["probe", "optimised", "free"]
FIRST_ROUNDS: tuple[FirstRound, ...] = get_args(FirstRound)
#: C5's τ_max when the 10× growth cap is off and no ``tau_cap`` is given.
UNCAPPED_TAU_MAX = 2000


@dataclass(frozen=True)
class BudgetConfig:
    """What a budgeted controller needs besides the job.

    Attributes:
        energy_budget: E′, joules for the whole job (C1).
        params: Table 1.
        time_limit: how ξ applies (see :mod:`hefl.control.optimiser`).
        time_budget: ξ in seconds; ``None`` takes ``params.xi``.
        tau_cap: an absolute upper limit on τ (C5) besides ``params.tau_max_factor`` × τ.
        frequency_caps: f_i per node (N participants then C); ``None``: ``params.f_max`` each.
        phi_floor: lower limit on φ̂ (optimiser notes).
        initial_tau: τ of the first round (Algorithm 1, line 1).
        initial_share: share of f_i given to learning in the first round and, for the
            only-aggregation baseline, in every round (the rest goes to consensus).
        first_round: how the first round is run and charged (:data:`FIRST_ROUNDS`).
        growth_cap: τ_max = ``tau_max_factor`` × the current τ (Wang et al.'s cap) when
            ``True``; otherwise only ``tau_cap`` (or :data:`UNCAPPED_TAU_MAX`) bounds τ.
        shorten_last_round: a fixed-τ scheme may end with one shorter round (Algorithm 1,
            lines 16–18) when ``True``; with ``False`` it runs only whole rounds of its τ.
    """

    energy_budget: float
    params: CostParameters = dataclasses.field(default_factory=CostParameters)
    time_limit: TimeLimit = "total"
    time_budget: float | None = None
    tau_cap: int | None = None
    frequency_caps: tuple[float, ...] | None = None
    phi_floor: float = 1e-5
    initial_tau: int = 1
    initial_share: float = 0.5
    first_round: FirstRound = "probe"
    growth_cap: bool = True
    shorten_last_round: bool = True

    def __post_init__(self) -> None:
        e = self.energy_budget
        if isinstance(e, bool) or not isinstance(e, int | float) or not math.isfinite(e) or e <= 0:
            raise ConfigError(f"energy_budget must be a positive number of joules, got {e!r}")
        if self.time_limit not in TIME_LIMITS:
            raise ConfigError(f"time_limit must be one of {TIME_LIMITS}, got {self.time_limit!r}")
        if self.time_budget is not None and not (
            math.isfinite(self.time_budget) and self.time_budget > 0
        ):
            raise ConfigError(f"time_budget must be positive seconds, got {self.time_budget!r}")
        if self.tau_cap is not None and (not isinstance(self.tau_cap, int) or self.tau_cap < 1):
            raise ConfigError(f"tau_cap must be a positive integer, got {self.tau_cap!r}")
        if not (math.isfinite(self.phi_floor) and self.phi_floor > 0):
            raise ConfigError(f"phi_floor must be positive, got {self.phi_floor!r}")
        if not isinstance(self.initial_tau, int) or self.initial_tau < 1:
            raise ConfigError(f"initial_tau must be a positive integer, got {self.initial_tau!r}")
        if not 0 < self.initial_share < 1:
            raise ConfigError(f"initial_share must lie in (0, 1), got {self.initial_share!r}")
        if self.first_round not in FIRST_ROUNDS:
            raise ConfigError(
                f"first_round must be one of {FIRST_ROUNDS}, got {self.first_round!r}"
            )

    @property
    def xi(self) -> float:
        return self.params.xi if self.time_budget is None else self.time_budget


@dataclass
class EnergyAccount:
    """R against E′ (Algorithm 1), and the time spent against ξ.

    Attributes:
        budget: E′.
        used: R, energy of the rounds run so far (J).
        learning_time: Σ of the rounds' learning times (s).
        consensus_time: Σ of the rounds' consensus times (s).
        rounds: rounds booked.
    """

    budget: float
    used: float = 0.0
    learning_time: float = 0.0
    consensus_time: float = 0.0
    rounds: int = 0

    @property
    def remaining(self) -> float:
        """E = E′ − R (Algorithm 1, line 14)."""
        return self.budget - self.used

    def book(self, round_: RoundSolution) -> None:
        """R ← R + τF_J(f) + F_Q(f) (line 13), and the round's times."""
        self.used += round_.energy
        self.learning_time += round_.learning_time
        self.consensus_time += round_.consensus_time
        self.rounds += 1


@dataclass(frozen=True)
class PlanRecord:
    """One planned round, kept in :attr:`BudgetedController.history` for reports."""

    tau: int
    energy: float
    learning_time: float
    consensus_time: float
    last: bool
    bound_denominator: float
    phi: float
    omega: float


class BudgetedController(Controller):
    """Shared machinery: the cost model, the energy account, the estimates, the last-round rule."""

    name = "budgeted"
    #: Whether the first round is Algorithm 1's probe (τ = initial_tau before any estimate).
    probes: bool = True

    def __init__(
        self,
        config: BudgetConfig | None = None,
        /,
        *,
        dataset: str | None = None,
        tau: int | None = None,
        **options: Any,
    ) -> None:
        """Build from a :class:`BudgetConfig` or its fields as keywords.

        ``dataset`` ("boston" or "fish") selects Table 1's B0 unless ``params`` is given; other
        names keep the default parameters. ``tau`` is accepted so every registered factory takes
        the same keywords (``hefl run`` passes them all); controllers that choose τ ignore it.
        """
        del tau  # τ is chosen, not given; OnlyResourceController overrides this
        if dataset is not None and "params" not in options and config is None:
            key = dataset.lower()
            if key in B0_BY_DATASET:
                options["params"] = CostParameters.for_dataset(key)
        if config is None:
            config = BudgetConfig(**options)
        elif options:
            config = dataclasses.replace(config, **options)
        self.config = config
        self.model: CostModel | None = None
        self.account = EnergyAccount(config.energy_budget)
        self.history: list[PlanRecord] = []
        self.phi: float | None = None
        self.omega: float | None = None
        self.eta: float = config.params.eta
        self._current: RoundSolution | None = None
        self._last = False
        self._free = False

    # --- hooks --------------------------------------------------------------------------------
    def _first_round(self) -> tuple[RoundSolution, bool] | None:
        """Algorithm 1, lines 1–3: τ = initial_tau, f evenly distributed (``first_round``:
        ``"probe"``/``"free"``) or at the least-energy frequencies (``"optimised"``)."""
        assert self.model is not None
        plan = fixed_round(
            self.model, self.config.initial_tau, self.model.uniform_plan(self.config.initial_share)
        )
        if self.config.first_round == "free":
            return plan, False  # not charged: the probe always runs
        frequencies = self._fixed_frequencies()
        # "optimised" only changes a scheme that optimises its frequencies.
        if (self.config.first_round == "probe" or frequencies is not None) and self._fits(plan):
            return plan, False
        # The even split does not fit (or is not wanted): the least-energy frequencies for that
        # τ, if they do.
        if frequencies is None:
            sol = solve_tau(
                self.model,
                self.config.initial_tau,
                self.account.remaining,
                time_limit=self.config.time_limit,
                time_budget=self._time_left(),
            )
            if sol.round is not None:
                return sol.round, False
        return self._final_round(self.config.initial_tau, frequencies)

    def _next_round(self) -> tuple[RoundSolution, bool] | None:
        """Re-solve (25) for the rest of the budget (line 15) and apply the last-round rule."""
        assert self.model is not None and self._current is not None
        tau_max = self._tau_max(self._current.tau)
        frequencies = self._fixed_frequencies()
        res = optimise(
            self.model,
            self.account.remaining,
            phi=self._phi(),
            omega=self._omega(),
            tau_max=tau_max,
            eta=self.eta,
            time_limit=self.config.time_limit,
            time_budget=self._time_left(),
            frequencies=frequencies,
        )
        if res.success and res.rounds >= 2:
            return self._round_of(res.tau, res.frequencies), False  # type: ignore[arg-type]
        return self._final_round(tau_max, frequencies)

    def _fixed_frequencies(self) -> FrequencyPlan | None:
        """``None``: frequencies are optimised; a plan: they are fixed."""
        return None

    # --- Controller interface -----------------------------------------------------------------
    def start(self, job: JobInfo) -> RoundPlan | None:
        if not (math.isfinite(job.learning_rate) and job.learning_rate > 0):
            raise ConfigError(f"learning rate must be positive, got {job.learning_rate!r}")
        self.model = CostModel(
            self.config.params,
            tuple(job.dataset_sizes),
            job.model_size,
            frequency_caps=self.config.frequency_caps,
            work=job.work,
        )
        self.eta = job.learning_rate
        self.account = EnergyAccount(self.config.energy_budget)
        self.history = []
        self.phi = self.omega = None
        self._current = None
        self._last = False
        self._free = self.config.first_round == "free" and self.probes
        return self._emit(self._first_round())

    def observe(self, report: RoundReport) -> RoundPlan | None:
        if self.model is None:
            raise ConfigError("observe() before start(); call start(job) first")
        if self._current is None:
            return None
        ran = self._current
        if report.tau != ran.tau:  # book what actually ran
            ran = fixed_round(self.model, report.tau, ran.frequencies)
        if self._free:
            self.account.rounds += 1  # the free probe: run, not charged
        else:
            self.account.book(ran)
        self._free = False
        self._update_estimates(report)
        if self._last:
            self._current = None
            return None
        if self.account.remaining <= 0 or self._time_left() <= 0:
            self._current = None
            return None
        return self._emit(self._next_round())

    # --- helpers ------------------------------------------------------------------------------
    def _emit(self, choice: tuple[RoundSolution, bool] | None) -> RoundPlan | None:
        if choice is None:
            self._current = None
            return None
        round_, last = choice
        if not last:
            last = not self._another_round_fits(round_)
        self._current, self._last = round_, last
        phi, omega = self._phi(), self._omega()
        a = bound_denominator(round_.tau, self.eta, phi, omega, self.config.params.b0)
        self.history.append(
            PlanRecord(
                tau=round_.tau,
                energy=round_.energy,
                learning_time=round_.learning_time,
                consensus_time=round_.consensus_time,
                last=last,
                bound_denominator=a,
                phi=phi,
                omega=omega,
            )
        )
        return RoundPlan(
            tau=round_.tau,
            frequencies=round_.frequencies.as_mapping(),
            last=last,
            energy=0.0 if self._free else round_.energy,
        )

    def _update_estimates(self, report: RoundReport) -> None:
        if report.phi_hat is not None and math.isfinite(report.phi_hat) and report.phi_hat >= 0:
            self.phi = max(report.phi_hat, self.config.phi_floor)
        if (
            report.omega_hat is not None
            and math.isfinite(report.omega_hat)
            and report.omega_hat >= 0
        ):
            self.omega = report.omega_hat

    def _phi(self) -> float:
        return self.config.phi_floor if self.phi is None else self.phi

    def _omega(self) -> float:
        return 0.0 if self.omega is None else self.omega

    def _tau_max(self, current: int) -> int:
        if self.config.growth_cap:
            tau_max = self.config.params.tau_max_factor * current
        else:
            tau_max = UNCAPPED_TAU_MAX if self.config.tau_cap is None else self.config.tau_cap
        if self.config.tau_cap is not None:
            tau_max = min(tau_max, self.config.tau_cap)
        return max(tau_max, 1)

    def _time_left(self) -> float:
        """ξ for the next plan: what is left of it (``total``) or ξ itself (``per_round``)."""
        if self.config.time_limit == "per_round":
            return self.config.xi
        spent = max(self.account.learning_time, self.account.consensus_time)
        return self.config.xi - spent

    def _fits(self, round_: RoundSolution, after: float = 0.0) -> bool:
        """Whether ``round_`` fits the rest of the energy and time, ``after`` joules booked."""
        if round_.energy > self.account.remaining - after:
            return False
        if self.config.time_limit == "per_round":
            return round_.deadline <= self.config.xi
        spent = max(self.account.learning_time, self.account.consensus_time)
        return spent + round_.deadline <= self.config.xi

    def _round_of(self, tau: int, frequencies: FrequencyPlan) -> RoundSolution:
        assert self.model is not None
        return fixed_round(self.model, tau, frequencies)

    def _final_round(
        self, tau_max: int, frequencies: FrequencyPlan | None
    ) -> tuple[RoundSolution, bool] | None:
        """Algorithm 1, lines 16–18: the largest τ ≤ τ_max (with A(τ) > 0) the remaining energy
        and time allow, as the last round; ``None`` if not even τ = 1 fits."""
        assert self.model is not None
        remaining, time_left = self.account.remaining, self._time_left()
        if remaining <= 0 or time_left <= 0:
            return None
        tau_max = min(tau_max, self._meaningful_tau_max(tau_max))
        sol = largest_affordable_tau(
            self.model,
            remaining,
            tau_max,
            time_limit=self.config.time_limit,
            time_budget=time_left,
            frequencies=frequencies,
        )
        if sol is None or sol.round is None:
            return None
        return sol.round, True

    def _meaningful_tau_max(self, tau_max: int) -> int:
        """The largest τ ≤ τ_max with A(τ) > 0 (at least 1)."""
        phi, omega, b0 = self._phi(), self._omega(), self.config.params.b0
        lo, hi = 1, tau_max
        if bound_denominator(hi, self.eta, phi, omega, b0) > 0:
            return hi
        while hi - lo > 1:  # A decreases in τ
            mid = (lo + hi) // 2
            if bound_denominator(mid, self.eta, phi, omega, b0) > 0:
                lo = mid
            else:
                hi = mid
        return lo

    def _another_round_fits(self, round_: RoundSolution) -> bool:
        """Whether, after ``round_``, the budget still pays for one more round of τ = 1."""
        assert self.model is not None
        charged = 0.0 if self._free else 1.0  # a free probe costs the budget nothing
        remaining = self.account.remaining - charged * round_.energy
        if remaining <= 0:
            return False
        if self.config.time_limit == "total":
            spent = max(
                self.account.learning_time + charged * round_.learning_time,
                self.account.consensus_time + charged * round_.consensus_time,
            )
            time_left = self.config.xi - spent
        else:
            time_left = self.config.xi
        if time_left <= 0:
            return False
        sol = solve_tau(
            self.model,
            1,
            remaining,
            time_limit=self.config.time_limit,
            time_budget=time_left,
            frequencies=self._fixed_frequencies(),
        )
        return sol.rounds >= 1


class JointController(BudgetedController):
    """Algorithm 1: τ and all CPU frequencies jointly from (25), every round."""

    name = "joint"


class OnlyAggregationController(BudgetedController):
    """Only-aggregation baseline: equal, fixed frequencies; τ adapted from (25)."""

    name = "only-aggregation"

    def _fixed_frequencies(self) -> FrequencyPlan | None:
        assert self.model is not None
        return self.model.uniform_plan(self.config.initial_share)


class OnlyResourceController(BudgetedController):
    """Only-resource baseline: τ fixed (§3.2: 25 on Boston, 30 on fish); frequencies optimised.

    Args:
        config: the budget (or keyword options for :class:`BudgetConfig`).
        tau: the fixed τ; or
        dataset: "boston" or "fish" to take τ from :data:`hefl.costs.ONLY_RESOURCE_TAU`.
    """

    name = "only-resource"
    probes = False

    def __init__(
        self,
        config: BudgetConfig | None = None,
        /,
        *,
        tau: int | None = None,
        dataset: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(config, dataset=dataset, **options)
        if tau is None:
            if dataset is None:
                raise ConfigError(
                    "only-resource needs a fixed τ: pass tau=… or dataset='boston'|'fish'"
                )
            key = dataset.lower()
            if key not in ONLY_RESOURCE_TAU:
                raise ConfigError(
                    f"no only-resource τ for data set {dataset!r}; pass tau=… or one of "
                    f"{sorted(ONLY_RESOURCE_TAU)}"
                )
            tau = ONLY_RESOURCE_TAU[key]
        if not isinstance(tau, int) or tau < 1:
            raise ConfigError(f"tau must be a positive integer, got {tau!r}")
        self.tau = tau

    def _first_round(self) -> tuple[RoundSolution, bool] | None:
        return self._plan_fixed_tau()

    def _next_round(self) -> tuple[RoundSolution, bool] | None:
        return self._plan_fixed_tau()

    def _plan_fixed_tau(self) -> tuple[RoundSolution, bool] | None:
        assert self.model is not None
        sol = solve_tau(
            self.model,
            self.tau,
            self.account.remaining,
            time_limit=self.config.time_limit,
            time_budget=self._time_left(),
        )
        if sol.rounds >= 1 and sol.round is not None:
            return sol.round, False  # marked last by _emit if nothing fits after it
        if not self.config.shorten_last_round:
            return None  # strictly fixed τ: no shorter last round
        return self._final_round(self.tau, None)


#: Controllers by the name the command line uses. Each value is a factory (the class). Budgeted
#: controllers take ``BudgetConfig`` keywords (``energy_budget=…``) plus ``dataset`` (B0 of Table 1)
#: and ``tau`` (only-resource's fixed τ; ignored by the others); ``fixed`` takes ``tau`` and
#: ``rounds``.
CONTROLLERS: Mapping[str, Callable[..., Controller]] = MappingProxyType(
    {
        JointController.name: JointController,
        OnlyAggregationController.name: OnlyAggregationController,
        OnlyResourceController.name: OnlyResourceController,
        FixedTauController.name: FixedTauController,
    }
)


def make_controller(name: str, /, **options: Any) -> Controller:
    """Build the controller registered as ``name`` with ``options``."""
    try:
        factory = CONTROLLERS[name]
    except KeyError:
        raise ConfigError(
            f"unknown controller {name!r}; choose one of {sorted(CONTROLLERS)}"
        ) from None
    return factory(**options)
