"""Decryption of small plaintexts from the p-half of CRT (PrivateKey.decrypt_small) equals the
full CRT decryption, at the extremes the bound allows, and still refuses out-of-bound values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hefl.crypto import EncryptedVector, decrypt_vectors
from hefl.crypto.encoding import decode_residue, encode_residue
from hefl.errors import EncodingOverflowError


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(-(2**100), 2**100), min_size=1, max_size=6), st.integers(1, 3))
def test_half_crt_equals_full_crt(small_keypair, values, workers) -> None:
    pk, sk = small_keypair
    cts = pk.encrypt_ints([encode_residue(x, pk.n) for x in values])
    full = [decode_residue(int(r), int(pk.n)) for r in sk.decrypt_ints(cts)]
    assert sk.decrypt_small(cts, workers=workers) == full == values


def test_the_extremes_of_the_half_band(small_keypair) -> None:
    pk, sk = small_keypair
    top = int(sk.p) // 2  # the largest bound the p-half can decode: 2·bound < p (p odd)
    assert sk.small_bound_fits(top) and not sk.small_bound_fits(top + 1)
    extremes = [top, -top, 0, 1, -1]
    cts = pk.encrypt_ints([encode_residue(x, pk.n) for x in extremes])
    assert sk.decrypt_small(cts) == extremes


def test_vectors_decrypt_the_same_on_both_paths(small_keypair) -> None:
    pk, sk = small_keypair
    rng = np.random.default_rng(0)
    small = EncryptedVector.encrypt(pk, rng.uniform(-5, 5, 8), 30)
    assert sk.small_bound_fits(small.bound)
    wide = EncryptedVector(pk, small.ciphertexts, small.scale_bits, pk.max_int)  # full CRT path
    assert not sk.small_bound_fits(wide.bound)
    got_small, got_wide = decrypt_vectors(sk, [small]), decrypt_vectors(sk, [wide])
    np.testing.assert_array_equal(got_small[0], got_wide[0])


def test_an_out_of_bound_plaintext_is_still_refused(small_keypair) -> None:
    pk, sk = small_keypair
    honest = EncryptedVector.encrypt(pk, [0.5, -0.25], 20)
    forged_value = int(pk.max_int) - 12345  # far outside the declared bound of ~2^20
    forged = EncryptedVector(
        pk, [honest.ciphertexts[0], pk.encrypt_int(forged_value)], 20, honest.bound
    )
    with pytest.raises(EncodingOverflowError, match="above the declared bound"):
        decrypt_vectors(sk, [forged])
