"""Settings of the paper's experiments (§3.2, Table 1) and how ξ is treated in them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from hefl.control import TimeLimit
from hefl.costs import CostParameters
from hefl.errors import ConfigError

#: Data sets of §3.2 and the figure that sweeps τ on each.
SWEEP_FIGURE: dict[str, str] = {"boston": "fig2", "fish": "fig3"}
FIGURES: tuple[str, ...] = ("fig2", "fig3", "fig4", "fig5")
#: The three budgeted controllers the figures compare.
Scheme = Literal["joint", "only-resource", "only-aggregation"]
SCHEMES: tuple[Scheme, ...] = get_args(Scheme)
#: Samples drawn per data set (§3.2: 506 each).
PAPER_SAMPLES = 506
#: Energy budget (J) of Figs. 2, 3 and 5 and the centre of Fig. 4's grid, per data set. Boston's
#: encrypted steps cost (14/7)³ = 8× fish's at equal time, so its budget is an order larger (the
#: paper: "different orders of magnitude on the horizontal axis").
DEFAULT_ENERGY: dict[str, float] = {"boston": 400.0, "fish": 50.0}


@dataclass(frozen=True)
class ExperimentConfig:
    """Settings of the paper's experiments (Table 1 defaults; see :mod:`hefl.experiments.adaptive`
    on ξ).

    Attributes:
        dataset: "boston" or "fish".
        participants: the N of Figs. 2–3.
        fig4_participants: N of Fig. 4 (the paper: 5).
        fig5_participants: the N of Fig. 5.
        taus: the fixed τ of Figs. 2–3.
        energy: budget (J) of Figs. 2, 3, 5; ``None``: :data:`DEFAULT_ENERGY`.
        energy_factors: Fig. 4's budgets as multiples of ``energy``.
        time_limit: how ξ applies (:mod:`hefl.control.optimiser`).
        sweep_xi_factor: ξ multiplier for Figs. 2, 3, 5 (1 = Table 1 literally).
        fig4_xi_factor: ξ multiplier for Fig. 4.
        partition: "iid" or "skewed" (:class:`hefl.data.SplitConfig`).
        seed: seeds the sample, split and partition.
        params: Table 1 (B0 from the data set when left ``None``).
        encrypted: run the jobs through the encrypted round loop instead of plaintext.
        key_bits: Paillier modulus for ``encrypted``.
    """

    dataset: str = "boston"
    participants: tuple[int, ...] = (3, 5, 7, 9)
    fig4_participants: int = 5
    fig5_participants: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8, 9, 10)
    taus: tuple[int, ...] = tuple(range(10, 100, 10))
    energy: float | None = None
    energy_factors: tuple[float, ...] = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
    time_limit: TimeLimit = "total"
    sweep_xi_factor: float = 10.0
    fig4_xi_factor: float = 1.0
    partition: str = "iid"
    seed: int = 0
    params: CostParameters | None = None
    encrypted: bool = False
    key_bits: int = 2048

    def __post_init__(self) -> None:
        if self.dataset not in SWEEP_FIGURE:
            raise ConfigError(f"the paper's experiments use boston or fish, got {self.dataset!r}")
        if any(n < 1 for n in (*self.participants, *self.fig5_participants)):
            raise ConfigError("every N must be a positive integer")
        if any(t < 1 for t in self.taus):
            raise ConfigError(f"every τ must be a positive integer, got {self.taus!r}")
        for name in ("sweep_xi_factor", "fig4_xi_factor"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be positive, got {value!r}")
        if self.energy is not None and not (math.isfinite(self.energy) and self.energy > 0):
            raise ConfigError(f"energy must be positive joules, got {self.energy!r}")

    @property
    def table1(self) -> CostParameters:
        return self.params or CostParameters.for_dataset(self.dataset)

    @property
    def budget(self) -> float:
        return DEFAULT_ENERGY[self.dataset] if self.energy is None else self.energy

    def xi(self, factor: float) -> float:
        return self.table1.xi * factor
