"""Homomorphic identities of EncryptedVector against exact integers and numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hefl.crypto import (
    EncryptedVector,
    ShapeMismatchError,
    encode_array,
    matvec,
    matvec_int,
    weighted_sum,
    weighted_sum_int,
)
from hefl.errors import CryptoError, KeyMismatchError

SETTINGS = settings(max_examples=40, deadline=None)
reals = st.floats(-1e3, 1e3, allow_nan=False, width=64)
small_ints = st.integers(-(2**40), 2**40)


def vec(draw_list):
    return np.array(draw_list, dtype=float)


@SETTINGS
@given(st.lists(reals, min_size=1, max_size=6), st.data())
def test_add_and_subtract(small_keypair, a, data) -> None:
    pk, sk = small_keypair
    b = data.draw(st.lists(reals, min_size=len(a), max_size=len(a)))
    fa, fb = data.draw(st.integers(0, 40)), data.draw(st.integers(0, 40))
    ea, eb = EncryptedVector.encrypt(pk, a, fa), EncryptedVector.encrypt(sk, b, fb)
    xa, xb = encode_array(a, fa), encode_array(b, fb)
    f = max(fa, fb)
    want_sum = [(x << (f - fa)) + (y << (f - fb)) for x, y in zip(xa, xb, strict=True)]
    want_diff = [(x << (f - fa)) - (y << (f - fb)) for x, y in zip(xa, xb, strict=True)]
    s, d = ea + eb, ea - eb
    assert s.scale_bits == d.scale_bits == f
    assert s.decrypt_ints(sk) == want_sum
    assert d.decrypt_ints(sk) == want_diff
    np.testing.assert_allclose(s.decrypt(sk), vec(a) + vec(b), rtol=1e-9, atol=2.0 ** -min(fa, fb))
    assert (-ea).decrypt_ints(sk) == [-x for x in xa]


@SETTINGS
@given(st.lists(small_ints, min_size=1, max_size=6), st.integers(-(2**53), 2**53))
def test_integer_scalar_multiply(small_keypair, xs, k) -> None:
    pk, sk = small_keypair
    ev = EncryptedVector.encrypt_ints(pk, xs, 7)
    out = ev.mul_int(k)
    assert out.scale_bits == 7
    assert out.decrypt_ints(sk) == [k * x for x in xs]
    assert (k * ev).decrypt_ints(sk) == [k * x for x in xs]


@SETTINGS
@given(st.lists(reals, min_size=1, max_size=6), st.data())
def test_fixed_point_multiply_by_scalar_and_array(small_keypair, a, data) -> None:
    pk, sk = small_keypair
    p = data.draw(st.integers(0, 53))
    s = data.draw(reals)
    arr = data.draw(st.lists(reals, min_size=len(a), max_size=len(a)))
    ev = EncryptedVector.encrypt(pk, a, 30)
    xa = encode_array(a, 30)
    (k,) = encode_array([s], p)
    r1 = ev.mul_fixed(s, p)
    assert r1.scale_bits == 30 + p
    assert r1.decrypt_ints(sk) == [k * x for x in xa]
    ks = encode_array(arr, p)
    assert ev.mul_fixed(arr, p).decrypt_ints(sk) == [k * x for k, x in zip(ks, xa, strict=True)]


@SETTINGS
@given(reals, st.lists(reals, min_size=1, max_size=8), st.integers(0, 40))
def test_broadcast_scalar_ciphertext_times_plain_vector(small_keypair, a, xs, p) -> None:
    """[[wᵀx]]^{x_k} of Eq. 8: a length-1 vector times a plaintext vector."""
    pk, sk = small_keypair
    ev = EncryptedVector.encrypt(pk, [a], 20)
    out = ev.mul_fixed(xs, p)
    (xa,) = encode_array([a], 20)
    assert len(out) == len(xs)
    assert out.decrypt_ints(sk) == [k * xa for k in encode_array(xs, p)]


@SETTINGS
@given(st.lists(reals, min_size=1, max_size=6), st.data())
def test_add_plain(small_keypair, a, data) -> None:
    pk, sk = small_keypair
    b = data.draw(st.lists(reals, min_size=len(a), max_size=len(a)))
    ev = EncryptedVector.encrypt(pk, a, 24)
    want = [x + y for x, y in zip(encode_array(a, 24), encode_array(b, 24), strict=True)]
    assert ev.add_plain(b).decrypt_ints(sk) == want
    assert (ev + np.array(b)).decrypt_ints(sk) == want
    want_sub = [x - y for x, y in zip(encode_array(a, 24), encode_array(b, 24), strict=True)]
    assert (ev - np.array(b)).decrypt_ints(sk) == want_sub


@SETTINGS
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 5), st.integers(1, 6)),
        elements=st.floats(-10, 10, allow_nan=False),
    ),
    st.data(),
)
def test_matvec_against_numpy(small_keypair, m, data) -> None:
    pk, sk = small_keypair
    d = m.shape[1]
    x = np.array(data.draw(st.lists(st.floats(-10, 10, allow_nan=False), min_size=d, max_size=d)))
    p = data.draw(st.integers(0, 53))
    ev = EncryptedVector.encrypt(pk, x, 30)
    y = matvec(m, ev, p)
    assert y.scale_bits == 30 + p
    K = [encode_array(row, p) for row in m]
    xi = encode_array(x, 30)
    assert y.decrypt_ints(sk) == [sum(k * v for k, v in zip(row, xi, strict=True)) for row in K]
    if p >= 30:
        np.testing.assert_allclose(y.decrypt(sk), m @ x, rtol=1e-6, atol=1e-6)


def test_matvec_14x14_2048_bits_against_numpy(keypair) -> None:
    pk, sk = keypair
    rng = np.random.default_rng(1)
    m, x = rng.uniform(-1, 1, (14, 14)), rng.uniform(-1, 1, 14)
    ev = EncryptedVector.encrypt(pk, x, 40)
    np.testing.assert_allclose(matvec(m, ev, 53).decrypt(sk), m @ x, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ev.dot(m[0], 40).decrypt(sk), [m[0] @ x], atol=1e-10)
    km = rng.integers(-1000, 1000, (3, 14))
    assert matvec_int(km, ev).decrypt_ints(sk) == [
        sum(int(k) * v for k, v in zip(row, encode_array(x, 40), strict=True)) for row in km
    ]


@SETTINGS
@given(st.integers(1, 5), st.integers(1, 5), st.data())
def test_weighted_sum_against_numpy(small_keypair, n_vec, d, data) -> None:
    pk, sk = small_keypair
    vs = [np.array(data.draw(st.lists(reals, min_size=d, max_size=d))) for _ in range(n_vec)]
    scales = [data.draw(st.integers(10, 40)) for _ in range(n_vec)]
    w = np.array(
        data.draw(st.lists(st.floats(-2, 2, allow_nan=False), min_size=n_vec, max_size=n_vec))
    )
    p = data.draw(st.integers(0, 53))
    evs = [EncryptedVector.encrypt(pk, v, f) for v, f in zip(vs, scales, strict=True)]
    out = weighted_sum(evs, w, p)
    f = max(scales)
    W = encode_array(w, p)
    xs = [[x << (f - fi) for x in encode_array(v, fi)] for v, fi in zip(vs, scales, strict=True)]
    want = [sum(W[i] * xs[i][k] for i in range(n_vec)) for k in range(d)]
    assert out.scale_bits == f + p
    assert out.decrypt_ints(sk) == want
    if p >= 20:
        np.testing.assert_allclose(
            out.decrypt(sk), sum(wi * v for wi, v in zip(w, vs, strict=True)), rtol=1e-4, atol=1e-3
        )


def test_eq10_aggregation_2048(keypair) -> None:
    """[[w]] = (Π_i [[w_i]]^{|D_i|})^{1/|D|} both ways, against numpy's weighted mean."""
    pk, sk = keypair
    rng = np.random.default_rng(2)
    sizes = np.array([81, 80, 81, 80, 82])
    ws = [rng.uniform(-1, 1, 14) for _ in sizes]
    evs = [EncryptedVector.encrypt(pk, w, 32) for w in ws]
    ref = sum(s * w for s, w in zip(sizes, ws, strict=True)) / sizes.sum()
    a = weighted_sum(evs, sizes / sizes.sum(), 40)
    b = weighted_sum_int(evs, sizes).mul_fixed(1 / sizes.sum(), 40)
    np.testing.assert_allclose(a.decrypt(sk), ref, atol=1e-9)
    np.testing.assert_allclose(b.decrypt(sk), ref, atol=1e-9)


