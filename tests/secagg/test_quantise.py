"""The quantiser: clip, scale, offset, and its inverse on sums."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hefl.errors import ConfigError
from hefl.secagg.quantise import Quantiser


def test_offset_and_bounds() -> None:
    q = Quantiser(clip=0.5, scale=1000.0)
    assert q.offset == 500 and q.int_max == 1000 and q.sum_bound(7) == 7000
    enc = q.encode(np.array([-0.5, 0.0, 0.5, -3.0, 9.0, 0.0004, 0.0006]))
    assert enc.tolist() == [0, 500, 1000, 0, 1000, 500, 501]


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (3, 20), elements=st.floats(-1.0, 1.0)))
def test_decode_sum_within_tolerance(x: np.ndarray) -> None:
    q = Quantiser(clip=1.0, scale=2.0**16)
    summed = np.sum([q.encode(row) for row in x], axis=0)
    assert np.max(np.abs(q.decode_sum(summed, 3) - x.sum(axis=0))) <= q.tolerance(3)


def test_bad_inputs() -> None:
    with pytest.raises(ConfigError):
        Quantiser(clip=0.0)
    with pytest.raises(ConfigError):
        Quantiser(scale=0.5)
    with pytest.raises(ConfigError):
        Quantiser(clip=1.0, scale=2.0**60)
    with pytest.raises(ConfigError, match="NaN"):
        Quantiser().encode(np.array([0.0, np.nan]))
    with pytest.raises(ConfigError):
        Quantiser().encode(np.zeros((2, 2)))
