"""Q(x): rounding real states to integers at scale S_x = 2^f before they are encrypted.

Unbiased stochastic rounding (step 1 of the protocol): X = ⌊x·S_x + U⌋ with U ~ U[0, 1), so
E[X] = x·S_x and |X − x·S_x| < 1. Computed once per iteration and used on every edge, which makes
the pairwise terms exactly antisymmetric. The deterministic ablation rounds to nearest (ties to
even).
"""

from __future__ import annotations

import numpy as np

ROUNDINGS: tuple[str, ...] = ("stochastic", "deterministic")


def quantise(x: np.ndarray, scale_bits: int, uniforms: np.ndarray, rounding: str) -> list[int]:
    """Integers X_l for the coordinates of ``x`` (``uniforms``: the U draws).

    x·2^f is exact in float64 (a power-of-two scale), so the only rounding is the one asked for.
    """
    scaled = np.ldexp(np.asarray(x, dtype=np.float64), scale_bits)
    if rounding == "stochastic":
        values = np.floor(scaled + uniforms)
    elif rounding == "deterministic":
        values = np.rint(scaled)
    else:  # guarded by DsoConfig
        raise ValueError(f"unknown rounding {rounding!r}")
    return [int(v) for v in values]
