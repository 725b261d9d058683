"""A participant's gradients packed k values per ciphertext, so the party decrypts 2·d/k, not 2·d.

The two encrypted gradients a participant sends (only ever decrypted, for φ̂ and ω̂ of Eqs. 22–23)
are packed before sending: with B the gradient's declared bound (|x_j| ≤ B), each slot holds
x_j + B ∈ [0, 2B] in b = bits(2B) bits, and k = ⌊(|n/3 − 1| − 1)/b⌋ slots share one ciphertext,
[[Σ_j (x_j + B)·2^{j·b}]] (:func:`hefl.crypto.vector.pack_vector`; (k − 1) b-bit powmods per
packed ciphertext, paid by the participant). The party decrypts ⌈d/k⌉ ciphertexts per gradient and
reads the slots back (:func:`hefl.crypto.vector.unpack_ints`): the same integers as the unpacked
vector, so φ̂ and ω̂ are identical. The local model stays unpacked: Eq. 10 aggregates it.

Layout (big-endian, version 1)::

    offset  size      field
    0       4         magic b"HFPV"
    4       1         version = 1
    5       4         count L (values packed)
    9       2         slots per ciphertext k
    11      2         slot bits b
    13      2         scale exponent f of the values (value = x / 2^f)
    15      ⌈|n|/8⌉   value bound B (|x_j| ≤ B)
    15+nb   …         the packed vector in :mod:`hefl.crypto.serialize`'s form: ⌈L/k⌉ ciphertexts,
                      scale 0, bound 2^{k·b} − 1

Headers are checked, not trusted: a blob is usable only when its layout is exactly the one B and
the key determine (b = bits(2B), k as above, so k·b fits the safe band of Z_n), the packed vector
has ⌈L/k⌉ ciphertexts, scale 0 and bound 2^{k·b} − 1. Anything else raises
:class:`~hefl.errors.SerializationError` (the blob is unusable), never another exception.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hefl.crypto import EncryptedVector, PublicKey
from hefl.crypto.vector import check_pack_layout, pack_vector
from hefl.errors import EncodingOverflowError, SerializationError
from hefl.learning.parsed import parse_vector

__all__ = ["MAGIC", "VERSION", "PackedVector", "is_packed", "pack", "parse_packed"]

MAGIC = b"HFPV"
VERSION = 1
_HEADER = struct.Struct(">4sBIHHH")


@dataclass(frozen=True)
class PackedVector:
    """A parsed packed blob: ``packed`` holds ``count`` values of scale 2^-``scale_bits``,
    ``per_ciphertext`` slots of ``slot_bits`` bits each, offset by ``value_bound``."""

    packed: EncryptedVector
    count: int
    per_ciphertext: int
    slot_bits: int
    scale_bits: int
    value_bound: int

    def __len__(self) -> int:
        return self.count


def is_packed(blob: bytes) -> bool:
    """Whether ``blob`` claims the packed form (its magic; :func:`parse_packed` checks the rest)."""
    return bytes(blob[:4]) == MAGIC


def pack(vector: EncryptedVector) -> bytes:
    """Pack ``vector`` (re-randomised after packing) and serialise it as the module's layout."""
    packed, k, b = pack_vector(vector)
    header = _HEADER.pack(MAGIC, VERSION, len(vector), k, b, vector.scale_bits)
    bound = vector.bound.to_bytes(vector.public_key.n_bytes, "big")
    return header + bound + packed.rerandomize().to_bytes()


def parse_packed(blob: bytes, public_key: PublicKey) -> PackedVector:
    """Parse and validate a packed blob (module docstring); SerializationError if unusable."""
    blob = bytes(blob)
    start = _HEADER.size + public_key.n_bytes
    if len(blob) < start:
        raise SerializationError(f"packed vector truncated: {len(blob)} bytes, header {start}")
    magic, version, count, k, b, scale = _HEADER.unpack_from(blob)
    if magic != MAGIC:
        raise SerializationError(f"not a packed vector: magic {magic!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise SerializationError(f"packed vector version {version} unsupported (want {VERSION})")
    bound = int.from_bytes(blob[_HEADER.size : start], "big")
    try:
        check_pack_layout(public_key, count, k, b, bound)
    except EncodingOverflowError as error:
        raise SerializationError(
            f"packed vector header declares an impossible layout: {error}"
        ) from None
    packed = parse_vector(blob[start:], public_key)
    need = -(-count // k)
    if len(packed) != need or packed.scale_bits != 0 or packed.bound != (1 << (k * b)) - 1:
        raise SerializationError(
            f"packed vector holds {len(packed)} ciphertexts at scale 2^-{packed.scale_bits} with "
            f"a {packed.bound.bit_length()}-bit bound; its header ({count} values, {k} slots of "
            f"{b} bits) requires {need} at scale 2^-0 with a {k * b}-bit bound"
        )
    return PackedVector(packed, count, k, b, scale, bound)
