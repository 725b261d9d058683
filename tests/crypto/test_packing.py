"""Packing k small values into one ciphertext (issue 17): exact, including the extremes, and
refused when a layout or a plaintext does not fit its slots."""

from __future__ import annotations

import math

import pytest

from hefl.crypto import EncryptedVector
from hefl.crypto.vector import (
    check_pack_layout,
    decrypt_int_vectors,
    decrypt_repacked,
    pack_slot_bits,
    pack_slots_per_ciphertext,
    pack_vector,
    repack_layout,
    unpack_ints,
)
from hefl.errors import EncodingOverflowError


@pytest.mark.parametrize("bound", [0, 1, 1000, 2**61 - 1, 2**100 + 7])
def test_packed_values_decrypt_to_the_same_integers_extremes_and_negatives(small_keypair, bound):
    public, private = small_keypair
    values = [bound, -bound, 0, 1 if bound else 0, -(bound // 3), bound - 1 if bound else 0] * 5
    vector = EncryptedVector.encrypt_ints(public, values, 7, bound=bound)
    packed, k, b = pack_vector(vector)
    assert b == max(1, (2 * bound).bit_length())
    assert k == (public.max_int.bit_length() - 1) // b
    assert len(packed) == math.ceil(len(values) / k)
    assert packed.bound == (1 << (k * b)) - 1 <= public.max_int
    [plain] = decrypt_int_vectors(private, [packed])
    assert unpack_ints(plain, len(values), k, b, bound) == values


def test_a_layout_whose_values_would_overflow_their_slots_is_refused(small_keypair):
    public, _ = small_keypair
    bound = 2**40
    b = pack_slot_bits(bound)
    k = pack_slots_per_ciphertext(public, b)
    check_pack_layout(public, 10, k, b, bound)  # the one layout the bound and key determine
    for count, slots, bits in [(10, k, b - 1), (10, k + 1, b), (10, k, b + 1), (0, k, b)]:
        with pytest.raises(EncodingOverflowError, match="pack layout"):
            check_pack_layout(public, count, slots, bits, bound)
    # a bound so large that not one slot fits the key: refused before any ciphertext work
    huge = EncryptedVector(public, [1], 0, public.max_int)
    with pytest.raises(EncodingOverflowError, match="pack layout"):
        pack_vector(huge)


def test_a_forged_packed_plaintext_is_refused_when_read(small_keypair):
    bound, b, k = 5, pack_slot_bits(5), 4
    honest = sum((v + bound) << (j * b) for j, v in enumerate([5, -5, 0, 2]))
    assert unpack_ints([honest], 4, k, b, bound) == [5, -5, 0, 2]
    over_slot = honest + ((2 * bound + 1) << b)  # slot 1 holds 2B + 1 + (−5 + 5)
    for forged, count in [(-1, 4), (over_slot, 4), (1 << (3 * b), 3), (honest, 9)]:
        with pytest.raises(EncodingOverflowError, match="unpack"):
            unpack_ints([forged], count, k, b, bound)


@pytest.mark.parametrize("bound", [0, 1, 1000, 2**61 - 1, 2**109 - 3])
def test_the_key_holders_packing_reads_the_same_integers_extremes_and_negatives(keypair, bound):
    """decrypt_repacked (the party packs k signed digits itself, at half size by CRT) returns
    exactly what one decryption per value returns, at the extremes ±B, for any length."""
    public, private = keypair
    values = [bound, -bound, 0, 1 if bound else 0, -(bound // 3), bound - 1 if bound else 0] * 7
    for length in (1, 5, len(values)):
        vector = EncryptedVector.encrypt_ints(public, values[:length], 40, bound=bound)
        k, b = repack_layout(public, bound)
        assert b == bound.bit_length() + 1 and k == (public.max_int.bit_length() - 1) // b
        assert decrypt_repacked(private, vector) == values[:length]
        assert decrypt_repacked(private, vector) == decrypt_int_vectors(private, [vector])[0]
    # a group decrypts to Σ_j x_j·2^(j·b) mod n, computed here in plain integer arithmetic
    vector = EncryptedVector.encrypt_ints(public, values[:k], 0, bound=bound)
    groups = private.decrypt_shifted_sums([vector.ciphertexts], b)
    assert groups == [sum(x << (j * b) for j, x in enumerate(values[:k])) % public.n]


def test_a_plaintext_beyond_its_declared_bound_is_refused_by_the_key_holders_packing(keypair):
    public, private = keypair
    honest = EncryptedVector.encrypt_ints(public, [5, -3, 7, 1, 0, 2, -6], 0, bound=7)
    forged = EncryptedVector(public, honest.ciphertexts, 0, 6)  # a header claiming |x| ≤ 6
    assert decrypt_repacked(private, honest) == [5, -3, 7, 1, 0, 2, -6]
    with pytest.raises(EncodingOverflowError, match="above the declared bound"):
        decrypt_repacked(private, forged)
    # a bound as wide as the safe band leaves one value per group: still exact
    widest = EncryptedVector(public, honest.ciphertexts, 0, public.max_int)
    assert repack_layout(public, public.max_int)[0] == 1
    assert decrypt_repacked(private, widest) == [5, -3, 7, 1, 0, 2, -6]


@pytest.mark.parametrize("extra_bits", [0, 1, 37])
def test_the_key_holders_packing_in_a_wider_layout_reads_the_same_integers(keypair, extra_bits):
    """Local models are read in the aggregate's layout: digits wider than their own bound needs
    give the same integers, and a layout too narrow for the bound is refused before any work."""
    public, private = keypair
    values = [7, -7, 0, 3, -1, 6, 2, -5, 1, 4, -2] * 3
    vector = EncryptedVector.encrypt_ints(public, values, 0, bound=7)
    b = 4 + extra_bits  # 7 takes 3 bits and its sign 1
    k, width = repack_layout(public, 7, b)
    assert width == b and k == (public.max_int.bit_length() - 1) // b
    assert decrypt_repacked(private, vector, shift_bits=b) == values
    with pytest.raises(EncodingOverflowError, match="cannot hold values of 3 bits"):
        decrypt_repacked(private, vector, shift_bits=3)
