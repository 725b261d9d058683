"""The bound budget: the error is raised exactly where it runs out, and never a wrong answer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hefl.crypto import EncryptedVector, matvec_int, weighted_sum_int
from hefl.errors import EncodingOverflowError


def test_mul_int_edge_exact(tiny_keypair) -> None:
    pk, sk = tiny_keypair
    limit = pk.max_int
    for b in (1, 3, 1000, 2**60 + 7):
        ev = EncryptedVector.encrypt_ints(pk, [b, -b], bound=b)
        k = limit // b
        ok = ev.mul_int(k)  # bound·k ≤ max_int: allowed and exact
        assert ok.bound == b * k
        assert ok.decrypt_ints(sk) == [b * k, -b * k]
        with pytest.raises(EncodingOverflowError, match=r"mul_int.*bits.*available"):
            ev.mul_int(k + 1)
        with pytest.raises(EncodingOverflowError):
            ev.mul_int(-(k + 1))


def test_add_edge_exact(tiny_keypair) -> None:
    pk, sk = tiny_keypair
    half = pk.max_int // 2
    a = EncryptedVector.encrypt_ints(pk, [half], bound=half)
    b = EncryptedVector.encrypt_ints(pk, [pk.max_int - half], bound=pk.max_int - half)
    assert (a + b).decrypt_ints(sk) == [pk.max_int]
    assert (-(a + b)).decrypt_ints(sk) == [-pk.max_int]
    c = EncryptedVector.encrypt_ints(pk, [1], bound=1)
    with pytest.raises(EncodingOverflowError, match="add"):
        a + b + c
    with pytest.raises(EncodingOverflowError, match="subtract"):
        (a + b) - c
    with pytest.raises(EncodingOverflowError, match="add_plain"):
        (a + b).add_plain_ints([1])


def test_alignment_edge(tiny_keypair) -> None:
    pk, sk = tiny_keypair
    bits = pk.max_int.bit_length()
    b = 1 << (bits - 11)  # room for exactly 10 more bits of scale (b·2^10 ≤ max_int)
    lo = EncryptedVector.encrypt_ints(pk, [b], scale_bits=0, bound=b)
    hi10 = EncryptedVector.encrypt_ints(pk, [0], scale_bits=10, bound=0)
    assert (lo + hi10).decrypt_ints(sk) == [b << 10]
    hi11 = EncryptedVector.encrypt_ints(pk, [0], scale_bits=11, bound=0)
    with pytest.raises(EncodingOverflowError, match="align"):
        lo + hi11


def test_mul_fixed_edge(tiny_keypair) -> None:
    pk, _ = tiny_keypair
    ev = EncryptedVector.encrypt_ints(pk, [1], bound=1)
    p = pk.max_int.bit_length() - 1  # 1·round(1.0·2^p) = 2^p ≤ max_int
    assert ev.mul_fixed(1.0, p).bound == 1 << p
    with pytest.raises(EncodingOverflowError, match=r"mul_fixed\(p="):
        ev.mul_fixed(1.0, p + 1)


def test_matvec_and_weighted_sum_edges(tiny_keypair) -> None:
    pk, sk = tiny_keypair
    b = 1 << 20
    ev = EncryptedVector.encrypt_ints(pk, [b, -b, b], bound=b)
    g = pk.max_int // b  # allowed total row weight
    k1, k2 = g // 2, g - g // 2
    ok = matvec_int([[k1, -k2, 0]], ev)
    assert ok.decrypt_ints(sk) == [b * g]
    with pytest.raises(EncodingOverflowError, match="matvec"):
        matvec_int([[k1, -k2 - 1, 0]], ev)
    ok = weighted_sum_int([ev, ev], [k1, k2])
    assert ok.decrypt_ints(sk) == [b * g, -b * g, b * g]
    with pytest.raises(EncodingOverflowError, match="weighted_sum"):
        weighted_sum_int([ev, ev], [k1, k2 + 1])


def test_encrypt_beyond_band_refused(tiny_keypair) -> None:
    pk, _ = tiny_keypair
    with pytest.raises(EncodingOverflowError):
        EncryptedVector.encrypt_ints(pk, [pk.max_int + 1])
    with pytest.raises(EncodingOverflowError, match="value_bound"):
        EncryptedVector.encrypt(pk, [1.0, 2.5], 8, value_bound=2.0)
    ev = EncryptedVector.encrypt(pk, [1.0, -2.0], 8, value_bound=2.0)
    assert ev.bound == 512


def test_overflow_message_names_bits(keypair) -> None:
    pk, _ = keypair
    ev = EncryptedVector.encrypt(pk, [1.0], 1000)
    with pytest.raises(EncodingOverflowError) as info:
        ev.mul_fixed(1.0, 1100)
    msg = str(info.value)
    assert (
        "mul_fixed(p=1100)" in msg
        and "2101.00 bits" in msg
        and f"{math.log2(pk.max_int):.2f} bits" in msg
    )


def test_decrypt_detects_a_forged_bound(tiny_keypair) -> None:
    pk, sk = tiny_keypair
    ev = EncryptedVector.encrypt_ints(pk, [1000], bound=1023)
    forged = EncryptedVector(pk, ev.ciphertexts, 0, 10)
    with pytest.raises(EncodingOverflowError, match="declared bound"):
        forged.decrypt(sk)


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("mul_int"), st.integers(-(2**40), 2**40)),
        st.tuples(st.just("mul_fixed"), st.floats(-4, 4, allow_nan=False), st.integers(0, 30)),
        st.tuples(st.just("add_self"), st.integers(0, 20)),
        st.tuples(st.just("add_plain"), st.integers(-(2**30), 2**30)),
        st.tuples(st.just("matvec"), st.integers(-(2**25), 2**25)),
        st.tuples(st.just("neg")),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-(2**30), 2**30), min_size=2, max_size=2), OPS)
def test_random_programs_raise_or_are_exact(tiny_keypair, start, ops) -> None:
    """Any chain of operations either raises EncodingOverflowError or decrypts exactly."""
    from hefl.crypto import encode_float, matvec

    pk, sk = tiny_keypair
    ev = EncryptedVector.encrypt_ints(pk, start, 0)
    xs, f = list(start), 0
    for op in ops:
        try:
            if op[0] == "mul_int":
                ev, xs = ev.mul_int(op[1]), [op[1] * x for x in xs]
            elif op[0] == "mul_fixed":
                k = encode_float(op[1], op[2])
                ev, xs, f = ev.mul_fixed(op[1], op[2]), [k * x for x in xs], f + op[2]
            elif op[0] == "add_self":
                other = ev.align_to(ev.scale_bits + op[1])
                ev = ev + other
                xs, f = [(x << op[1]) + (x << op[1]) for x in xs], f + op[1]
            elif op[0] == "add_plain":
                ev, xs = ev.add_plain_ints([op[1]]), [x + op[1] for x in xs]
            elif op[0] == "matvec":
                ev = matvec(np.array([[1.0, op[1]], [op[1], -1.0]]), ev, 0)
                xs = [xs[0] + op[1] * xs[1], op[1] * xs[0] - xs[1]]
            else:
                ev, xs = -ev, [-x for x in xs]
        except EncodingOverflowError:
            break  # refused before computing: ev and xs still hold the last good state
        assert ev.scale_bits == f
        assert all(abs(x) <= ev.bound for x in xs)
    assert ev.decrypt_ints(sk) == xs
