"""Canonical byte form of an encrypted vector, and its hash (what the ledger and blob store carry).

Layout (all integers big-endian, no padding, version 1)::

    offset  size              field
    0       4                 magic  b"HFEV"
    4       1                 version = 1
    5       32                key fingerprint = keccak256(n as ⌈|n|/8⌉ big-endian bytes)
    37      2                 scale exponent f (value = integer / 2^f), 0 ≤ f < 2^16
    39      4                 length L (number of ciphertexts)
    43      ⌈|n|/8⌉           bound B: |encoded integer| ≤ B ≤ n/3 − 1 for every element
    43+nb   L · ⌈|n²|/8⌉      ciphertexts, each fixed-width

The form is canonical: one vector has exactly one encoding (fixed widths, no optional fields), so
``hash = keccak256(bytes)`` identifies it. :func:`decode_vector` checks the magic, version,
fingerprint, exact total length, the bound, and that each ciphertext c satisfies 0 < c < n² and
gcd(c, n) = 1; anything else raises :class:`~hefl.errors.SerializationError` (or
:class:`~hefl.errors.KeyMismatchError` for another key's vector).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from gmpy2 import mpz

from hefl.canonical import keccak256
from hefl.crypto.keys import PublicKey
from hefl.errors import KeyMismatchError, SerializationError

# keccak256 is hefl.canonical's, re-exported here for old imports.
__all__ = ["HEADER", "MAGIC", "VERSION", "decode_vector", "encode_vector", "keccak256"]

MAGIC = b"HFEV"
VERSION = 1
#: magic, version, fingerprint, scale exponent, length (the bound follows, n_bytes wide).
HEADER = struct.Struct(">4sB32sHI")
MAX_SCALE_BITS = (1 << 16) - 1


def encode_vector(
    public_key: PublicKey, ciphertexts: Sequence[mpz], scale_bits: int, bound: int
) -> bytes:
    """Serialise; see the module docstring for the layout."""
    if not 0 <= scale_bits <= MAX_SCALE_BITS:
        raise SerializationError(f"scale exponent {scale_bits} does not fit the 16-bit field")
    width = public_key.ciphertext_bytes
    parts = [
        HEADER.pack(MAGIC, VERSION, public_key.fingerprint, scale_bits, len(ciphertexts)),
        int(bound).to_bytes(public_key.n_bytes, "big"),
    ]
    parts.extend(int(c).to_bytes(width, "big") for c in ciphertexts)
    return b"".join(parts)


def decode_vector(data: bytes, public_key: PublicKey) -> tuple[list[mpz], int, int]:
    """Parse and validate; return (ciphertexts, scale_bits, bound)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SerializationError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < HEADER.size + public_key.n_bytes:
        raise SerializationError(
            f"encrypted vector truncated: {len(data)} bytes, the header alone needs "
            f"{HEADER.size + public_key.n_bytes}"
        )
    magic, version, fingerprint, scale_bits, length = HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise SerializationError(f"not an encrypted vector: magic {magic!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise SerializationError(f"encrypted vector version {version} unsupported (want {VERSION})")
    if fingerprint != public_key.fingerprint:
        raise KeyMismatchError(
            f"encrypted vector belongs to key 0x{fingerprint.hex()}, not to "
            f"{public_key.fingerprint_hex}; load it with the matching public key"
        )
    width = public_key.ciphertext_bytes
    start = HEADER.size + public_key.n_bytes
    expected = start + length * width
    if len(data) != expected:
        raise SerializationError(
            f"encrypted vector of length {length} must be {expected} bytes, got {len(data)} "
            f"({'truncated' if len(data) < expected else 'trailing bytes'})"
        )
    bound = int.from_bytes(data[HEADER.size : start], "big")
    if bound > public_key.max_int:
        raise SerializationError(
            f"declared bound of {bound.bit_length()} bits exceeds the safe band n/3 − 1"
        )
    cts: list[mpz] = []
    for i in range(length):
        chunk = data[start + i * width : start + (i + 1) * width]
        c = mpz(int.from_bytes(chunk, "big"))
        if not public_key.is_ciphertext(c):
            raise SerializationError(
                f"ciphertext {i} is not a unit mod n² (outside (0, n²) or not coprime to n)"
            )
        cts.append(c)
    return cts, scale_bits, bound
