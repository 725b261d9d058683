"""Conventional distributed SGD (DSGD) with Metropolis weights, in plaintext — the baseline.

    x_i(k+1) = Σ_j W_ij·x_j(k) − λ_k·g_i(x_i(k), ξ_i(k)),   W = Metropolis weights of the graph,

with the same λ_k, the same problems and the same seeds scheme (agent i's gradient noise from
the stream (seed, i, "dsgd")). The private algorithm's ablations (γ_k ≡ 1, deterministic rounding,
equal stepsizes) are :func:`ablation_config` variants of a :class:`~hefl.dso.config.DsoConfig` run
through the emulation.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from hefl.dso.config import DsoConfig
from hefl.dso.emulation import Trajectory
from hefl.dso.graph import Graph
from hefl.dso.problems import Problem
from hefl.dso.schedule import PowerSchedule
from hefl.errors import ConfigError

#: Ablations of the private algorithm, by name.
ABLATIONS: tuple[str, ...] = ("gamma1", "deterministic", "equal-stepsizes")
#: Seed-stream tag of the baseline's noise (keeps it apart from the private agents' streams).
DSGD_STREAM = 0xD5


def run_dsgd(problem: Problem, graph: Graph, config: DsoConfig) -> Trajectory:
    """DSGD with Metropolis weights for ``config.iterations`` iterations with ``config.lam``."""
    w = graph.metropolis_weights()
    locals_ = [problem.local(i) for i in range(graph.n)]
    rngs = [np.random.default_rng([config.seed, i, DSGD_STREAM]) for i in range(graph.n)]
    x = np.array([problem.initial_state(i) for i in range(graph.n)], dtype=np.float64)
    T = config.iterations
    states = np.empty((T + 1, graph.n, problem.d))
    states[0] = x
    start = time.perf_counter()
    for k in range(T):
        grads = np.array([f.gradient(x[i], rngs[i]) for i, f in enumerate(locals_)])
        x = w @ x - config.lam(k) * grads
        states[k + 1] = x
    return Trajectory(states, problem.optimum(), time.perf_counter() - start)


def ablation_config(config: DsoConfig, name: str) -> DsoConfig:
    """γ_k ≡ 1 (schedule checks off: it breaks Σγ² < ∞ on purpose), deterministic rounding, or
    u_i(k) ≡ 1."""
    if name == "gamma1":
        # γ_0·a_max²·deg < 1 still holds: γ ≡ 1 = γ_0.
        return replace(config, gamma=PowerSchedule.constant(1.0), check=False)
    if name == "deterministic":
        return replace(config, rounding="deterministic")
    if name == "equal-stepsizes":
        return replace(config, equal_stepsizes=True)
    raise ConfigError(f"unknown ablation {name!r}; use one of {', '.join(ABLATIONS)}")
