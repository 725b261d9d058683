"""Exact solution of problem (25): the aggregation frequency τ and every node's CPU frequencies.

Reformulation (after ``optimiser-notes.md``, re-derived here). With G = T/τ rounds the bound (24) is
1/(τ·G·A(τ)), so for a fixed τ the whole job is to maximise G. Per round, with frequencies f,

    P_τ(f) = τ·F_J(f) + F_Q(f)                                    (round energy, Eqs. 19–21)
    t_L(f) = max_i τ·Δ^L_1i/f^L_1i + Δ^L_2/f^L_2                   (learning time, C3)
    t_S(f) = max_i Σ_σ Δ^S_σi/f^S_σi                               (consensus time, C4)

and C1 is G·P_τ(f) ≤ E (the paper's T = Eτ/(τF_J + F_Q) is the equality case), C2 is
f^L_i + max_σ f^S_σi ≤ f_i.

**How ξ is applied** (``time_limit``). Table 1 taken literally ("total": C3 and C4 bound the *whole
job*, G·t_L ≤ ξ and G·t_S ≤ ξ) leaves room for only ≈ 38 encrypted local steps on Boston with N = 5,
so the τ sweeps of Figs. 2–3 cannot satisfy it. ``"per_round"`` reads ξ as every round's
deadline (t_L ≤ ξ, t_S ≤ ξ): the job is then bounded by energy alone, but one round still has to fit
ξ (τ ≤ 38 on Boston, N = 5, at Table 1's ξ), so sweeps to τ = 90 also need a larger ξ, which the
caller passes as ``time_budget``. Note what the per-round reading implies: at a fixed deadline a
round's least energy grows like (τ·a + b)³, so the joint optimum then favours small τ; in
``total`` mode G ∝ (c_L³ + …)^{-1/3} and τ·G grows with τ, so larger τ pay off. There is no
``"none"``: without a deadline the energy γΔf² falls to zero with f, so G would be unbounded.

**Minimum round energy for a deadline D** (both phases within D). Energy grows with every
frequency, so each constraint is tight at the optimum:

* consensus: node i runs all its PBFT steps at y_i = c_i/D with c_i = Σ_σ Δ^S_σi (equal frequencies
  minimise Σ_σ Δ_σ f_σ² under Σ_σ Δ_σ/f_σ ≤ D and also the share max_σ f_σ that C2 charges);
* learning: if the participants' local phase lasts s, f^L_1i = τ·Δ^L_1i/s (all finish together) and
  f^L_2 = Δ^L_2/(D − s); the energy a³/s² + b³/(D − s)² with a = τ·(Σ_i (Δ^L_1i)³)^{1/3},
  b = Δ^L_2 is convex in s with minimiser s* = a·D/(a + b) and minimum (a + b)³/D²;
* C2 leaves each node U_i = f_i − c_i/D for learning, which confines s to
  [max_i τΔ^L_1i/U_i, D − Δ^L_2/U_C]: clip s* to it (exact — the problem is one-dimensional and
  convex). Empty interval or some U_i ≤ 0: no frequencies meet D.

Without clipping P_min(D) = γ(c_L³ + Σ_i c_i³)/D² with c_L = a + b.

**Maximising G for a fixed τ.** ``per_round``: G* = E / P_min(ξ). ``total``: the deadline is
D = ξ/G and G·P_min(ξ/G) increases strictly with G, so G* is where it meets E, capped by
ξ/D_min (D_min the shortest feasible round, found by bracketing a monotone function). When no clip
binds this is the closed form G* = (E·ξ² / (γ(c_L³ + Σ_i c_i³)))^{1/3}; otherwise a bracketed root
(Brent's method to machine precision). With fixed frequencies (only-aggregation) G* = E/P_τ(f),
capped by ξ/max(t_L, t_S) in ``total`` mode.

**Hefl's fused update** (``params.local_update = "fused"``, or ``"planned"`` in the fused mode):
every τ·Δ^L_1i above becomes the round's Δ^F_i, constant in τ
(:meth:`hefl.costs.CostModel.round_local_cycles`), so G* no longer falls with τ and (25) trades
only A(τ) against τ.

**Outer loop.** τ = 1 … τ_max; stop at the first τ with A(τ) ≤ 0 (A decreases in τ) or with fewer
than one whole round (T < τ; G* decreases in τ, a round's least energy and time growing with
it); G = ⌊G*⌋ whole rounds at the frequencies of the continuous optimum (deadline
ξ/G*, so the fraction G* − G of a round stays available in energy *and* time for a shorter last
round — re-solving for ξ/G instead, as the notes suggest, would spend all the time and strand that
energy); take the τ with the least 1/(τ·G·A(τ)). The integer G makes the end of a budget honest:
a τ that fits 1.9 rounds is worth one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal, get_args

import numpy as np
from scipy.optimize import brentq

from hefl.control.bound import bound_denominator
from hefl.costs.model import CostModel, FrequencyPlan
from hefl.errors import ConfigError, SolverError

TimeLimit = Literal["total", "per_round"]
#: The accepted readings of ξ (see the module docstring).
TIME_LIMITS: tuple[TimeLimit, ...] = get_args(TimeLimit)
#: How one round's frequencies were found: the closed form, clipped by C2/the caps, or given.
Regime = Literal["interior", "coupling", "fixed"]
#: How G* was found for one τ.
SolveMethod = Literal["closed-form", "bisection", "time-limit", "fixed"]
#: Which constraint caps G*.
LimitedBy = Literal["energy", "time"]

#: Relative slack when testing a clipped interval or a budget against rounding noise.
_RTOL: float = 1e-12
#: Brent's method tolerances (relative, and absolute on a unit-scaled variable).
_BRENT_RTOL: float = 4 * np.finfo(float).eps
_BRENT_MAXITER: int = 500


class SolveStatus(IntEnum):
    """Outcome of :func:`optimise` (scipy style: 0 is success)."""

    OPTIMAL = 0
    INFEASIBLE = 1


@dataclass(frozen=True)
class RoundSolution:
    """Frequencies of one round and what they cost.

    Attributes:
        tau: local steps in the round.
        deadline: the deadline D both phases were planned against (s).
        frequencies: the plan.
        energy: P_τ(f) (J).
        learning_time: t_L(f) (s).
        consensus_time: t_S(f) (s).
        regime: ``"interior"`` (closed form), ``"coupling"`` (C2/caps clip the local phase) or
            ``"fixed"`` (frequencies given by the caller).
    """

    tau: int
    deadline: float
    frequencies: FrequencyPlan
    energy: float
    learning_time: float
    consensus_time: float
    regime: Regime


@dataclass(frozen=True)
class TauSolution:
    """The best the budget allows for one τ.

    Attributes:
        tau: τ.
        rounds_real: G*, the continuous optimum (may be < 1).
        rounds: G = ⌊G*⌋ whole rounds.
        limited_by: ``"energy"`` or ``"time"`` (which constraint caps G*).
        method: ``"closed-form"``, ``"bisection"``, ``"time-limit"`` or ``"fixed"``.
        round: frequencies re-solved for G whole rounds (``None`` when G = 0).
    """

    tau: int
    rounds_real: float
    rounds: int
    limited_by: LimitedBy
    method: SolveMethod
    round: RoundSolution | None


@dataclass(frozen=True)
class TauCandidate:
    """One line of the τ sweep: G, A(τ) and the bound, or why τ was skipped."""

    tau: int
    rounds_real: float
    rounds: int
    bound_denominator: float
    bound: float
    note: str


@dataclass(frozen=True)
class OptimiseResult:
    """Result of :func:`optimise`, in the manner of ``scipy.optimize.OptimizeResult``.

    Attributes:
        success: whether a plan was found.
        status: :class:`SolveStatus`.
        message: what happened, in words.
        tau: the chosen τ (``None`` if infeasible).
        rounds: G whole rounds the budget allows at that τ.
        rounds_real: G*, before rounding down.
        iterations: T = τ·G.
        frequencies: the plan for each of the G rounds.
        round_energy: P_τ(f) per round (J).
        energy: G·P_τ(f), the planned total (J) ≤ the budget.
        learning_time: t_L per round (s).
        consensus_time: t_S per round (s).
        deadline: the per-round deadline planned against (s).
        bound: 1/(T·A(τ)) (Eq. 24).
        bound_denominator: A(τ).
        time_limit: how ξ was applied.
        candidates: the whole τ sweep.
    """

    success: bool
    status: SolveStatus
    message: str
    tau: int | None = None
    rounds: int = 0
    rounds_real: float = 0.0
    iterations: int = 0
    frequencies: FrequencyPlan | None = None
    round_energy: float = math.nan
    energy: float = 0.0
    learning_time: float = math.nan
    consensus_time: float = math.nan
    deadline: float = math.nan
    bound: float = math.inf
    bound_denominator: float = math.nan
    time_limit: TimeLimit = "total"
    candidates: tuple[TauCandidate, ...] = ()


# --- validation ---------------------------------------------------------------------------------
def _check_tau(tau: object) -> int:
    if isinstance(tau, bool) or not isinstance(tau, int | np.integer) or tau < 1:
        raise SolverError(f"τ must be a positive integer, got {tau!r}")
    return int(tau)


def _check_positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise SolverError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise SolverError(f"{name} must be positive and finite, got {value!r}")
    return float(value)


def _check_time_limit(time_limit: str) -> TimeLimit:
    if time_limit not in TIME_LIMITS:
        raise SolverError(
            f"time_limit must be one of {TIME_LIMITS}, got {time_limit!r} (there is no 'none': "
            "without a deadline the optimal frequencies tend to zero and the rounds to infinity)"
        )
    return time_limit  # checked against TIME_LIMITS above


# --- one round ----------------------------------------------------------------------------------
def min_round_energy(model: CostModel, tau: int, deadline: float) -> RoundSolution | None:
    """Least-energy frequencies for one round of τ local steps whose learning and consensus
    phases each finish within ``deadline`` under C2; ``None`` if no frequencies can.

    See the module docstring for the derivation (consensus at c_i/D, local phase s clipped).
    """
    tau = _check_tau(tau)
    d = _check_positive("deadline", deadline)
    n = model.participants
    c = model.consensus_totals
    headroom = model.caps - c / d
    if np.any(headroom <= 0):
        return None
    r1, d2 = model.round_local_cycles(tau), model.aggregation_cycles
    s_lo = float(np.max(r1 / headroom[:n]))
    s_hi = d - d2 / headroom[n]
    if s_hi <= 0 or s_lo > s_hi * (1 + _RTOL):
        return None
    a = float(np.cbrt(np.sum(r1**3)))
    b = d2
    s_star = a * d / (a + b)
    s = min(max(s_star, s_lo), s_hi)
    regime: Regime = "interior" if s == s_star else "coupling"
    local = r1 / s
    aggregation = d2 / (d - s)
    consensus = np.outer(c / d, np.ones(model.consensus_cycles.shape[1]))
    consensus = consensus * model.participation[:, 2:]
    plan = FrequencyPlan.from_arrays(local, aggregation, consensus)
    gamma = model.params.gamma
    energy = gamma * (
        float(np.sum(r1 * local**2)) + d2 * aggregation**2 + float(np.sum(c**3)) / d**2
    )
    return RoundSolution(
        tau=tau,
        deadline=d,
        frequencies=plan,
        energy=energy,
        learning_time=model.learning_time(plan, tau),
        consensus_time=model.consensus_time(plan),
        regime=regime,
    )


def min_deadline(model: CostModel, tau: int) -> float:
    """D_min: the shortest deadline one round of τ steps can meet under C2 and the caps.

    Feasibility of D is gap(D) = (D − Δ^L_2/U_C) − max_i τΔ^L_1i/U_i ≥ 0 with U_i = f_i − c_i/D;
    gap increases with D, so D_min is its root (bracketed, Brent), nudged to the feasible side.
    """
    tau = _check_tau(tau)
    n = model.participants
    c, caps = model.consensus_totals, model.caps
    r1, d2 = model.round_local_cycles(tau), model.aggregation_cycles
    floor = float(np.max(c / caps))

    def gap(d: float) -> float:
        headroom = caps - c / d
        if np.any(headroom <= 0):
            return -math.inf
        return d - d2 / headroom[n] - float(np.max(r1 / headroom[:n]))

    # At the caps with no consensus, a round needs at least this long; bracket above it.
    scale = floor + float(np.max(r1 / caps[:n])) + d2 / caps[n]
    lo, hi = floor, 2 * scale
    while gap(hi) <= 0:
        lo, hi = hi, 2 * hi
    lo = max(lo, floor * (1 + _RTOL))
    if gap(lo) >= 0:  # pragma: no cover - only when consensus costs nothing
        root = lo
    else:
        # brentq needs finite values: the gap is -inf only at or below `floor`, excluded above.
        lo_val = gap(lo)
        while not math.isfinite(lo_val):  # pragma: no cover - defensive
            lo = lo * (1 + 1e-9)
            lo_val = gap(lo)
        root = float(brentq(gap, lo, hi, xtol=1e-300, rtol=_BRENT_RTOL, maxiter=_BRENT_MAXITER))
    for _ in range(64):
        if min_round_energy(model, tau, root) is not None:
            return root
        root *= 1 + 4 * _BRENT_RTOL
    raise SolverError(f"no feasible round found near D_min for τ = {tau}")  # pragma: no cover


def fixed_round(model: CostModel, tau: int, plan: FrequencyPlan) -> RoundSolution:
    """Cost of one round at the caller's frequencies (only-aggregation baseline)."""
    tau = _check_tau(tau)
    try:
        model.check_plan(plan)
    except ConfigError as error:
        raise SolverError(f"fixed frequency plan rejected: {error}") from error
    t_l, t_s = model.learning_time(plan, tau), model.consensus_time(plan)
    return RoundSolution(
        tau=tau,
        deadline=max(t_l, t_s),
        frequencies=plan,
        energy=model.round_energy(plan, tau),
        learning_time=t_l,
        consensus_time=t_s,
        regime="fixed",
    )


