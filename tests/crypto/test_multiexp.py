"""Multi-exponentiation internals against gmpy2.powmod (Straus at every window, Pippenger, comb,
sorted buckets); the C kernel's own edge cases are in test_multiexp_kernel.py."""

from __future__ import annotations

import functools
import random

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hefl.crypto.multiexp import (
    WNAF_MAX_WINDOW,
    _straus_rows,
    fixed_base_powers,
    multi_exp_cost,
    multi_exp_pippenger,
    multi_exp_rows,
    multi_exp_sorted,
)
from hefl.errors import CryptoValueError


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 5), st.data())
def test_straus_matches_powmod_at_every_window(small_keypair, rows, d, data) -> None:
    pk, _ = small_keypair
    m = pk.nsquare
    bases = pk.encrypt_ints(range(1, d + 1))
    exps = [
        data.draw(st.lists(st.integers(-(2**70), 2**70), min_size=d, max_size=d))
        for _ in range(rows)
    ]
    want = []
    for row in exps:
        acc = gmpy2.mpz(1)
        for b, e in zip(bases, row, strict=True):
            acc = acc * gmpy2.powmod(b, e, m) % m
        want.append(acc)
    w = data.draw(st.integers(2, WNAF_MAX_WINDOW))
    assert _straus_rows(bases, exps, m, w) == want
    assert multi_exp_rows(bases, exps, m) == want


def test_degenerate_inputs(small_keypair) -> None:
    pk, _ = small_keypair
    m = pk.nsquare
    c = pk.encrypt_int(5)
    assert multi_exp_rows([c, c], [[0, 0], [0, 0]], m) == [1, 1]
    assert fixed_base_powers(c, [0, 0], m) == [1, 1]
    assert multi_exp_rows([], [[]], m) == [1]


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 8), st.integers(1, 300), st.data())
def test_comb_pow_matches_powmod_at_every_window(w: int, bits: int, data) -> None:
    from hefl.crypto.multiexp import comb_pow, comb_table

    m = gmpy2.mpz(2**521 - 1)
    base = gmpy2.mpz(data.draw(st.integers(2, 2**200)))
    table = comb_table(base, m, bits, w)
    e = data.draw(st.integers(0, 2**bits - 1))
    assert comb_pow(table, e, m) == gmpy2.powmod(base, e, m)


def test_comb_pow_refuses_exponents_beyond_its_table() -> None:
    from hefl.crypto.multiexp import comb_pow, comb_table
    from hefl.errors import CryptoValueError

    m = gmpy2.mpz(2**127 - 1)
    table = comb_table(gmpy2.mpz(3), m, 16, 8)
    with pytest.raises(CryptoValueError):
        comb_pow(table, 1 << 16, m)
    with pytest.raises(CryptoValueError):
        comb_pow(table, -1, m)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 4), st.integers(1, 6), st.integers(0, 6), st.data())
def test_pippenger_matches_straus_and_powmod(small_keypair, rows, d, window, data) -> None:
    pk, _ = small_keypair
    m = pk.nsquare
    bases = pk.encrypt_ints(range(3, d + 3))
    exps = [
        data.draw(st.lists(st.integers(-(2**40), 2**40), min_size=d, max_size=d))
        for _ in range(rows)
    ]
    want = [
        functools.reduce(
            lambda acc, be: acc * gmpy2.powmod(be[0], be[1], m) % m,
            zip(bases, row, strict=True),
            gmpy2.mpz(1),
        )
        for row in exps
    ]
    assert multi_exp_pippenger(bases, exps, m, window) == want == multi_exp_rows(bases, exps, m)


def test_cost_model_grows_with_rows_terms_and_bits() -> None:
    base = multi_exp_cost(50, 50, 31, 50)
    assert multi_exp_cost(100, 50, 31, 50) > base
    assert multi_exp_cost(50, 100, 31, 100) > base
    assert multi_exp_cost(50, 50, 17, 50) < base
    assert multi_exp_cost(0, 50, 31, 50) == 0.0
    # tables are shared: twice the rows cost less than twice as much
    assert multi_exp_cost(100, 50, 31, 50) < 2 * base


def test_matvec_stack_equals_separate_matvecs_byte_for_byte(small_keypair) -> None:
    import numpy as np

    from hefl.crypto import EncryptedVector, matvec, matvec_stack

    pk, sk = small_keypair
    rng = np.random.default_rng(0)
    v = EncryptedVector.encrypt(pk, rng.uniform(-1, 1, 5), 20)
    mats = [rng.uniform(-2, 2, (3, 5)), rng.uniform(-1, 1, (5, 5)), rng.uniform(-1, 1, (1, 5))]
    precisions = [20, 12, 0]
    stacked = matvec_stack(mats, v, precisions)
    for got, m, p in zip(stacked, mats, precisions, strict=True):
        assert got == matvec(m, v, p)
        np.testing.assert_allclose(got.decrypt(sk), m @ v.decrypt(sk), atol=len(m[0]) * 2.0**-p)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 3000), min_size=1, max_size=12), st.booleans())
