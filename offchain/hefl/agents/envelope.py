"""The submission envelope: every blob a participant submits is bound to its job, round and sender.

A participant's two blobs (its local model and the extra blob) are each wrapped in a header that
names where they belong; the header is part of the blob's bytes, so keccak256 — the hash on chain —
covers it. Layout (big-endian, version 1)::

    offset  size  field
    0       4     magic b"HFSB"
    4       1     version = 1
    5       1     kind: 0 the local model, 1 the extra blob
    6       8     chain id
    14      20    ledger address
    34      8     round g
    42      20    participant address
    62      …     payload (the strategy's blob)

The party and every replica open each submission with :func:`unseal` against the round's own
binding (the chain id, the ledger, g and the submitter the chain names). A participant that
resubmits an earlier round's blob (a replay) or another participant's blob (a copy) hands in a
blob bound elsewhere: it is unusable, and left out of the aggregate as any malformed blob is — the
same verdict on every node, because it is a function of bytes and chain state alone.

Why here and not in the contract: in a job whose blobs travel as hashes the contract never sees
the bytes, and refusing repeated hashes on chain (a mapping of every hash seen) would cost a fresh
storage slot per submission yet not stop a replay under a new hash. The binding stops verbatim
replays and copies; a participant that re-randomises someone else's ciphertexts under its own
header submits a model of its choosing, which any participant can do with its own data.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from eth_utils import to_canonical_address, to_checksum_address

from hefl.errors import SerializationError
from hefl.learning.strategy import LocalUpdate

__all__ = ["HEADER", "MAGIC", "VERSION", "Binding", "BlobKind", "seal", "seal_update", "unseal"]

MAGIC = b"HFSB"
VERSION = 1
#: magic, version, kind, chain id, ledger, round, participant.
HEADER = struct.Struct(">4sBBQ20sQ20s")


class BlobKind(IntEnum):
    """Which of a participant's blobs an envelope holds."""

    MODEL = 0
    EXTRA = 1


@dataclass(frozen=True)
class Binding:
    """Where a submission belongs: the job (chain id and ledger), the round and the sender."""

    chain_id: int
    ledger: str
    round: int
    participant: str

    def describe(self) -> str:
        return f"round {self.round} of ledger {self.ledger} (chain {self.chain_id})"


def seal(payload: bytes, binding: Binding, kind: BlobKind) -> bytes:
    """``payload`` behind the header naming ``binding`` and ``kind``."""
    header = HEADER.pack(
        MAGIC,
        VERSION,
        int(kind),
        binding.chain_id,
        to_canonical_address(binding.ledger),
        binding.round,
        to_canonical_address(binding.participant),
    )
    return header + bytes(payload)


def seal_update(update: LocalUpdate, binding: Binding) -> LocalUpdate:
    """Both blobs of ``update`` sealed with ``binding``."""
    return LocalUpdate(
        model=seal(update.model, binding, BlobKind.MODEL),
        extra=seal(update.extra, binding, BlobKind.EXTRA),
    )


def unseal(blob: bytes, binding: Binding, kind: BlobKind) -> bytes:
    """The payload of ``blob`` if its header names exactly ``binding`` and ``kind``; otherwise
    :class:`~hefl.errors.SerializationError` saying what it is bound to instead."""
    if len(blob) < HEADER.size:
        raise SerializationError(
            f"{kind.name.lower()} blob of {len(blob)} bytes has no submission header "
            f"({HEADER.size} bytes)"
        )
    magic, version, got_kind, chain_id, ledger, round_index, participant = HEADER.unpack_from(blob)
    if magic != MAGIC or version != VERSION:
        raise SerializationError(
            f"{kind.name.lower()} blob is not a sealed submission (magic {magic!r}, version "
            f"{version}; want {MAGIC!r}, {VERSION})"
        )
    if got_kind != kind:
        raise SerializationError(f"a {kind.name.lower()} blob is sealed as kind {got_kind}")
    # compared as 20 raw bytes (checksummed hex, a keccak each, only for the messages)
    if chain_id != binding.chain_id or ledger != to_canonical_address(binding.ledger):
        raise SerializationError(
            f"blob is bound to ledger {to_checksum_address(ledger)} on chain {chain_id}, not to "
            f"{binding.ledger} on chain {binding.chain_id} (a blob of another job)"
        )
    if round_index != binding.round:
        raise SerializationError(
            f"blob is bound to round {round_index}, not round {binding.round} (a replay)"
        )
    if participant != to_canonical_address(binding.participant):
        raise SerializationError(
            f"blob is bound to participant {to_checksum_address(participant)}, not its submitter "
            f"{to_checksum_address(binding.participant)} (a copy)"
        )
    return blob[HEADER.size :]