# --- one τ --------------------------------------------------------------------------------------
def _whole_rounds(real: float) -> int:
    if not math.isfinite(real) or real < 1:
        return 0
    return math.floor(real)


def closed_form_rounds(model: CostModel, tau: int, energy: float, time_budget: float) -> float:
    """G* = (E·ξ²/(γ(c_L³ + Σ_i c_i³)))^{1/3}, ``total`` mode when no clip binds (notes §2)."""
    r1 = model.round_local_cycles(tau)
    c_l = float(np.cbrt(np.sum(r1**3))) + model.aggregation_cycles
    c_s3 = float(np.sum(model.consensus_totals**3))
    return float(np.cbrt(energy * time_budget**2 / (model.params.gamma * (c_l**3 + c_s3))))


def solve_tau(
    model: CostModel,
    tau: int,
    energy: float,
    *,
    time_limit: TimeLimit = "total",
    time_budget: float | None = None,
    frequencies: FrequencyPlan | None = None,
) -> TauSolution:
    """Maximise the rounds G for a fixed τ under C1–C4 (frequencies optimised unless given).

    Args:
        model: the job's cost model.
        tau: τ ≥ 1.
        energy: E, the energy budget (J).
        time_limit: how ξ applies (module docstring).
        time_budget: ξ (s); default ``model.params.xi``.
        frequencies: fixed frequencies (only-aggregation); ``None`` optimises them.
    """
    tau = _check_tau(tau)
    energy = _check_positive("energy budget E", energy)
    xi = _check_positive("time budget ξ", model.params.xi if time_budget is None else time_budget)
    mode = _check_time_limit(time_limit)

    if frequencies is not None:
        fixed = fixed_round(model, tau, frequencies)
        by_energy = energy / fixed.energy
        if mode == "per_round":
            by_time = math.inf if fixed.deadline <= xi * (1 + _RTOL) else 0.0
        else:
            by_time = xi / fixed.deadline
        real = min(by_energy, by_time)
        rounds = _whole_rounds(real)
        while rounds > 0 and rounds * fixed.energy > energy:  # rounding guard
            rounds -= 1
        return TauSolution(
            tau=tau,
            rounds_real=real,
            rounds=rounds,
            limited_by="energy" if by_energy <= by_time else "time",
            method="fixed",
            round=fixed if rounds > 0 else None,
        )

    if mode == "per_round":
        sol = min_round_energy(model, tau, xi)
        if sol is None:
            return TauSolution(tau, 0.0, 0, "time", "closed-form", None)
        real = energy / sol.energy
        rounds = _whole_rounds(real)
        while rounds > 0 and rounds * sol.energy > energy:
            rounds -= 1
        method: SolveMethod = "closed-form" if sol.regime == "interior" else "bisection"
        return TauSolution(tau, real, rounds, "energy", method, sol if rounds > 0 else None)

    # total: deadline ξ/G.
    d_min = min_deadline(model, tau)
    g_time = xi / d_min
    g_cf = closed_form_rounds(model, tau, energy, xi)
    limited_by: LimitedBy
    if g_cf <= g_time and (
        (probe := min_round_energy(model, tau, xi / g_cf)) is not None
        and probe.regime == "interior"
    ):
        real, limited_by, method = g_cf, "energy", "closed-form"
    else:
        at_limit = min_round_energy(model, tau, d_min)
        assert at_limit is not None  # min_deadline guarantees it
        if g_time * at_limit.energy <= energy:
            real, limited_by, method = g_time, "time", "time-limit"
        else:

            def excess(g: float) -> float:
                sol = min_round_energy(model, tau, xi / g)
                assert sol is not None  # g < g_time keeps ξ/g above D_min
                return g * sol.energy / energy - 1.0

            lo = 0.5 * min(g_cf, g_time)
            while excess(lo) >= 0:
                lo *= 0.5
            real = float(
                brentq(excess, lo, g_time, xtol=1e-300, rtol=_BRENT_RTOL, maxiter=_BRENT_MAXITER)
            )
            limited_by, method = "energy", "bisection"
    # Frequencies of the continuous optimum (deadline ξ/G*): G = ⌊G*⌋ rounds then cost at most E
    # and ξ, and what is left — a fraction G* − G of a round in both energy and time — pays for
    # a shorter last round (the controllers' last-round rule) instead of being stranded.
    rounds = _whole_rounds(real)
    plan: RoundSolution | None = None
    if rounds > 0:
        plan = min_round_energy(model, tau, max(xi / real, d_min))
        assert plan is not None  # the deadline is at least D_min
        while rounds > 0 and (
            rounds * plan.energy > energy or rounds * plan.deadline > xi * (1 + _RTOL)
        ):
            rounds -= 1  # rounding guard: G* a hair above an integer
    return TauSolution(tau, real, rounds, limited_by, method, plan if rounds > 0 else None)


