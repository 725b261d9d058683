"""The update rule (step 5 of the protocol) as a replaceable strategy.

The reconstruction (issue 14; the paper's body is not public):

    x_i(k+1) = x_i(k) + γ_k·Σ_{j∈N(i)} Δ_ij(k) − λ_i(k)·g_i(x_i(k), ξ_i(k)),
    Δ_ij(k)  = a_{i→j}(k)·a_{j→i}(k)·(x̃_j(k) − x̃_i(k)),   x̃ = Q(x)/S_x,   λ_i(k) = λ_k·u_i(k).

Δ_ij arrives as an exact integer at scale S_a²·S_x; :class:`UpdateRule` gets the integer sum
Σ_j Δ_ij and does the only floating-point arithmetic of an iteration, the same for the encrypted
run and the integer emulation (which is why they agree bit for bit). An exact version of the
paper's rule is a new subclass registered in :data:`UPDATE_RULES`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from hefl.dso.config import DsoConfig
from hefl.errors import ConfigError


class UpdateRule(ABC):
    """x_i(k+1) from x_i(k), the integer Σ_j Δ_ij, the stochastic gradient and u_i(k)."""

    name: ClassVar[str]

    def __init__(self, config: DsoConfig) -> None:
        self.config = config

    @abstractmethod
    def step(
        self,
        x: np.ndarray,
        delta_sum: Sequence[int],
        k: int,
        gradient: np.ndarray,
        u: np.ndarray,
    ) -> np.ndarray:
        """The new state (a new array; ``x`` is not modified)."""


class ReconstructedUpdate(UpdateRule):
    """x + γ_k·(ΣΔ/(S_a²·S_x)) − λ_k·u·g (the module docstring's rule)."""

    name = "reconstruction"

    def step(
        self,
        x: np.ndarray,
        delta_sum: Sequence[int],
        k: int,
        gradient: np.ndarray,
        u: np.ndarray,
    ) -> np.ndarray:
        c = self.config
        consensus = np.ldexp(
            np.array([float(v) for v in delta_sum]), -(2 * c.weight_bits + c.state_bits)
        )
        return x + c.gamma(k) * consensus - c.lam(k) * (u * gradient)


#: Update rules by name.
UPDATE_RULES: dict[str, type[UpdateRule]] = {ReconstructedUpdate.name: ReconstructedUpdate}


def make_update_rule(config: DsoConfig) -> UpdateRule:
    try:
        return UPDATE_RULES[config.update_rule](config)
    except KeyError:
        raise ConfigError(
            f"unknown update rule {config.update_rule!r}; use one of {', '.join(UPDATE_RULES)}"
        ) from None
