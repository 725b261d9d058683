"""An independent reference for the exact optimiser: scipy's SLSQP on log-frequencies.

For fixed τ, problem (25) is a geometric program; in log variables every constraint is convex, so a
local optimum is the global one. The reference knows nothing of the closed form: it has one variable
per (node, step) frequency, one for log G, and the constraints exactly as the paper writes them
(C1 energy, C2 f^L_i + f^S_σi ≤ f_i for every step σ, C3/C4 time).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from hefl.costs import CostModel, FrequencyPlan


def _unpack(model: CostModel, v: np.ndarray) -> FrequencyPlan:
    scale = model.params.f_max
    n = model.participants
    local = np.exp(v[:n]) * scale
    aggregation = float(np.exp(v[n]) * scale)
    active = model.participation[:, 2:] == 1
    consensus = np.zeros(active.shape)
    consensus[active] = np.exp(v[n + 1 : n + 1 + int(active.sum())]) * scale
    return FrequencyPlan.from_arrays(local, aggregation, consensus)


def _start(model: CostModel) -> np.ndarray:
    n = model.participants
    active = model.participation[:, 2:] == 1
    caps = model.caps / model.params.f_max
    learn = np.log(np.append(caps[:n], caps[n]) * 0.3)
    cons = np.log((np.outer(caps, np.ones(active.shape[1])) * 0.3)[active])
    return np.concatenate([learn, cons])


def _coupling(model: CostModel, v: np.ndarray) -> np.ndarray:
    plan = _unpack(model, v)
    active = model.participation[:, 2:] == 1
    learn = plan.learning_share()
    cons = plan.consensus_array
    out = []
    for node in range(model.nodes):
        for step in np.flatnonzero(active[node]):
            out.append(np.log(model.caps[node]) - np.log(learn[node] + cons[node, step]))
    return np.array(out)


def _time_terms(model: CostModel, plan: FrequencyPlan, tau: int) -> np.ndarray:
    """Every per-round time that C3/C4 bound: each participant's learning path, each node's
    consensus sum."""
    agg = model.aggregation_cycles / plan.aggregation
    learning = tau * model.local_cycles / plan.local_array + agg
    active = model.participation[:, 2:] == 1
    cons = np.where(active, model.consensus_cycles / np.where(active, plan.consensus_array, 1), 0)
    return np.concatenate([learning, cons.sum(axis=1)])


def max_rounds_total(model: CostModel, tau: int, energy: float, xi: float) -> float:
    """max G s.t. G·P_τ(f) ≤ E, G·t ≤ ξ for every time path, C2 — in log variables."""
    x0 = np.append(_start(model), np.log(1e-3))

    def objective(x: np.ndarray) -> float:
        return -x[-1]

    def constraints(x: np.ndarray) -> np.ndarray:
        plan = _unpack(model, x[:-1])
        log_g = x[-1]
        c1 = np.log(energy) - log_g - np.log(model.round_energy(plan, tau))
        times = np.log(xi) - log_g - np.log(_time_terms(model, plan, tau))
        return np.concatenate([[c1], times, _coupling(model, x[:-1])])

    res = minimize(
        objective,
        x0,
        method="SLSQP",
        constraints=[{"type": "ineq", "fun": constraints}],
        options={"ftol": 1e-15, "maxiter": 2000},
    )
    return float(np.exp(res.x[-1]))


def min_energy_deadline(model: CostModel, tau: int, deadline: float) -> float:
    """min P_τ(f) s.t. every time path ≤ deadline, C2 — in log variables (energy scaled)."""
    x0 = _start(model)
    ref = model.round_energy(_unpack(model, x0), tau)

    def objective(x: np.ndarray) -> float:
        return float(np.log(model.round_energy(_unpack(model, x), tau) / ref))

    def constraints(x: np.ndarray) -> np.ndarray:
        plan = _unpack(model, x)
        times = np.log(deadline) - np.log(_time_terms(model, plan, tau))
        return np.concatenate([times, _coupling(model, x)])

    res = minimize(
        objective,
        x0,
        method="SLSQP",
        constraints=[{"type": "ineq", "fun": constraints}],
        options={"ftol": 1e-15, "maxiter": 2000},
    )
    return float(model.round_energy(_unpack(model, res.x), tau))