def largest_affordable_tau(
    model: CostModel,
    energy: float,
    tau_max: int,
    *,
    time_limit: TimeLimit = "total",
    time_budget: float | None = None,
    frequencies: FrequencyPlan | None = None,
) -> TauSolution | None:
    """The largest τ ≤ τ_max of which one whole round fits the budget (Algorithm 1, lines 16–18).

    A round's least energy and time grow with τ, so this is a binary search; ``None`` if not even
    τ = 1 fits.
    """
    tau_max = _check_tau(tau_max)

    def fits(tau: int) -> TauSolution | None:
        sol = solve_tau(
            model,
            tau,
            energy,
            time_limit=time_limit,
            time_budget=time_budget,
            frequencies=frequencies,
        )
        return sol if sol.rounds >= 1 else None

    best = fits(1)
    if best is None:
        return None
    lo, hi = 1, tau_max  # fits(lo) holds
    top = fits(hi)
    if top is not None:
        return top
    while hi - lo > 1:
        mid = (lo + hi) // 2
        sol = fits(mid)
        if sol is not None:
            lo, best = mid, sol
        else:
            hi = mid
    return best


# --- the whole problem (25) ---------------------------------------------------------------------
def optimise(
    model: CostModel,
    energy: float,
    *,
    phi: float,
    omega: float,
    tau_max: int,
    eta: float | None = None,
    b0: float | None = None,
    time_limit: TimeLimit = "total",
    time_budget: float | None = None,
    frequencies: FrequencyPlan | None = None,
    taus: Iterable[int] | None = None,
) -> OptimiseResult:
    """Solve (25): the τ ∈ [1, τ_max] and frequencies minimising 1/(T·A(τ)) under C1–C5.

    Args:
        model: the job's cost model (cycles, caps, γ).
        energy: E, the energy still available (J).
        phi: φ (use the estimate φ̂ of Eq. 22, floored).
        omega: ω (the estimate ω̂ of Eq. 23).
        tau_max: C5; the controller passes min(τ_max, factor × current τ).
        eta: η; default ``model.params.eta``.
        b0: B0; default ``model.params.b0``.
        time_limit: how ξ applies (module docstring).
        time_budget: ξ (or what is left of it); default ``model.params.xi``.
        frequencies: fixed frequencies (only-aggregation); ``None`` optimises them.
        taus: the τ values to consider instead of 1 … τ_max (only-resource passes one).

    Infeasibility (no τ fits one round, or A(τ) ≤ 0 everywhere) is a status; bad input raises
    :class:`SolverError`.
    """
    energy = _check_positive("energy budget E", energy)
    mode = _check_time_limit(time_limit)
    xi = _check_positive("time budget ξ", model.params.xi if time_budget is None else time_budget)
    eta_v = model.params.eta if eta is None else _check_positive("η", eta)
    b0_v = model.params.b0 if b0 is None else _check_positive("B0", b0)
    phi = _check_positive("φ", phi)
    if isinstance(omega, bool) or not math.isfinite(omega) or omega < 0:
        raise SolverError(f"ω must be non-negative and finite, got {omega!r}")
    if taus is None:
        candidates_tau = list(range(1, _check_tau(tau_max) + 1))
    else:
        candidates_tau = sorted({_check_tau(t) for t in taus})
        if not candidates_tau:
            raise SolverError("taus is empty; give at least one τ")

    rows: list[TauCandidate] = []
    best: tuple[float, TauSolution, float] | None = None
    if model.constant_in_tau:
        candidates_tau = _fused_candidates(candidates_tau, eta_v, phi, omega, b0_v)
    for tau in candidates_tau:
        a = bound_denominator(tau, eta_v, phi, omega, b0_v)
        if a <= 0:
            rows.append(TauCandidate(tau, 0.0, 0, a, math.inf, "bound meaningless (A(τ) ≤ 0)"))
            break  # A(τ) decreases in τ: every larger τ is meaningless too
        sol = solve_tau(
            model, tau, energy, time_limit=mode, time_budget=xi, frequencies=frequencies
        )
        if sol.rounds < 1:
            rows.append(
                TauCandidate(
                    tau, sol.rounds_real, 0, a, math.inf, f"less than one round ({sol.limited_by})"
                )
            )
            break  # a round's least energy and time grow with τ: no larger τ fits either
        value = 1.0 / (tau * sol.rounds * a)
        rows.append(TauCandidate(tau, sol.rounds_real, sol.rounds, a, value, sol.method))
        if best is None or value < best[0]:
            best = (value, sol, a)

    if best is None:
        return OptimiseResult(
            success=False,
            status=SolveStatus.INFEASIBLE,
            message=_infeasible_message(model, rows, energy, mode, xi, frequencies),
            time_limit=mode,
            candidates=tuple(rows),
        )
    value, sol, a = best
    assert sol.round is not None
    rnd = sol.round
    return OptimiseResult(
        success=True,
        status=SolveStatus.OPTIMAL,
        message=(
            f"τ = {sol.tau}, {sol.rounds} rounds ({sol.limited_by}-limited, {sol.method}), "
            f"bound {value:.6g}"
        ),
        tau=sol.tau,
        rounds=sol.rounds,
        rounds_real=sol.rounds_real,
        iterations=sol.tau * sol.rounds,
        frequencies=rnd.frequencies,
        round_energy=rnd.energy,
        energy=sol.rounds * rnd.energy,
        learning_time=rnd.learning_time,
        consensus_time=rnd.consensus_time,
        deadline=rnd.deadline,
        bound=value,
        bound_denominator=a,
        time_limit=mode,
        candidates=tuple(rows),
    )