def test_operations_are_deterministic(small_keypair) -> None:
    pk, sk = small_keypair
    rng = np.random.default_rng(3)
    a = EncryptedVector.encrypt(pk, rng.uniform(-1, 1, 4), 16)
    b = EncryptedVector.from_bytes(a.to_bytes(), pk)
    m = rng.uniform(-1, 1, (4, 4))
    assert matvec(m, a, 20).to_bytes() == matvec(m, b, 20).to_bytes()
    assert (
        weighted_sum([a, b], [0.3, 0.7], 30).hash() == weighted_sum([b, a], [0.3, 0.7], 30).hash()
    )
    assert (a + b).hash() == (b + a).hash()
    assert a.mul_fixed(0.25, 10).hash() == b.mul_fixed(0.25, 10).hash()
    r = a.rerandomize()
    assert r.hash() != a.hash()
    assert r.decrypt_ints(sk) == a.decrypt_ints(sk)


def test_scale_bookkeeping(small_keypair) -> None:
    pk, sk = small_keypair
    ev = EncryptedVector.encrypt(pk, [1.5, -2.25], 8)
    half = ev.scale_by_pow2(-1)
    assert half.ciphertexts == ev.ciphertexts and half.scale_bits == 9
    np.testing.assert_array_equal(half.decrypt(sk), [0.75, -1.125])
    big = ev.scale_by_pow2(10)
    assert big.scale_bits == 0
    np.testing.assert_array_equal(big.decrypt(sk), [1536.0, -2304.0])
    up = ev.align_to(20)
    np.testing.assert_array_equal(up.decrypt(sk), [1.5, -2.25])
    with pytest.raises(CryptoError, match="lower"):
        up.align_to(8)
    assert ev.sum().decrypt(sk)[0] == -0.75
    cat = EncryptedVector.concat([ev, up[0:1]])
    np.testing.assert_array_equal(cat.decrypt(sk), [1.5, -2.25, 1.5])
    assert len(ev[1]) == 1 and ev[1].decrypt(sk)[0] == -2.25


