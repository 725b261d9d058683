"""Ciphertexts cross between hefl and phe in both directions (phe is the reference)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hefl.crypto import EncryptedVector, PrivateKey, PublicKey, encode_array, matvec

phe = pytest.importorskip("phe")
from phe import paillier  # noqa: E402


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=1, max_size=5), st.integers(0, 60))
def test_hefl_ciphertexts_decrypt_with_phe(keypair, values, f) -> None:
    pk, sk = keypair
    phe_sk = sk.to_phe()
    for key in (pk, sk):
        ev = EncryptedVector.encrypt(key, values, f)
        # raw: phe's decryption of our residues equals our encoding
        raw = [phe_sk.raw_decrypt(int(c)) for c in ev.ciphertexts]
        assert raw == [x % int(pk.n) for x in encode_array(values, f)]
        # decoded: phe's base-16 exponent after aligning f up to a multiple of 4
        got = [phe_sk.decrypt(x) for x in ev.to_phe()]
        np.testing.assert_allclose(got, ev.decrypt(sk), rtol=0, atol=0)


def test_full_randomizer_and_homomorphic_results_decrypt_with_phe(keypair) -> None:
    pk, sk = keypair
    phe_sk = sk.to_phe()
    rng = np.random.default_rng(5)
    x, m = rng.uniform(-1, 1, 6), rng.uniform(-1, 1, (3, 6))
    ev = EncryptedVector.encrypt(pk, x, 32, randomizer="full")
    y = matvec(m, ev, 32)  # scale 64, a multiple of 4
    np.testing.assert_allclose([phe_sk.decrypt(v) for v in y.to_phe()], m @ x, atol=1e-8)


def test_phe_ciphertexts_decrypt_with_hefl(keypair) -> None:
    pk, sk = keypair
    phe_pk = pk.to_phe()
    values = [0.0, 1.5, -2.25, 3.141592653589793, -1e-7, 12345.678, 7]
    numbers = [phe_pk.encrypt(v) for v in values]  # mixed phe exponents
    ev = EncryptedVector.from_phe(numbers, pk)
    np.testing.assert_allclose(ev.decrypt(sk), values, rtol=1e-12, atol=1e-15)
    # raw integers too
    assert sk.decrypt_int(phe_pk.raw_encrypt(987654321)) == 987654321
    # phe's own homomorphic results as well
    s = numbers[1] + numbers[2] * 3
    np.testing.assert_allclose(EncryptedVector.from_phe([s], pk).decrypt(sk), [1.5 - 6.75])


def test_phe_integer_with_positive_exponent(keypair) -> None:
    pk, sk = keypair
    phe_pk = pk.to_phe()
    n = paillier.EncryptedNumber(phe_pk, phe_pk.raw_encrypt(3), exponent=2)  # 3·16²
    ev = EncryptedVector.from_phe([n], pk, bound=10**6)
    assert ev.decrypt_ints(sk) == [768]


def test_phe_keypair_with_hefl_vectors() -> None:
    phe_pk, phe_sk = paillier.generate_paillier_keypair(n_length=2048)
    pk, sk = PublicKey.from_phe(phe_pk), PrivateKey.from_phe(phe_sk)
    ev = EncryptedVector.encrypt(pk, [0.25, -0.5], 8)
    assert [phe_sk.decrypt(v) for v in ev.to_phe()] == [0.25, -0.5]
    assert list(ev.decrypt(sk)) == [0.25, -0.5]