def _fused_candidates(
    taus: list[int], eta: float, phi: float, omega: float, b0: float
) -> list[int]:
    """Under the fused cost a round costs the same for every τ, so G does not depend on τ and (25)
    maximises τ·A(τ) = τη(1 − φη/2) − B0·h(τ) — concave, h being convex — over the candidates.
    Its maximiser is the first τ after which τ·A(τ) stops growing (binary search on the sign of
    the discrete slope); that τ is the only candidate the outer loop then needs (``[1, τ]`` when
    A(τ) ≤ 0 there, which only happens when A(1) ≤ 0 and lets the loop report it)."""

    def gain(t: int) -> float:
        return t * bound_denominator(t, eta, phi, omega, b0)

    lo, hi = 0, len(taus) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if gain(taus[mid + 1]) > gain(taus[mid]):
            lo = mid + 1
        else:
            hi = mid
    best = taus[lo]
    return [best] if bound_denominator(best, eta, phi, omega, b0) > 0 else taus[:1]


def _infeasible_message(
    model: CostModel,
    rows: list[TauCandidate],
    energy: float,
    mode: str,
    xi: float,
    frequencies: FrequencyPlan | None,
) -> str:
    if rows and all(math.isinf(r.bound) and r.note.startswith("bound") for r in rows):
        return (
            f"the bound (24) is meaningless (A(τ) ≤ 0) already at τ = {rows[0].tau}; "
            "lower η, B0 or the estimates φ̂, ω̂"
        )
    tau = rows[0].tau if rows else 1
    one = (
        fixed_round(model, tau, frequencies)
        if frequencies is not None
        else min_round_energy(model, tau, xi)
    )
    if one is None or one.deadline > xi * (1 + _RTOL):
        return (
            f"no τ fits one round: even τ = {tau} cannot finish within ξ = {xi:.6g} s "
            f"({mode}) at the frequency caps; raise ξ or the caps"
        )
    return (
        f"no τ fits one round within E = {energy:.6g} J: one round of τ = {tau} needs at least "
        f"{one.energy:.6g} J within ξ = {xi:.6g} s ({mode}); raise the energy budget"
    )
