"""Exact integer emulation of the encrypted protocol (for long Monte-Carlo runs).

Drives the same :class:`~hefl.dso.agent.AgentCore` objects as the encrypted run, in the same order,
and computes what each agent would decrypt, v_ij = A_{j→i}·(X_j − X_i), and then
Δ_ij = A_{i→j}·v_ij, directly in Python integers. Paillier decryption of a value within the bound is
exact, so the trajectories are bit-identical to the encrypted run with the same seeds — which
``tests/dso/test_dso_protocol.py`` checks (512-, 1024- and 2048-bit keys), and which is the only
reason experiments may use this.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hefl.dso.agent import AgentCore
from hefl.dso.config import DsoConfig
from hefl.dso.graph import Graph
from hefl.dso.problems import Problem


@dataclass(frozen=True)
class Trajectory:
    """States x_i(k) for k = 0…T (shape (T+1, N, d)) and what the run measured."""

    states: np.ndarray
    optimum: np.ndarray
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    #: Δ_ij of the last iteration, {(i, j): tuple}, when recorded.
    last_deltas: dict[tuple[int, int], tuple[int, ...]] = field(default_factory=dict)

    @property
    def iterations(self) -> int:
        return int(self.states.shape[0] - 1)

    def mse(self) -> np.ndarray:
        """MSE(k) = (1/N)·Σ_i ‖x_i(k) − x*‖², k = 0…T."""
        return ((self.states - self.optimum) ** 2).sum(axis=-1).mean(axis=-1)

    @property
    def seconds_per_iteration(self) -> float:
        return self.seconds / max(1, self.iterations)


def make_cores(problem: Problem, graph: Graph, config: DsoConfig) -> list[AgentCore]:
    return [
        AgentCore(i, graph.neighbours(i), problem.local(i), config, problem.initial_state(i))
        for i in range(graph.n)
    ]


def run_emulation(
    problem: Problem,
    graph: Graph,
    config: DsoConfig,
    *,
    progress: Callable[[int], None] | None = None,
) -> Trajectory:
    """The private algorithm without encryption, exactly (see the module docstring)."""
    if graph.n != problem.n:
        raise ValueError(f"graph has {graph.n} agents, problem {problem.n}")
    config.check_schedules(graph.max_degree)
    cores = make_cores(problem, graph, config)
    n, d, T = graph.n, problem.d, config.iterations
    states = np.empty((T + 1, n, d))
    states[0] = [c.x for c in cores]
    deltas: dict[tuple[int, int], tuple[int, ...]] = {}
    start = time.perf_counter()
    for k in range(T):
        draws = [c.begin(k) for c in cores]
        totals = []
        for i, core in enumerate(cores):
            total = [0] * d
            xi = draws[i].X
            for j in core.neighbours:
                xj, a_ji, a_ij = draws[j].X, draws[j].weights[i], draws[i].weights[j]
                delta = tuple(a_ij[c] * a_ji[c] * (xj[c] - xi[c]) for c in range(d))
                if k == T - 1:
                    deltas[(i, j)] = delta
                for c in range(d):
                    total[c] += delta[c]
            totals.append(total)
        for core, total in zip(cores, totals, strict=True):
            core.finish(k, total)
        states[k + 1] = [c.x for c in cores]
        if progress is not None:
            progress(k)
    return Trajectory(states, problem.optimum(), time.perf_counter() - start, last_deltas=deltas)
