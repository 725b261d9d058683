"""Fixed-point codec between real numbers and Z_n, kept apart from the cryptosystem (as in phe).

A real value v is represented at scale exponent f ≥ 0 by the integer

    x = round(v · 2^f)            (round half to even, computed exactly from the float's bits)

and a signed integer x is stored in Z_n as x mod n: non-negatives in the lower part [0, max_int],
negatives in the upper part [n − max_int, n). ``max_int = n // 3 − 1`` is phe's bound, so the two
codecs agree on which residues mean what. The middle band (max_int, n − max_int) means that a
computation wrapped around; :func:`decode_residue` refuses it with
:class:`~hefl.errors.EncodingOverflowError` instead of returning a wrong number.

Why the band: a residue is only meaningful if the integer it stands for is known to lie in
[−max_int, max_int]; Z_n itself cannot tell a large positive from a negative number. hefl never
relies on luck here — every homomorphic operation checks a rigorous bound on |x| *before* it
computes (see :mod:`hefl.crypto.vector`) — and keeping phe's band means a hefl ciphertext decodes
identically with phe and vice versa.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from hefl.errors import CryptoValueError, EncodingOverflowError

__all__ = [
    "CryptoValueError",  # defined in hefl.errors, re-exported for old imports
    "decode_int",
    "decode_residue",
    "encode_array",
    "encode_float",
    "encode_residue",
    "max_int",
    "to_float",
]


#: Bits of a float64 significand (including the hidden bit).
FLOAT_MANTISSA_BITS = 53


def max_int(n: int) -> int:
    """Largest magnitude |x| that the band of Z_n represents: ``n // 3 − 1`` (phe's ``max_int``)."""
    return int(n) // 3 - 1


def encode_float(value: float, scale_bits: int) -> int:
    """Return round(value · 2^scale_bits) exactly (ties to even), as a Python int.

    The float is split as value = M · 2^e with |M| < 2^53 (``math.frexp``), so the product with
    2^scale_bits is exact and only the final right shift rounds. No precision is lost for any
    scale, unlike ``round(value * 2.0**f)`` which overflows for large f.
    """
    if scale_bits < 0:
        raise EncodingOverflowError(f"scale exponent {scale_bits} is negative; use f ≥ 0")
    v = float(value)
    if not math.isfinite(v):
        raise EncodingOverflowError(f"cannot encode the non-finite value {v!r}; clip or fix input")
    if v == 0.0:
        return 0
    mant, exp = math.frexp(v)  # v = mant · 2^exp, 0.5 ≤ |mant| < 1
    m_int = int(mant * (1 << FLOAT_MANTISSA_BITS))  # exact
    shift = exp - FLOAT_MANTISSA_BITS + scale_bits
    if shift >= 0:
        return m_int << shift
    # round half to even of m_int / 2^-shift
    s = -shift
    neg = m_int < 0
    a = -m_int if neg else m_int
    q, r = a >> s, a & ((1 << s) - 1)
    half = 1 << (s - 1)
    if r > half or (r == half and (q & 1)):
        q += 1
    return -q if neg else q


def encode_array(values: Iterable[float] | np.ndarray, scale_bits: int) -> list[int]:
    """Encode every element of a 1-D array-like with :func:`encode_float`; ints pass exactly.

    Python/numpy integers are taken as exact integers scaled by 2^scale_bits (no float rounding).
    """
    out: list[int] = []
    for v in np.asarray(values, dtype=object).ravel().tolist():
        if isinstance(v, int | np.integer) and not isinstance(v, bool):
            out.append(int(v) << scale_bits)
        else:
            out.append(encode_float(float(v), scale_bits))
    return out


def encode_residue(x: int, n: int) -> int:
    """Map a signed integer with |x| ≤ max_int(n) to its residue in Z_n (negatives on top)."""
    limit = max_int(n)
    if abs(x) > limit:
        raise EncodingOverflowError(
            f"encode: |x| needs {abs(x).bit_length()} bits but the safe band of a "
            f"{int(n).bit_length()}-bit modulus allows {limit.bit_length()} (|x| ≤ n/3 − 1); "
            "lower the scale or the values"
        )
    return x % n


def decode_residue(residue: int, n: int) -> int:
    """Inverse of :func:`encode_residue`: residue in [0, n) ↦ signed x; refuse the middle band."""
    n = int(n)
    r = int(residue)
    if not 0 <= r < n:
        raise EncodingOverflowError(f"decode: residue {r} is outside [0, n)")
    limit = max_int(n)
    if r <= limit:
        return r
    if r >= n - limit:
        return r - n
    raise EncodingOverflowError(
        "decode: the plaintext lies in the middle band (max_int, n − max_int) of Z_n, so a "
        "computation overflowed and wrapped around; the value cannot be recovered — keep results "
        "within the bound tracked by EncryptedVector"
    )


def to_float(x: int, scale_bits: int) -> float:
    """Return x / 2^scale_bits correctly rounded to float64 (Python's int true division)."""
    try:
        return x / (1 << scale_bits)
    except OverflowError as exc:
        raise EncodingOverflowError(
            f"decode: {x.bit_length()}-bit integer at scale 2^-{scale_bits} exceeds float64 range"
        ) from exc


def decode_int(residue: int, n: int, scale_bits: int) -> float:
    """Decode a residue of Z_n at scale 2^-scale_bits to a float (middle band refused)."""
    return to_float(decode_residue(residue, n), scale_bits)
