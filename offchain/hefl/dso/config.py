"""The run configuration of the decentralised mode (typed, frozen; defaults from issue 14)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from hefl.crypto import DEFAULT_KEY_BITS
from hefl.dso.quantise import ROUNDINGS
from hefl.dso.schedule import DEFAULT_GAMMA, DEFAULT_LAMBDA, PowerSchedule, check_schedules
from hefl.errors import ConfigError, ScheduleError

#: Private edge weights a_{i→j}(k) ~ U[a_min, a_max] (γ_0·a_max²·deg = 0.98 < 1 on a ring; other
#: graphs need a_max < 1/√(γ_0·max degree), see :func:`default_a_range`).
DEFAULT_A_MIN = 0.5
DEFAULT_A_MAX = 0.7
#: S_a = 2^12: weights are integers A = round(a·2^12).
DEFAULT_WEIGHT_BITS = 12
#: S_x = 2^20: states are integers X = Q(x·2^20).
DEFAULT_STATE_BITS = 20
#: Declared public bound |x_i| ≤ state_bound (sizes the packing slots).
DEFAULT_STATE_BOUND = 1024.0
#: u_i(k) ~ U[0.5, 1.5].
DEFAULT_STEPSIZE_RANGE = (0.5, 1.5)
#: Checkpoint every K iterations.
DEFAULT_CHECKPOINT_INTERVAL = 10


def default_a_range(max_degree: int, gamma0: float = 1.0) -> tuple[float, float]:
    """[a_min, a_max] for a graph: the ring's [0.5, 0.7], shrunk so γ_0·a_max²·deg ≤ 0.98."""
    a_max = min(DEFAULT_A_MAX, math.sqrt(0.98 / (gamma0 * max_degree)))
    return (min(DEFAULT_A_MIN, a_max * DEFAULT_A_MIN / DEFAULT_A_MAX), a_max)


@dataclass(frozen=True)
class DsoConfig:
    """Everything an agent needs to know in common with its neighbours, plus its seed.

    Attributes:
        iterations: T.
        gamma, lam: the schedules γ_k and λ_k (:mod:`hefl.dso.schedule`).
        a_min, a_max: the range of the private weights a_{i→j}(k).
        weight_bits, state_bits: S_a = 2^weight_bits, S_x = 2^state_bits.
        state_bound: public bound on |x_i| (an agent whose state leaves it stops the run).
        stepsize_range: u_i(k) ~ U[low, high]; ``diagonal_stepsizes`` draws one per coordinate.
        rounding: ``stochastic`` (protocol) or ``deterministic`` (ablation).
        equal_stepsizes: u_i(k) ≡ 1 (ablation).
        check: refuse schedules that break the convergence conditions (off for the γ ≡ 1 ablation).
        pack: pack the responses' coordinates into as few ciphertexts as the bound allows.
        update_rule: name in :data:`hefl.dso.update.UPDATE_RULES`.
        seed: seeds every agent's private randomness (agent i uses the stream (seed, i)).
        key_bits, allow_insecure: each agent's Paillier key.
        checkpoint_interval: K.
    """

    iterations: int = 100
    gamma: PowerSchedule = DEFAULT_GAMMA
    lam: PowerSchedule = DEFAULT_LAMBDA
    a_min: float = DEFAULT_A_MIN
    a_max: float = DEFAULT_A_MAX
    weight_bits: int = DEFAULT_WEIGHT_BITS
    state_bits: int = DEFAULT_STATE_BITS
    state_bound: float = DEFAULT_STATE_BOUND
    stepsize_range: tuple[float, float] = DEFAULT_STEPSIZE_RANGE
    diagonal_stepsizes: bool = False
    rounding: str = "stochastic"
    equal_stepsizes: bool = False
    check: bool = True
    pack: bool = True
    update_rule: str = "reconstruction"
    seed: int = 0
    key_bits: int = DEFAULT_KEY_BITS
    allow_insecure: bool = False
    checkpoint_interval: int = DEFAULT_CHECKPOINT_INTERVAL

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise ConfigError(f"iterations must be ≥ 1, got {self.iterations}")
        if not 0 < self.a_min <= self.a_max:
            raise ScheduleError(f"need 0 < a_min ≤ a_max, got [{self.a_min}, {self.a_max}]")
        if self.weight_min < 1:
            raise ConfigError(f"a_min·2^{self.weight_bits} rounds to 0; raise weight_bits")
        low, high = self.stepsize_range
        if not 0 < low <= high:
            raise ScheduleError(f"need 0 < u_low ≤ u_high, got {self.stepsize_range}")
        if self.rounding not in ROUNDINGS:
            raise ConfigError(f"rounding {self.rounding!r} unknown; use one of {ROUNDINGS}")
        if not (math.isfinite(self.state_bound) and self.state_bound > 0):
            raise ConfigError(f"state_bound must be > 0, got {self.state_bound}")
        if self.state_bits < 0 or self.weight_bits < 0:
            raise ConfigError("state_bits and weight_bits must be ≥ 0")
        if self.checkpoint_interval < 1:
            raise ConfigError(f"checkpoint interval must be ≥ 1, got {self.checkpoint_interval}")

    # --- integer encodings ----------------------------------------------------------------------
    @property
    def weight_min(self) -> int:
        return round(self.a_min * (1 << self.weight_bits))

    @property
    def weight_max(self) -> int:
        """A_max = round(a_max·S_a): the largest integer weight."""
        return round(self.a_max * (1 << self.weight_bits))

    @property
    def state_int_bound(self) -> int:
        """B_x: |X| ≤ ⌈state_bound·S_x⌉ + 1 (one more for the stochastic rounding)."""
        return math.ceil(self.state_bound * (1 << self.state_bits)) + 1

    @property
    def response_bound(self) -> int:
        """V = A_max·2·B_x ≥ |A_{j→i}·(X_j − X_i)| (one slot of a response)."""
        return self.weight_max * 2 * self.state_int_bound

    @property
    def delta_scale(self) -> int:
        """Δ_ij is an integer at scale S_a²·S_x."""
        return 1 << (2 * self.weight_bits + self.state_bits)

    def check_schedules(self, max_degree: int) -> None:
        """Refuse the schedules (see :func:`hefl.dso.schedule.check_schedules`) unless unchecked."""
        if self.check:
            check_schedules(
                self.gamma, self.lam, self.weight_max / (1 << self.weight_bits), max_degree
            )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["gamma"] = asdict(self.gamma)
        data["lam"] = asdict(self.lam)
        data["stepsize_range"] = list(self.stepsize_range)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DsoConfig:
        values = dict(data)
        values["gamma"] = PowerSchedule(**values["gamma"])
        values["lam"] = PowerSchedule(**values["lam"])
        values["stepsize_range"] = tuple(values["stepsize_range"])
        return cls(**values)
