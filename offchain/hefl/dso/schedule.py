"""Schedules γ_k (attenuation) and λ_k (stepsize), and the convergence conditions checked at start.

Both are of the form  s_k = c₀ / (1 + c·k^p)  (:class:`PowerSchedule`). The defaults are the
issue's: γ_k = 1/(1 + 0.1·k^0.81) (the paper's attenuation factor, per the review) and
λ_k = 0.05/(1 + 0.1·k). For large k, s_k ~ (c₀/c)·k^(−p) when c > 0 and p > 0, so its decay
exponent is e = p (e = 0, a constant, when c = 0 or p = 0), and the series conditions follow from
the p-series test:

    Σ γ_k = ∞        ⇔ e_γ ≤ 1            Σ γ_k² < ∞        ⇔ 2·e_γ > 1
    Σ λ_k = ∞        ⇔ e_λ ≤ 1            Σ λ_k² < ∞        ⇔ 2·e_λ > 1
    Σ λ_k²/γ_k < ∞   ⇔ 2·e_λ − e_γ > 1
    γ_0 · a_max² · (max degree) < 1       (the consensus step γ_k·Σ_j a_ij·a_ji ≤ 1: no overshoot)

:func:`check_schedules` refuses a schedule that breaks one, naming the condition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hefl.errors import ScheduleError


@dataclass(frozen=True)
class PowerSchedule:
    """s_k = scale / (1 + coef·k^power), k = 0, 1, 2, …"""

    scale: float
    coef: float
    power: float

    def __post_init__(self) -> None:
        for name in ("scale", "coef", "power"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ScheduleError(f"schedule {name} must be finite, got {value!r}")
        if self.scale <= 0:
            raise ScheduleError(f"schedule scale must be > 0, got {self.scale}")
        if self.coef < 0 or self.power < 0:
            raise ScheduleError(
                f"schedule coef and power must be ≥ 0, got coef={self.coef}, power={self.power}"
            )

    def __call__(self, k: int) -> float:
        return self.scale / (1.0 + self.coef * float(k) ** self.power)

    @property
    def decay(self) -> float:
        """Exponent e of s_k ~ k^(−e) for large k (0 for a constant schedule)."""
        return self.power if self.coef > 0 else 0.0

    @classmethod
    def constant(cls, value: float) -> PowerSchedule:
        return cls(value, 0.0, 0.0)

    @classmethod
    def parse(cls, text: str, what: str) -> PowerSchedule:
        """``"c0,c,p"`` (e.g. ``"1,0.1,0.81"``) or a single constant ``"1"``."""
        try:
            parts = [float(t) for t in text.split(",")]
        except ValueError:
            raise ScheduleError(f"{what} {text!r} is not 'scale,coef,power' numbers") from None
        if len(parts) == 1:
            return cls.constant(parts[0])
        if len(parts) != 3:
            raise ScheduleError(f"{what} {text!r} needs 3 numbers 'scale,coef,power' or one")
        return cls(*parts)

    def describe(self) -> str:
        if self.decay == 0:
            return f"{self(0):g} (constant)"
        return f"{self.scale:g}/(1 + {self.coef:g}·k^{self.power:g})"


#: γ_k = 1/(1 + 0.1·k^0.81): the attenuation factor of the paper (review of arXiv 2604.21381).
DEFAULT_GAMMA = PowerSchedule(1.0, 0.1, 0.81)
#: λ_k = 0.05/(1 + 0.1·k): the estimation example's stepsize (issue 14).
DEFAULT_LAMBDA = PowerSchedule(0.05, 0.1, 1.0)


def check_schedules(
    gamma: PowerSchedule, lam: PowerSchedule, a_max: float, max_degree: int
) -> None:
    """Refuse schedules that break a convergence condition (see the module docstring)."""
    eg, el = gamma.decay, lam.decay
    if not eg <= 1:
        raise ScheduleError(f"Σγ_k = ∞ fails: γ_k decays like k^-{eg:g} (need power ≤ 1)")
    if not 2 * eg > 1:
        raise ScheduleError(f"Σγ_k² < ∞ fails: γ_k decays like k^-{eg:g} (need power > 0.5)")
    if not el <= 1:
        raise ScheduleError(f"Σλ_k = ∞ fails: λ_k decays like k^-{el:g} (need power ≤ 1)")
    if not 2 * el > 1:
        raise ScheduleError(f"Σλ_k² < ∞ fails: λ_k decays like k^-{el:g} (need power > 0.5)")
    if not 2 * el - eg > 1:
        raise ScheduleError(f"Σλ_k²/γ_k < ∞ fails: 2·{el:g} − {eg:g} = {2 * el - eg:g} (need > 1)")
    bound = gamma(0) * a_max**2 * max_degree
    if not bound < 1:
        raise ScheduleError(
            f"γ_0·a_max²·(max degree) < 1 fails: {gamma(0):g}·{a_max:g}²·{max_degree} = "
            f"{bound:g}; lower --a-max below {math.sqrt(1 / (gamma(0) * max_degree)):.4f}"
        )
