"""Data availability: the chain keeps the blobs, the blob store is a cache of it.

A submission sent with ``FLLedger.submitBlobs`` (and an aggregate sent with
``commitAggregateBlob``) carries the blob's bytes in its transaction's calldata and the contract
records their keccak256 itself, so every node can read the bytes back from that transaction: "was
this blob available?" is a fact of the chain, the same for every honest node, never a race
against a writable store. :class:`ChainBackedStore` reads through a local store and, for a blob it
lacks, finds the transaction that recorded its hash (a ``Submitted`` or ``AggregateCommitted``
event), decodes the calldata, checks the hash and caches the bytes; :func:`rebuild_from_chain`
refills a whole store from the chain.

Which blobs go on chain. Calldata costs gas (measured in the README: per submission at d = 14 and
d = 200 with 2048-bit keys) and public nodes relay transactions only up to 128 KiB (geth's
txpool limit), so a blob pair travels in calldata when it fits :data:`MAX_CALLDATA_BYTES`
(:func:`fits_calldata`), which is every model up to about 80 coordinates at 2048 bits. A job whose
submissions fit is deployed with ``blobsOnChain`` (the contract then refuses bare hashes); a
larger one sends hashes only and lives by the off-chain rule written in the README (the party
commits only what it fetched; a replica never disputes an exclusion, only a content mismatch it
can prove from bytes it holds).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from hefl.chain.blobstore import BlobStore, blob_hash
from hefl.chain.fl_ledger import LedgerClient
from hefl.errors import BlobNotFoundError, ChainError

__all__ = [
    "MAX_CALLDATA_BYTES",
    "ChainBackedStore",
    "blob_carriers",
    "blob_from_calldata",
    "blob_in_transactions",
    "blobs_on_chain_for",
    "calldata_blobs",
    "fits_calldata",
    "paillier_submission_bytes",
    "rebuild_from_chain",
]

log = logging.getLogger(__name__)

#: Largest total of blob bytes one transaction carries in calldata: 128 KiB (what public nodes
#: relay) less 4 KiB for the ABI encoding, the other arguments and the signature.
MAX_CALLDATA_BYTES = 124 * 1024
#: The ledger's functions whose calldata carries blobs, and which arguments are blobs.
BLOB_ARGUMENTS = {"submitBlobs": ("model", "extra"), "commitAggregateBlob": ("aggregate",)}
#: The events whose transactions may carry a blob.
BLOB_EVENTS = ("Submitted", "AggregateCommitted")


#: A submission's size in global models: the local model and the extra blob (for Paillier two
#: gradients), plus room for the envelopes.
SUBMISSION_MODELS = 3


def paillier_submission_bytes(model_size: int, key_bits: int) -> int:
    """Bytes of a sealed Paillier submission (the local model and the bundle of two gradients,
    each vector 43 + |n| + d·|n²| bytes, envelopes 62 bytes, the bundle 12 + 8 per blob)."""
    n_bytes = -(-key_bits // 8)
    vector = 43 + n_bytes + model_size * 2 * n_bytes
    return (62 + vector) + (62 + 12 + 2 * (8 + vector))


def blobs_on_chain_for(global_model: bytes | int) -> bool:
    """The default of a job's ``blobsOnChain``: whether a submission (about
    :data:`SUBMISSION_MODELS` global models) fits one transaction's calldata."""
    size = global_model if isinstance(global_model, int) else len(global_model)
    return fits_calldata(SUBMISSION_MODELS * size + 1024)


def fits_calldata(*blobs: bytes | int) -> bool:
    """Whether blobs of these contents (or byte sizes) fit one transaction's calldata."""
    return sum(b if isinstance(b, int) else len(b) for b in blobs) <= MAX_CALLDATA_BYTES


