"""Canonical serialisation: round trip, hash, and rejection of every malformed input."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from hefl.crypto import EncryptedVector
from hefl.crypto.serialize import HEADER, MAGIC, VERSION
from hefl.errors import KeyMismatchError, SerializationError


@pytest.fixture(scope="module")
def vector(keypair) -> EncryptedVector:
    pk, _ = keypair
    return EncryptedVector.encrypt(pk, np.linspace(-1, 1, 5), 24)


def test_layout_and_round_trip(keypair, vector) -> None:
    pk, sk = keypair
    data = vector.to_bytes()
    assert len(data) == HEADER.size + 256 + 5 * 512
    magic, version, fp, f, length = HEADER.unpack_from(data)
    assert (magic, version, fp, f, length) == (MAGIC, VERSION, pk.fingerprint, 24, 5)
    assert int.from_bytes(data[HEADER.size : HEADER.size + 256], "big") == vector.bound
    assert int.from_bytes(data[-512:], "big") == vector.ciphertexts[-1]
    back = EncryptedVector.from_bytes(data, pk)
    assert back == vector and back.to_bytes() == data
    np.testing.assert_allclose(back.decrypt(sk), np.linspace(-1, 1, 5), atol=2**-24)
    assert vector.hash() == keccak(data) and len(vector.hash()) == 32
    assert vector.hash_hex() == "0x" + keccak(data).hex()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=7), st.integers(0, 200))
def test_round_trip_property(small_keypair, values, f) -> None:
    pk, _ = small_keypair
    ev = EncryptedVector.encrypt(pk, values, f)
    data = ev.to_bytes()
    assert EncryptedVector.from_bytes(data, pk) == ev
    assert EncryptedVector.from_bytes(bytearray(data), pk).hash() == ev.hash()


def _patch(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new) :]


def test_truncated_and_trailing(keypair, vector) -> None:
    pk, _ = keypair
    data = vector.to_bytes()
    for cut in (0, 3, HEADER.size, HEADER.size + 255, len(data) - 1, len(data) - 512):
        with pytest.raises(SerializationError, match="truncated"):
            EncryptedVector.from_bytes(data[:cut], pk)
    with pytest.raises(SerializationError, match="trailing"):
        EncryptedVector.from_bytes(data + b"\0", pk)


def test_bad_header_fields(keypair, vector) -> None:
    pk, _ = keypair
    data = vector.to_bytes()
    with pytest.raises(SerializationError, match="magic"):
        EncryptedVector.from_bytes(_patch(data, 0, b"XXXX"), pk)
    with pytest.raises(SerializationError, match="version"):
        EncryptedVector.from_bytes(_patch(data, 4, b"\x02"), pk)
    with pytest.raises(SerializationError, match="length"):
        EncryptedVector.from_bytes(_patch(data, 39, struct.pack(">I", 6)), pk)
    with pytest.raises(SerializationError, match="length"):
        EncryptedVector.from_bytes(_patch(data, 39, struct.pack(">I", 4)), pk)
    too_big = (pk.max_int + 1).to_bytes(256, "big")
    with pytest.raises(SerializationError, match="bound"):
        EncryptedVector.from_bytes(_patch(data, HEADER.size, too_big), pk)
    with pytest.raises(SerializationError, match="bytes"):
        EncryptedVector.from_bytes("text", pk)  # type: ignore[arg-type]


def test_wrong_key(keypair, small_keypair, vector) -> None:
    _, _ = keypair
    with pytest.raises(KeyMismatchError, match="belongs to key"):
        EncryptedVector.from_bytes(vector.to_bytes(), small_keypair[0])
    pk, _ = keypair
    forged_fp = _patch(vector.to_bytes(), 5, b"\x11" * 32)
    with pytest.raises(KeyMismatchError):
        EncryptedVector.from_bytes(forged_fp, pk)


@pytest.mark.parametrize("which", ["zero", "nsquare", "max", "multiple_of_n", "multiple_of_p"])
def test_out_of_range_ciphertexts(keypair, vector, which) -> None:
    pk, sk = keypair
    bad = {
        "zero": 0,
        "nsquare": int(pk.nsquare),
        "max": 2 ** (8 * 512) - 1,
        "multiple_of_n": int(pk.n) * 12345,
        "multiple_of_p": int(sk.p) * 3,
    }[which]
    data = vector.to_bytes()
    start = HEADER.size + 256 + 2 * 512
    with pytest.raises(SerializationError, match="ciphertext 2"):
        EncryptedVector.from_bytes(_patch(data, start, bad.to_bytes(512, "big")), pk)


def test_empty_vector_round_trip(small_keypair) -> None:
    pk, sk = small_keypair
    ev = EncryptedVector.encrypt_ints(pk, [], 0)
    back = EncryptedVector.from_bytes(ev.to_bytes(), pk)
    assert len(back) == 0 and back.decrypt(sk).shape == (0,)