def test_shape_and_key_errors(small_keypair, other_keypair) -> None:
    pk, _ = small_keypair
    pk2, sk2 = other_keypair
    a = EncryptedVector.encrypt(pk, [1.0, 2.0, 3.0])
    with pytest.raises(ShapeMismatchError):
        a + EncryptedVector.encrypt(pk, [1.0, 2.0])
    with pytest.raises(ShapeMismatchError):
        matvec(np.ones((2, 2)), a, 8)
    with pytest.raises(ShapeMismatchError):
        weighted_sum([a, a], [1.0], 8)
    with pytest.raises(KeyMismatchError):
        a + EncryptedVector.encrypt(pk2, [1.0, 2.0, 3.0])
    with pytest.raises(KeyMismatchError):
        a.decrypt(sk2)
    with pytest.raises(CryptoError):
        a.mul_int(0.5)
    with pytest.raises(ShapeMismatchError):
        a.add_plain(np.ones((2, 2)))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(-(2**60), 2**60), min_size=1, max_size=40))
def test_fixed_base_powers_match_powmod(small_keypair, exps) -> None:
    import gmpy2

    from hefl.crypto.multiexp import fixed_base_powers, multi_exp_rows

    pk, _ = small_keypair
    c = pk.encrypt_int(12345)
    want = [gmpy2.powmod(c, e, pk.nsquare) for e in exps]
    assert fixed_base_powers(c, exps, pk.nsquare) == want
    bases = [pk.encrypt_int(i) for i in range(len(exps))]
    (row,) = multi_exp_rows(bases, [exps], pk.nsquare)
    prod = gmpy2.mpz(1)
    for b, e in zip(bases, exps, strict=True):
        prod = prod * gmpy2.powmod(b, e, pk.nsquare) % pk.nsquare
    assert row == prod


def test_broadcast_long_plain_vector_2048(keypair) -> None:
    pk, sk = keypair
    rng = np.random.default_rng(7)
    xs = rng.uniform(-1, 1, 30)
    ev = EncryptedVector.encrypt(pk, [0.625], 32)
    out = ev.mul_fixed(xs, 53)
    (a,) = encode_array([0.625], 32)
    assert out.decrypt_ints(sk) == [a * k for k in encode_array(xs, 53)]


def test_pickle_and_batch_decrypt_of_several_vectors(small_keypair, other_keypair) -> None:
    import pickle

    from hefl.crypto import PrivateKey, PublicKey, decrypt_vectors

    pk, sk = small_keypair
    a = EncryptedVector.encrypt(pk, [1.0, -2.0, 0.5], 10)
    b = EncryptedVector.encrypt(pk, [3.25], 3)
    pk2, sk2, a2 = (pickle.loads(pickle.dumps(o)) for o in (pk, sk, a))
    assert isinstance(pk2, PublicKey) and pk2 == pk and pk2.h == pk.h
    assert isinstance(sk2, PrivateKey) and sk2 == sk
    assert a2 == a
    got = decrypt_vectors(sk, [a, b, a2], workers=2)
    assert [list(g) for g in got] == [[1.0, -2.0, 0.5], [3.25], [1.0, -2.0, 0.5]]
    with pytest.raises(KeyMismatchError):
        decrypt_vectors(other_keypair[1], [a])
