"""Wire format of every secure-aggregation client message, and the hashes the ledger records.

One frame layout for all schemes (big-endian)::

    magic      4 bytes   scheme tag (b"HFMK", b"HFPE", b"HFPP", b"HFPT")
    version    1 byte    FORMAT_VERSION
    round      8 bytes   the round index the message belongs to
    attempt    4 bytes   the attempt inside the round (multi-key restarts after dropouts)
    client     4 bytes   the sender's client id
    groups     1 byte    number of integer groups G
    G × (count 4 bytes, width 2 bytes)
    the integers of each group, each in exactly ``width`` bytes
    digest     32 bytes  keccak256 of everything above

Every integer has a fixed width, so a message's size depends only on the parameters, and a
truncated or padded message is caught by the length check before anything is parsed. The digest
catches accidental corruption; it is not a MAC (anyone can recompute it), so a deliberate tamper
that recomputes it is caught only by the range/subgroup checks of each scheme and, in the system,
by comparing :func:`message_hash` with the hash recorded on the ledger.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from hefl.canonical import DIGEST_BYTES, keccak256
from hefl.errors import SerializationError

FORMAT_VERSION = 1
_HEAD = struct.Struct(">4sBQIIB")
_GROUP = struct.Struct(">IH")


#: keccak256 of a whole client message: what the ledger records for it.
message_hash = keccak256


def aggregate_commitment(round_index: int, message_hashes: Sequence[bytes], total: bytes) -> bytes:
    """keccak256(round ‖ sorted client message hashes ‖ serialized aggregate).

    A commitment to the round's inputs and its decrypted sum that the lead can store on the ledger.
    """
    body = round_index.to_bytes(8, "big") + b"".join(sorted(message_hashes)) + total
    return keccak256(body)


@dataclass(frozen=True)
class Frame:
    """A parsed message: its header fields and its integer groups."""

    magic: bytes
    round_index: int
    attempt: int
    client_id: int
    groups: tuple[tuple[int, ...], ...]


def int_width(modulus: int) -> int:
    """Bytes needed to hold any residue modulo ``modulus``."""
    return max(1, ((int(modulus) - 1).bit_length() + 7) // 8)


def frame_size(group_shapes: Sequence[tuple[int, int]]) -> int:
    """Exact byte size of a frame whose groups have these (count, width) shapes."""
    return (
        _HEAD.size
        + _GROUP.size * len(group_shapes)
        + sum(c * w for c, w in group_shapes)
        + DIGEST_BYTES
    )


def encode_frame(
    magic: bytes,
    round_index: int,
    attempt: int,
    client_id: int,
    groups: Sequence[tuple[Sequence[int], int]],
) -> bytes:
    """Serialize ``groups`` = [(integers, width), ...] into a frame (see the module docstring)."""
    if len(magic) != 4:
        raise SerializationError(f"magic must be 4 bytes, got {magic!r}")
    parts = [_HEAD.pack(magic, FORMAT_VERSION, round_index, attempt, client_id, len(groups))]
    parts.extend(_GROUP.pack(len(values), width) for values, width in groups)
    for values, width in groups:
        try:
            parts.append(b"".join(int(v).to_bytes(width, "big") for v in values))
        except OverflowError as exc:
            raise SerializationError(
                f"an integer does not fit in {width} bytes; it is not a valid residue"
            ) from exc
    body = b"".join(parts)
    return body + keccak256(body)


def decode_frame(
    data: bytes,
    magic: bytes,
    expected_shapes: Sequence[tuple[int, int]] | None = None,
) -> Frame:
    """Parse and check a frame: magic, version, exact length, digest, expected group shapes.

    Raises :class:`SerializationError` naming what is wrong (truncated, tampered, wrong scheme...).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SerializationError(f"a message must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < _HEAD.size + DIGEST_BYTES:
        raise SerializationError(
            f"message of {len(data)} bytes is truncated: even an empty frame has "
            f"{_HEAD.size + DIGEST_BYTES} bytes"
        )
    got_magic, version, round_index, attempt, client_id, n_groups = _HEAD.unpack_from(data)
    if got_magic != magic:
        raise SerializationError(
            f"message tag {got_magic!r} is not {magic!r}: another scheme's message, or corrupt"
        )
    if version != FORMAT_VERSION:
        raise SerializationError(
            f"message format version {version} is not the supported {FORMAT_VERSION}"
        )
    offset = _HEAD.size
    if len(data) < offset + _GROUP.size * n_groups + DIGEST_BYTES:
        raise SerializationError(f"message of {len(data)} bytes is truncated inside its header")
    shapes = []
    for _ in range(n_groups):
        shapes.append(_GROUP.unpack_from(data, offset))
        offset += _GROUP.size
    expected_len = frame_size(shapes)
    if len(data) != expected_len:
        kind = "truncated" if len(data) < expected_len else "padded"
        raise SerializationError(
            f"message is {kind}: {len(data)} bytes where its header announces {expected_len}"
        )
    if keccak256(data[:-DIGEST_BYTES]) != data[-DIGEST_BYTES:]:
        raise SerializationError(
            "message digest mismatch: the ciphertext was altered or corrupted in transit"
        )
    if expected_shapes is not None and [tuple(s) for s in shapes] != [
        tuple(s) for s in expected_shapes
    ]:
        raise SerializationError(
            f"message has groups (count, width) {shapes}, expected {list(expected_shapes)}"
        )
    groups = []
    for count, width in shapes:
        values = tuple(
            int.from_bytes(data[offset + i * width : offset + (i + 1) * width], "big")
            for i in range(count)
        )
        offset += count * width
        groups.append(values)
    return Frame(got_magic, round_index, attempt, client_id, tuple(groups))


def frame_client_id(data: bytes) -> int:
    """The client id a frame's header names (no other check; :func:`decode_frame` does those)."""
    if len(data) < _HEAD.size:
        raise SerializationError(f"message of {len(data)} bytes is too short for a frame header")
    return int(_HEAD.unpack_from(bytes(data[: _HEAD.size]))[4])
