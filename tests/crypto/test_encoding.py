"""Fixed-point codec: exact rounding, range edges, the refused middle band."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hefl.crypto.encoding import (
    decode_int,
    decode_residue,
    encode_array,
    encode_float,
    encode_residue,
    max_int,
    to_float,
)
from hefl.errors import EncodingOverflowError

N = (2**127 - 1) * (2**89 - 1)  # any odd modulus works for the codec
LIMIT = max_int(N)

finite = st.floats(allow_nan=False, allow_infinity=False)


def _exact_round(v: float, f: int) -> int:
    """Round half to even of v·2^f via Fraction (the independent reference)."""
    return round(Fraction(v) * 2**f)


@given(finite, st.integers(0, 1200))
def test_encode_float_is_exact_round_half_even(v: float, f: int) -> None:
    assert encode_float(v, f) == _exact_round(v, f)


@given(st.floats(-1e6, 1e6, allow_nan=False), st.integers(0, 60))
def test_round_trip_error_at_most_half_ulp_of_scale(v: float, f: int) -> None:
    x = encode_float(v, f)
    back = to_float(x, f)
    assert abs(Fraction(back) - Fraction(v)) <= Fraction(1, 2 ** (f + 1)) + abs(
        Fraction(back) - Fraction(x, 2**f)
    )


@pytest.mark.parametrize(
    ("v", "f", "x"),
    [
        (0.5, 0, 0),
        (1.5, 0, 2),
        (2.5, 0, 2),
        (-2.5, 0, -2),
        (-0.5, 0, 0),
        (0.75, 1, 2),
        (-0.25, 1, 0),
    ],
)
def test_ties_go_to_even(v: float, f: int, x: int) -> None:
    assert encode_float(v, f) == x


@given(st.integers(-LIMIT, LIMIT))
def test_residue_round_trip_whole_band(x: int) -> None:
    r = encode_residue(x, N)
    assert 0 <= r < N
    assert decode_residue(r, N) == x


@pytest.mark.parametrize("x", [LIMIT, -LIMIT, 0, 1, -1, LIMIT - 1, -LIMIT + 1])
def test_residue_edges(x: int) -> None:
    assert decode_residue(encode_residue(x, N), N) == x


@pytest.mark.parametrize("x", [LIMIT + 1, -LIMIT - 1, N])
def test_encode_outside_band_refused(x: int) -> None:
    with pytest.raises(EncodingOverflowError, match="bits"):
        encode_residue(x, N)


@pytest.mark.parametrize("r", [LIMIT + 1, N // 2, N - LIMIT - 1])
def test_middle_band_refused(r: int) -> None:
    with pytest.raises(EncodingOverflowError, match="middle band"):
        decode_residue(r, N)


def test_residue_outside_zn_refused() -> None:
    with pytest.raises(EncodingOverflowError):
        decode_residue(N, N)
    with pytest.raises(EncodingOverflowError):
        decode_residue(-1, N)


@pytest.mark.parametrize("v", [math.inf, -math.inf, math.nan])
def test_non_finite_refused(v: float) -> None:
    with pytest.raises(EncodingOverflowError, match="non-finite"):
        encode_float(v, 10)


def test_negative_scale_refused() -> None:
    with pytest.raises(EncodingOverflowError):
        encode_float(1.0, -1)


def test_encode_array_takes_ints_exactly() -> None:
    big = 2**80 + 1
    assert encode_array([big, -3, 0.5], 2) == [big << 2, -12, 2]


def test_decode_float_overflow_is_reported() -> None:
    with pytest.raises(EncodingOverflowError, match="float64"):
        to_float(2**1100, 0)
    assert decode_int(encode_residue(-(3 << 40), N), N, 40) == -3.0
