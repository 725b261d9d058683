"""Real gradients → non-negative integers for the integer-only secure-aggregation schemes.

The multi-key scheme (and packed Paillier) only add non-negative integers below a bound, so each
real coordinate x is

1. clipped to [−∇_max, ∇_max]                    (∇_max is the real clip bound, ``clip``),
2. scaled and rounded: x_int = round(x·s)          (s is ``scale``, an explicit fixed-point scale),
3. shifted by the offset Q = round(∇_max·s):  x̂ = x_int + Q ∈ [0, 2Q].

So the paper's integer bound ∇_max (Section 3.1, "the maximum value of gradient") is 2Q for one
client, and a sum over |S| ≤ N clients lies in [0, N·2Q]. After unpacking, the server removes the
offset: Σ x_int = Σ x̂ − |S|·Q, then divides by s. The per-coordinate error of a sum of |S|
unclipped values is at most |S|/(2s) (rounding), plus whatever clipping removed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hefl.errors import ConfigError

#: Default real clip bound ∇_max for gradient coordinates.
DEFAULT_CLIP = 1.0
#: Default fixed-point scale s = 2^16 (quantisation step ≈ 1.5e-5).
DEFAULT_SCALE = float(2**16)


@dataclass(frozen=True)
class Quantiser:
    """Fixed-point quantiser with clip bound ``clip`` (real ∇_max) and scale ``scale`` (s)."""

    clip: float = DEFAULT_CLIP
    scale: float = DEFAULT_SCALE

    def __post_init__(self) -> None:
        if not (math.isfinite(self.clip) and self.clip > 0):
            raise ConfigError(f"clip bound must be a positive finite number, got {self.clip!r}")
        if not (math.isfinite(self.scale) and self.scale >= 1):
            raise ConfigError(f"scale must be a finite number ≥ 1, got {self.scale!r}")
        if self.offset >= 2**52:
            raise ConfigError(
                f"clip·scale = {self.clip * self.scale:g} exceeds float64 precision; "
                "lower the scale or the clip bound"
            )

    @property
    def offset(self) -> int:
        """Q = round(∇_max · s), the offset that makes every quantised value non-negative."""
        return round(self.clip * self.scale)

    @property
    def int_max(self) -> int:
        """2Q: the largest quantised value of one client (the paper's integer ∇_max)."""
        return 2 * self.offset

    def sum_bound(self, n_clients: int) -> int:
        """N·2Q: the largest value of a coordinate of the sum over at most N clients."""
        if n_clients < 1:
            raise ConfigError(f"n_clients must be ≥ 1, got {n_clients}")
        return n_clients * self.int_max

    def encode(self, vector: np.ndarray) -> np.ndarray:
        """Clip at ±∇_max, scale, round and add Q: int64 values in [0, 2Q]."""
        x = np.asarray(vector, dtype=np.float64)
        if x.ndim != 1:
            raise ConfigError(f"expected a 1-D gradient vector, got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ConfigError("gradient contains NaN or infinity; fix the training step")
        q = np.rint(np.clip(x, -self.clip, self.clip) * self.scale).astype(np.int64)
        q = np.clip(q, -self.offset, self.offset)
        return q + self.offset

    def decode_sum(self, summed: np.ndarray | list[int], count: int) -> np.ndarray:
        """Remove the offset of ``count`` summands and undo the scale: Σ x ≈ (Σ x̂ − count·Q)/s."""
        s = np.asarray(summed, dtype=np.int64) - count * self.offset
        return s.astype(np.float64) / self.scale

    def tolerance(self, count: int) -> float:
        """Worst-case |decoded sum − exact sum| of ``count`` unclipped vectors: count/(2s)."""
        return count / (2.0 * self.scale)
