"""A bundle: several blobs in one, so a participant's "extra" submission is one hash on chain."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from hefl.errors import SerializationError

_MAGIC = b"HEFLBDL1"
_COUNT = struct.Struct(">8sI")
_LENGTH = struct.Struct(">Q")


def pack_bundle(blobs: Sequence[bytes]) -> bytes:
    """Magic, count, then each blob as (8-byte big-endian length, bytes)."""
    parts = [_COUNT.pack(_MAGIC, len(blobs))]
    for blob in blobs:
        parts += [_LENGTH.pack(len(blob)), blob]
    return b"".join(parts)


def unpack_bundle(bundle: bytes, expected: int | None = None) -> list[bytes]:
    """Inverse of :func:`pack_bundle`; refuses a wrong count, truncation or trailing bytes."""
    if len(bundle) < _COUNT.size:
        raise SerializationError(f"bundle of {len(bundle)} bytes is truncated")
    magic, count = _COUNT.unpack_from(bundle)
    if magic != _MAGIC:
        raise SerializationError(f"not a bundle (magic {magic!r})")
    if expected is not None and count != expected:
        raise SerializationError(f"bundle holds {count} blobs, expected {expected}")
    offset, blobs = _COUNT.size, []
    for index in range(count):
        if offset + _LENGTH.size > len(bundle):
            raise SerializationError(f"bundle truncated before blob {index}")
        (length,) = _LENGTH.unpack_from(bundle, offset)
        offset += _LENGTH.size
        if offset + length > len(bundle):
            raise SerializationError(f"bundle truncated inside blob {index}")
        blobs.append(bundle[offset : offset + length])
        offset += length
    if offset != len(bundle):
        raise SerializationError(f"bundle has {len(bundle) - offset} trailing bytes")
    return blobs
