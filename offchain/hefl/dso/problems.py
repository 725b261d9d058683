"""Problems  min_x Σ_i f_i(x),  x ∈ ℝ^d, each f_i private to agent i, with stochastic gradients.

- :class:`EstimationProblem` — the distributed estimation example of issue 14: N agents (5 on a
  ring), f_i(θ) = ½‖z_i − M_iθ‖², θ ∈ ℝ³, gradients g_i = M_iᵀ(M_iθ − z_i) + σ·ξ, ξ ~ N(0, I),
  σ = 1. M_i ∈ ℝ^{2×3} and z_i = M_iθ° + noise are drawn from a seed (see the package's
  assumptions); no single M_i identifies θ, their stack does.
- :class:`RegressionProblem` — the project's linear regression (main paper Eqs. 1–2) on a data set
  partitioned by :func:`hefl.data.prepare`: f_i(w) = (1/2|D_i|)·Σ_{D_i}(y − wᵀx)², mini-batch
  gradients over ``batch_size`` samples drawn with replacement.

Both give the centralised optimum x* = argmin Σ_i f_i in closed form (normal equations), against
which the experiments measure MSE(k) = (1/N)·Σ_i ‖x_i(k) − x*‖².
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from hefl.errors import ConfigError

#: Gradient noise σ of the estimation example.
ESTIMATION_SIGMA = 1.0
#: Rows of each M_i in the estimation example.
ESTIMATION_ROWS = 2
#: Dimension of θ in the estimation example.
ESTIMATION_DIM = 3
#: The θ° the measurements z_i come from.
ESTIMATION_THETA = (1.0, -1.0, 0.5)
#: Measurement noise on z_i.
ESTIMATION_MEASUREMENT_NOISE = 0.1
#: Mini-batch size of the regression problem.
DEFAULT_BATCH_SIZE = 8
PROBLEM_KINDS: tuple[str, ...] = ("estimation", "boston", "fish", "diabetes")


class LocalObjective(Protocol):
    """What agent i holds of the problem: its own f_i and nothing of the others'."""

    @property
    def d(self) -> int: ...

    def gradient(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray: ...


@dataclass(frozen=True)
class LinearLocal:
    """f_i(x) = (1/2b)·‖A_i x − c_i‖² sampled on ``batch`` rows (None: all rows), plus σ·ξ."""

    A: np.ndarray
    c: np.ndarray
    batch: int | None = None
    sigma: float = 0.0

    @property
    def d(self) -> int:
        return int(self.A.shape[1])

    def gradient(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.batch is None:
            g = self.A.T @ (self.A @ x - self.c)
        else:
            idx = rng.integers(0, self.A.shape[0], self.batch)
            a, c = self.A[idx], self.c[idx]
            g = a.T @ (a @ x - c) / self.batch
        if self.sigma:
            g = g + self.sigma * rng.standard_normal(self.d)
        return g


class Problem(Protocol):
    """A problem as the runners see it: N local objectives, the optimum and x_i(0)."""

    @property
    def name(self) -> str: ...
    @property
    def n(self) -> int: ...
    @property
    def d(self) -> int: ...

    def local(self, i: int) -> LocalObjective: ...
    def optimum(self) -> np.ndarray: ...
    def initial_state(self, i: int) -> np.ndarray: ...
    def to_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class EstimationProblem:
    """f_i(θ) = ½‖z_i − M_iθ‖² with noisy gradients (σ = 1)."""

    n: int = 5
    seed: int = 0
    sigma: float = ESTIMATION_SIGMA
    name: str = "estimation"
    d: int = ESTIMATION_DIM
    M: tuple[np.ndarray, ...] = field(init=False, repr=False)
    z: tuple[np.ndarray, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.n < 2:
            raise ConfigError(f"the estimation example needs ≥ 2 agents, got {self.n}")
        rng = np.random.default_rng([self.seed, 0xE57])
        theta = np.array(ESTIMATION_THETA)
        ms = tuple(rng.standard_normal((ESTIMATION_ROWS, self.d)) for _ in range(self.n))
        zs = tuple(
            m @ theta + ESTIMATION_MEASUREMENT_NOISE * rng.standard_normal(ESTIMATION_ROWS)
            for m in ms
        )
        object.__setattr__(self, "M", ms)
        object.__setattr__(self, "z", zs)

    def local(self, i: int) -> LinearLocal:
        return LinearLocal(self.M[i], self.z[i], None, self.sigma)

    def optimum(self) -> np.ndarray:
        h = sum(m.T @ m for m in self.M)
        b = sum(m.T @ z for m, z in zip(self.M, self.z, strict=True))
        return np.linalg.solve(h, b)

    def initial_state(self, i: int) -> np.ndarray:
        return np.zeros(self.d)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "estimation", "n": self.n, "seed": self.seed, "sigma": self.sigma}


@dataclass(frozen=True)
class RegressionProblem:
    """Linear regression on N private parts; X rows carry the bias column."""

    name: str
    X: tuple[np.ndarray, ...]
    y: tuple[np.ndarray, ...]
    batch_size: int = DEFAULT_BATCH_SIZE
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"batch size must be ≥ 1, got {self.batch_size}")

    @property
    def n(self) -> int:
        return len(self.X)

    @property
    def d(self) -> int:
        return int(self.X[0].shape[1])

    def local(self, i: int) -> LinearLocal:
        return LinearLocal(self.X[i], self.y[i], self.batch_size, 0.0)

    def optimum(self) -> np.ndarray:
        h = sum(X.T @ X / X.shape[0] for X in self.X)
        b = sum(X.T @ y / X.shape[0] for X, y in zip(self.X, self.y, strict=True))
        return np.linalg.lstsq(h, b, rcond=None)[0]

    def initial_state(self, i: int) -> np.ndarray:
        return np.zeros(self.d)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "regression", "batch_size": self.batch_size, **self.source}


def regression_problem(
    dataset: str,
    n: int,
    *,
    seed: int = 0,
    target: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    partition: str = "iid",
) -> RegressionProblem:
    """Linear regression on ``dataset`` (boston, fish, diabetes or a CSV path) split N ways."""
    from hefl.data import SplitConfig, load_dataset, prepare

    data = load_dataset(dataset, target=target)
    prepared = prepare(
        data, SplitConfig(participants=n, n_samples=None, seed=seed, partition=partition)
    )
    return RegressionProblem(
        name=f"regression:{prepared.name}",
        X=tuple(p.X for p in prepared.parts),
        y=tuple(p.y for p in prepared.parts),
        batch_size=batch_size,
        source={
            "dataset": dataset,
            "target": target,
            "seed": seed,
            "partition": partition,
            "n": n,
        },
    )


def make_problem(
    spec: str, n: int, *, seed: int = 0, target: str | None = None, batch_size: int = 8
) -> Problem:
    """``estimation`` | ``boston`` | ``fish`` | ``diabetes`` | a CSV path (with ``target``)."""
    if spec == "estimation":
        return EstimationProblem(n=n, seed=seed)
    return regression_problem(spec, n, seed=seed, target=target, batch_size=batch_size)


def problem_from_json(data: dict[str, Any]) -> Problem:
    if data["kind"] == "estimation":
        return EstimationProblem(n=int(data["n"]), seed=int(data["seed"]), sigma=data["sigma"])
    return regression_problem(
        data["dataset"],
        int(data["n"]),
        seed=int(data["seed"]),
        target=data.get("target"),
        batch_size=int(data["batch_size"]),
        partition=data.get("partition", "iid"),
    )
