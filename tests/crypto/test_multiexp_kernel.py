"""The C kernel of the row products (hefl.crypto._multiexp: Montgomery w-NAF on AVX-512 IFMA or
on GMP's mpn layer) against plain ``pow``-and-multiply on Python ints: both backends, moduli from
2 to 5,000 bits, signed, zero and long exponents, empty and one-base products, every window, int
and mpz inputs; non-invertible bases, bad moduli and ragged rows refused."""

from __future__ import annotations

import random

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hefl.crypto import _multiexp
from hefl.crypto.multiexp import _straus_rows, multi_exp_rows
from hefl.errors import CryptoValueError, ShapeMismatchError


def _reference(bases: list[int], rows: list[list[int]], m: int) -> list[int]:
    out = []
    for row in rows:
        acc = 1 % m
        for b, e in zip(bases, row, strict=True):
            acc = acc * pow(b, e, m) % m
        out.append(acc)
    return out


def _odd_modulus(rng: random.Random, bits: int) -> int:
    return rng.getrandbits(bits) | (1 << (bits - 1)) | 1


def _units(rng: random.Random, m: int, count: int) -> list[int]:
    out: list[int] = []
    while len(out) < count:
        b = rng.randrange(-3 * m, 3 * m)  # negative and ≥ m too: reduced by the kernel
        if gmpy2.gcd(b, m) == 1:
            out.append(b)
    return out


_EXPONENT = st.one_of(
    st.just(0),
    st.integers(-3, 3),
    st.integers(-(2**40), 2**40),
    st.integers(-(2**64), 2**64),  # around the 63-bit fast path: ±2^63 and beyond
    st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) + 1, 2**64 - 1]),
    st.integers(-(2**200), 2**200),
)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([2, 52, 63, 64, 65, 128, 414, 418, 1024, 4096, 4990, 4991, 5200]),
    st.integers(0, 6),
    st.integers(0, 4),
    st.integers(2, 16),
    st.data(),
)
def test_kernel_equals_pow_and_multiply(bits, d, n_rows, w, data) -> None:
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    m = _odd_modulus(rng, bits)
    bases = _units(rng, m, d)
    rows = [data.draw(st.lists(_EXPONENT, min_size=d, max_size=d)) for _ in range(n_rows)]
    want = _reference(bases, rows, m)
    assert _multiexp.wnaf_rows(bases, rows, m, w) == want  # vector backend if the CPU has it
    assert _multiexp.wnaf_rows(bases, rows, m, w, False) == want  # mpn backend


def test_kernel_at_paillier_size_with_mpz_inputs(keypair) -> None:
    """4096-bit n², 24–40-bit signed exponents, mpz bases and modulus, w of the cost model and
    the extremes: the residues of pow-and-multiply."""
    pk, _ = keypair
    m = pk.nsquare
    rng = random.Random(11)
    bases = pk.encrypt_ints(range(1, 9))
    rows = [
        [rng.choice([-1, 1]) * rng.getrandbits(rng.randint(24, 40)) for _ in bases]
        for _ in range(3)
    ]
    rows.append([0] * len(bases))  # a zero row
    rows.append([0] * (len(bases) - 1) + [-1])  # one term: the inverse
    want = _reference([int(b) for b in bases], rows, int(m))
    for w in (2, 5, 10):
        for vector in (True, False):
            got = _multiexp.wnaf_rows(bases, rows, m, w, vector)
            assert got == want
            assert all(type(y) is int for y in got)
    assert multi_exp_rows(bases, rows, m) == want


def test_degenerate_products() -> None:
    from hefl.crypto.multiexp import KERNEL

    assert ("avx512-ifma" if _multiexp.VECTOR else "mpn") == KERNEL
    m = 1000003 * 1000033
    assert _multiexp.wnaf_rows([], [], m, 4) == []
    assert _multiexp.wnaf_rows([], [[], []], m, 4) == [1, 1]
    assert _multiexp.wnaf_rows([5], [[0], [1], [-1], [2**70]], m, 3) == [
        1,
        5,
        pow(5, -1, m),
        pow(5, 2**70, m),
    ]
    assert _multiexp.wnaf_rows([5, 7], [[0, 0]], m, 2) == [1]
    assert _multiexp.wnaf_rows([gmpy2.mpz(5)], [[gmpy2.mpz(-3)]], gmpy2.mpz(m), 2) == [
        pow(5, -3, m)
    ]


def test_non_invertible_bases_are_refused_when_used() -> None:
    m = 3 * 5 * 7 * 11
    # an unused column may hold anything, as in the Python loop it replaces
    assert _multiexp.wnaf_rows([3, 2], [[0, 5]], m, 4) == [pow(2, 5, m)]
    with pytest.raises(ZeroDivisionError):
        _multiexp.wnaf_rows([3, 2], [[1, 5]], m, 4)
    with pytest.raises(ZeroDivisionError):
        _multiexp.wnaf_rows([2, 0], [[1, 0], [0, 2]], m, 4)
    with pytest.raises(CryptoValueError):  # multi_exp_rows: hefl's error, also a ValueError
        multi_exp_rows([gmpy2.mpz(2), gmpy2.mpz(3)], [[1, 1], [2, -1]], gmpy2.mpz(m))
    with pytest.raises(CryptoValueError):
        _straus_rows([gmpy2.mpz(7)], [[-1]], gmpy2.mpz(m), 3)


def test_bad_moduli_windows_and_ragged_rows_are_refused() -> None:
    for m in (0, 1, -7, 1 << 64):
        with pytest.raises(ValueError):
            _multiexp.wnaf_rows([2], [[1]], m, 4)
    for w in (0, 1, 17):
        with pytest.raises(ValueError):
            _multiexp.wnaf_rows([2], [[1]], 101, w)
    for row in ([1], [1, 2, 3]):  # shorter and longer than the bases
        with pytest.raises(ValueError):
            _multiexp.wnaf_rows([2, 3], [row], 101, 4)
        with pytest.raises(ShapeMismatchError):
            multi_exp_rows([gmpy2.mpz(2), gmpy2.mpz(3)], [row], gmpy2.mpz(101))
    with pytest.raises(TypeError):
        _multiexp.wnaf_rows([2], [[1.5]], 101, 4)
    with pytest.raises(TypeError):
        _multiexp.wnaf_rows([2], [3], 101, 4)
    with pytest.raises(CryptoValueError):
        multi_exp_rows([gmpy2.mpz(3)], [[2], [-1]], gmpy2.mpz(100))


def test_kernel_releases_the_gil_and_threads_agree() -> None:
    """Two threads running products at once get the same residues as one after the other."""
    from concurrent.futures import ThreadPoolExecutor

    rng = random.Random(5)
    m = _odd_modulus(rng, 1024)
    bases = _units(rng, m, 12)
    jobs = [[[rng.randrange(-(2**40), 2**40) for _ in bases] for _ in range(6)] for _ in range(4)]
    serial = [_multiexp.wnaf_rows(bases, rows, m, 5) for rows in jobs]
    with ThreadPoolExecutor(2) as pool:
        threaded = list(pool.map(lambda rows: _multiexp.wnaf_rows(bases, rows, m, 5), jobs))
    assert threaded == serial == [_reference(bases, rows, m) for rows in jobs]
