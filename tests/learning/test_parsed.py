"""Parsed vectors are cached by the hash of their bytes: the same objects as a fresh parse, and a
different blob — whatever hash it claims — is parsed (and refused) on its own."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from hefl.crypto import EncryptedVector, InsecureKeyWarning, generate_keypair
from hefl.errors import HeflError
from hefl.learning import parsed


@pytest.fixture(scope="module")
def public_key():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyWarning)
        return generate_keypair(512, allow_insecure=True)[0]


@pytest.fixture(autouse=True)
def empty_cache():
    parsed.clear()
    yield
    parsed.clear()


def test_a_cached_parse_equals_a_fresh_parse(public_key) -> None:
    blob = EncryptedVector.encrypt(public_key, [0.5, -1.25, 3.0], 20).to_bytes()
    first = parsed.parse_vector(blob, public_key)
    assert first == EncryptedVector.from_bytes(blob, public_key)
    assert parsed.parse_vector(bytes(blob), public_key) is first


def test_a_different_blob_is_never_served_another_blobs_vector(public_key) -> None:
    honest = EncryptedVector.encrypt(public_key, [1.0, 2.0], 20)
    blob = honest.to_bytes()
    parsed.parse_vector(blob, public_key)
    # same header and length, other ciphertexts: its own parse, its own vector
    other = EncryptedVector.encrypt(public_key, [-2.0, 0.5], 20)
    other_blob = other.to_bytes()
    assert other.bound == honest.bound and len(other_blob) == len(blob) and other_blob != blob
    assert parsed.parse_vector(other_blob, public_key) == other
    # the same header with its last ciphertext zeroed (outside Z*_{n²}) is refused, every time
    width = (int(public_key.nsquare).bit_length() + 7) // 8
    corrupted = blob[:-width] + bytes(width)
    for _ in range(2):
        with pytest.raises(HeflError):
            parsed.parse_vector(corrupted, public_key)
    assert parsed.parse_vector(blob, public_key) == honest


def test_the_cache_keeps_a_bounded_number_of_ciphertexts(public_key, monkeypatch) -> None:
    monkeypatch.setattr(parsed, "CACHE_CIPHERTEXTS", 5)
    blobs = [
        EncryptedVector.encrypt(public_key, np.full(2, float(i)), 10).to_bytes() for i in range(4)
    ]
    vectors = [parsed.parse_vector(b, public_key) for b in blobs]
    assert parsed._held <= 5
    assert parsed.parse_vector(blobs[-1], public_key) is vectors[-1]
    assert parsed.parse_vector(blobs[0], public_key) is not vectors[0]  # evicted, parsed afresh
    assert parsed.parse_vector(blobs[0], public_key) == vectors[0]