def calldata_blobs(ledger: LedgerClient, transaction_hash: str) -> tuple[bytes, ...]:
    """The blobs the ledger transaction ``transaction_hash`` carried in calldata (none when it
    sent bare hashes)."""
    tx = ledger.chain.transaction(transaction_hash)
    called = ledger.decode_input(tx.get("input") or tx.get("data") or b"")
    if called is None:  # not one of the ledger's functions
        return ()
    function, args = called
    names = BLOB_ARGUMENTS.get(function, ())
    return tuple(bytes(args[name]) for name in names if args[name])


def blob_carriers(ledger: LedgerClient, *, from_block: int | None = None) -> dict[bytes, list[str]]:
    """Blob hash → the ledger transactions whose events recorded it (the only transactions whose
    calldata may carry its bytes), from one scan of the ledger's events."""
    carriers: dict[bytes, list[str]] = {}
    for event in ledger.events(from_block=from_block):
        if event.name in BLOB_EVENTS:
            for name, value in event.args.items():
                if name.endswith("Hash"):
                    carriers.setdefault(bytes(value), []).append(event.transaction_hash)
    return carriers


def blob_in_transactions(
    ledger: LedgerClient, key: bytes, transactions: Iterable[str]
) -> bytes | None:
    """The first blob hashing to ``key`` in the calldata of ``transactions`` (bytes that do not
    hash to ``key`` are never returned, whatever the node answers); ``None`` if there is none."""
    for transaction in transactions:
        for blob in calldata_blobs(ledger, transaction):
            if blob_hash(blob) == key:
                return blob
    return None


def blob_from_calldata(
    ledger: LedgerClient, key: bytes, *, from_block: int | None = None
) -> bytes | None:
    """The blob whose keccak256 is ``key``, read from the calldata of the ledger transaction that
    recorded that hash; ``None`` when no such transaction carried its bytes."""
    carriers = blob_carriers(ledger, from_block=from_block)
    return blob_in_transactions(ledger, key, carriers.get(key, []))


class ChainBackedStore(BlobStore):
    """A blob store that falls back to the chain: reads come from ``cache``; a blob it lacks is
    taken from the calldata of the ledger transaction that recorded its hash, checked against
    that hash and written to the cache."""

    def __init__(self, cache: BlobStore, ledger: LedgerClient) -> None:
        self.cache: BlobStore = cache.cache if isinstance(cache, ChainBackedStore) else cache
        self.ledger = ledger

    def __repr__(self) -> str:
        return f"ChainBackedStore({self.cache!r}, {self.ledger.address})"

    def _write(self, key: bytes, data: bytes) -> None:
        self.cache.put(data)

    def _read(self, key: bytes) -> bytes:
        try:
            return self.cache.get(key)
        except BlobNotFoundError:
            pass
        try:
            blob = blob_from_calldata(self.ledger, key)
        except ChainError:
            raise
        except Exception as error:  # a node that answers nonsense: the blob stays missing
            raise BlobNotFoundError(
                f"no blob 0x{key.hex()} in {self.cache!r}, and reading it from the chain failed: "
                f"{error}"
            ) from error
        if blob is None:
            raise BlobNotFoundError(
                f"no blob 0x{key.hex()} in {self.cache!r}, and no transaction of ledger "
                f"{self.ledger.address} carried its bytes"
            )
        self.cache.put(blob)
        log.debug("blob 0x%s rebuilt from the chain", key.hex()[:12])
        return blob

    def _exists(self, key: bytes) -> bool:
        if self.cache.has(key):
            return True
        try:
            self._read(key)
        except BlobNotFoundError:
            return False
        return True


def rebuild_from_chain(ledger: LedgerClient, cache: BlobStore) -> int:
    """Write every blob the ledger's transactions carried in calldata into ``cache``; return how
    many were not there yet."""
    added = 0
    seen: set[str] = set()
    for event in ledger.events():
        if event.name not in BLOB_EVENTS or event.transaction_hash in seen:
            continue
        seen.add(event.transaction_hash)
        for blob in calldata_blobs(ledger, event.transaction_hash):
            if not cache.has(blob_hash(blob)):
                cache.put(blob)
                added += 1
    return added