def test_sorted_buckets_match_powmod(small_keypair, exps, repeat) -> None:
    pk, _ = small_keypair
    m = pk.nsquare
    if repeat:  # Eq. 10 with equal |D_i|: few distinct exponents
        exps = [exps[0]] * len(exps)
    bases = pk.encrypt_ints(range(5, len(exps) + 5))
    want = functools.reduce(
        lambda acc, be: acc * gmpy2.powmod(be[0], be[1], m) % m,
        zip(bases, exps, strict=True),
        gmpy2.mpz(1),
    )
    assert multi_exp_sorted(bases, exps, m) == want == multi_exp_rows(bases, [exps], m)[0]


def test_sorted_buckets_refuse_negative_exponents(small_keypair) -> None:
    pk, _ = small_keypair
    with pytest.raises(CryptoValueError):
        multi_exp_sorted(pk.encrypt_ints([1, 2]), [3, -1], pk.nsquare)


def _product_workers_in_child(_: int) -> int:
    from hefl.crypto import pool

    return pool.product_workers(4)


def test_large_product_split_over_threads_equals_the_serial_product(keypair, monkeypatch) -> None:
    """A product above the threshold runs its rows in chunks on the worker threads (the C kernel
    releases the GIL): same residues as on one thread, and as powmod row by row."""
    import threading

    from hefl.crypto import multiexp, pool

    pk, _ = keypair
    m = pk.nsquare
    rng = random.Random(7)
    d = 6
    bases = pk.encrypt_ints(range(1, d + 1))
    rows = [[rng.randrange(-(1 << 40), 1 << 40) for _ in range(d)] for _ in range(9)]
    serial = multi_exp_rows(bases, rows, m, workers=1)
    powers = [[gmpy2.powmod(c, e, m) for c, e in zip(bases, r, strict=True)] for r in rows]
    assert serial == [functools.reduce(lambda a, b: a * b % m, p) for p in powers]
    monkeypatch.setattr(pool, "PARALLEL_MIN_MULTIPLICATIONS", 0)
    chunks: list[tuple[str, int]] = []
    real = multiexp._straus_rows

    def recording(bases, rows, modulus, w):
        chunks.append((threading.current_thread().name, len(rows)))
        return real(bases, rows, modulus, w)

    monkeypatch.setattr(multiexp, "_straus_rows", recording)
    assert multi_exp_rows(bases, rows, m, workers=3) == serial
    assert sorted(size for _, size in chunks) == [3, 3, 3]  # three chunks of three rows
    assert sum(name.startswith("hefl") for name, _ in chunks) == 2  # two on the worker threads
    pool.shutdown()


def test_worker_processes_run_products_on_one_thread() -> None:
    from concurrent.futures import ProcessPoolExecutor

    from hefl.crypto import pool

    assert pool.product_workers(4) == 4
    with ProcessPoolExecutor(1) as executor:
        assert executor.submit(_product_workers_in_child, 0).result() == 1


def test_products_on_sets_the_threads_of_a_block() -> None:
    from hefl.crypto import pool

    with pool.products_on(1):
        assert pool.product_workers() == 1
        with pool.products_on(3):
            assert pool.product_workers() == 3
        assert pool.product_workers() == 1
    assert pool.product_workers() == pool.DEFAULT_WORKERS


def test_a_fixed_base_switches_to_its_comb_table_after_enough_uses(small_keypair) -> None:
    """fixed_base_pow: powmods for the first COMB_AFTER_USES calls, then the comb table (built
    once): the same residues throughout; build_fixed_base switches at once."""
    from hefl.crypto import multiexp

    pk, _ = small_keypair
    base, m, bits = pk.encrypt_int(5), pk.nsquare, 64
    rng = random.Random(3)
    multiexp.cached_comb_table.cache_clear()
    for i in range(multiexp.COMB_AFTER_USES + 3):
        e = rng.randrange(1 << bits)
        assert multiexp.fixed_base_pow(base, e, m, bits) == gmpy2.powmod(base, e, m)
        built = multiexp.cached_comb_table.cache_info().currsize == 1
        assert built == (i >= multiexp.COMB_AFTER_USES)
    other = pk.encrypt_int(6)
    multiexp.build_fixed_base(other, m, bits)
    hits = multiexp.cached_comb_table.cache_info().hits
    assert multiexp.fixed_base_pow(other, 12345, m, bits) == gmpy2.powmod(other, 12345, m)
    assert multiexp.cached_comb_table.cache_info().hits == hits + 1  # from the table
