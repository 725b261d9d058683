"""An independent reference for the exact optimiser: scipy's SLSQP on log-frequencies.

For fixed τ, problem (25) is a geometric program; in log variables every constraint is convex, so a
local optimum is the global one. The reference knows nothing of the closed form or of the solver's
tied consensus frequencies: it has one variable per (node, step) frequency, one for log G, and the
constraints as the paper writes them (C1 energy, C2 f^L_i + f^S_σi ≤ f_i for every step σ, C3/C4
time), using only the cycle counts of the cost model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from hefl.costs import CostModel

_OPTIONS = {"ftol": 1e-15, "maxiter": 2000}


@dataclass(frozen=True)
class _Problem:
    tau: int
    gamma: float
    scale: float
    d1: np.ndarray  # Δ^L_1i
    d2: float  # Δ^L_2
    ds: np.ndarray  # Δ^S of the active (node, step) pairs
    node_of: np.ndarray  # node index of each active pair
    caps: np.ndarray
    n: int

    @classmethod
    def of(cls, model: CostModel, tau: int) -> _Problem:
        active = model.participation[:, 2:] == 1
        nodes, _ = np.nonzero(active)
        return cls(
            tau=tau,
            gamma=model.params.gamma,
            scale=model.params.f_max,
            d1=model.local_cycles,
            d2=model.aggregation_cycles,
            ds=model.consensus_cycles[active],
            node_of=nodes,
            caps=model.caps,
            n=model.participants,
        )

    def split(self, v: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        f = np.exp(v) * self.scale
        return f[: self.n], float(f[self.n]), f[self.n + 1 :]

    def start(self) -> np.ndarray:
        learn = np.log(self.caps * 0.3 / self.scale)
        return np.concatenate([learn, learn[self.node_of]])

    def energy(self, v: np.ndarray) -> float:
        x, z, y = self.split(v)
        return self.gamma * (
            self.tau * np.sum(self.d1 * x**2) + self.d2 * z**2 + np.sum(self.ds * y**2)
        )

    def times(self, v: np.ndarray) -> np.ndarray:
        x, z, y = self.split(v)
        learning = self.tau * self.d1 / x + self.d2 / z
        consensus = np.bincount(self.node_of, weights=self.ds / y, minlength=self.n + 1)
        return np.concatenate([learning, consensus])

    def log_energy_grad(self, v: np.ndarray) -> np.ndarray:
        x, z, y = self.split(v)
        terms = np.concatenate([self.tau * self.d1 * x**2, [self.d2 * z**2], self.ds * y**2])
        return 2 * terms / terms.sum()

    def log_times_jac(self, v: np.ndarray) -> np.ndarray:
        """∂ log t_k / ∂ v for every time path k (rows)."""
        x, z, y = self.split(v)
        n, m = self.n, len(y)
        jac = np.zeros((2 * n + 1, n + 1 + m))
        learning = self.tau * self.d1 / x + self.d2 / z
        jac[np.arange(n), np.arange(n)] = -self.tau * self.d1 / x / learning
        jac[:n, n] = -self.d2 / z / learning
        parts = self.ds / y
        consensus = np.bincount(self.node_of, weights=parts, minlength=n + 1)
        jac[n + self.node_of, n + 1 + np.arange(m)] = -parts / consensus[self.node_of]
        return jac

    def coupling_jac(self, v: np.ndarray) -> np.ndarray:
        x, z, y = self.split(v)
        learn = np.append(x, z)[self.node_of]
        m = len(y)
        jac = np.zeros((m, self.n + 1 + m))
        jac[np.arange(m), self.node_of] = -learn / (learn + y)
        jac[np.arange(m), self.n + 1 + np.arange(m)] = -y / (learn + y)
        return jac

    def coupling(self, v: np.ndarray) -> np.ndarray:
        x, z, y = self.split(v)
        learn = np.append(x, z)
        return np.log(self.caps[self.node_of]) - np.log(learn[self.node_of] + y)


def max_rounds_total(model: CostModel, tau: int, energy: float, xi: float) -> float:
    """max G s.t. G·P_τ(f) ≤ E, G·t ≤ ξ for every time path, C2 — in log variables."""
    prob = _Problem.of(model, tau)

    def constraints(x: np.ndarray) -> np.ndarray:
        v, log_g = x[:-1], x[-1]
        c1 = np.log(energy) - log_g - np.log(prob.energy(v))
        times = np.log(xi) - log_g - np.log(prob.times(v))
        return np.concatenate([[c1], times, prob.coupling(v)])

    def jacobian(x: np.ndarray) -> np.ndarray:
        v = x[:-1]
        c1 = np.append(-prob.log_energy_grad(v), -1.0)
        times = -prob.log_times_jac(v)
        times = np.hstack([times, -np.ones((times.shape[0], 1))])
        coupling = np.hstack([prob.coupling_jac(v), np.zeros((len(prob.ds), 1))])
        return np.vstack([c1, times, coupling])

    size = len(prob.start()) + 1
    res = minimize(
        lambda x: -x[-1],
        np.append(prob.start(), np.log(1e-3)),
        jac=lambda x: -np.eye(size)[-1],
        method="SLSQP",
        constraints=[{"type": "ineq", "fun": constraints, "jac": jacobian}],
        options=_OPTIONS,
    )
    return float(np.exp(res.x[-1]))


def min_energy_deadline(model: CostModel, tau: int, deadline: float) -> float:
    """min P_τ(f) s.t. every time path ≤ deadline, C2 — in log variables (energy scaled)."""
    prob = _Problem.of(model, tau)
    x0 = prob.start()
    ref = prob.energy(x0)

    def constraints(v: np.ndarray) -> np.ndarray:
        return np.concatenate([np.log(deadline) - np.log(prob.times(v)), prob.coupling(v)])

    def jacobian(v: np.ndarray) -> np.ndarray:
        return np.vstack([-prob.log_times_jac(v), prob.coupling_jac(v)])

    res = minimize(
        lambda v: float(np.log(prob.energy(v) / ref)),
        x0,
        jac=prob.log_energy_grad,
        method="SLSQP",
        constraints=[{"type": "ineq", "fun": constraints, "jac": jacobian}],
        options=_OPTIONS,
    )
    return float(prob.energy(res.x))
