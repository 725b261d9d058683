"""Content-addressed storage of the ciphertext blobs whose hashes go on the ledger.

The key of a blob is keccak256 of its bytes: the very hash the ledger stores (``submit``'s
``modelHash``/``extraHash``, ``commitAggregate``'s ``aggregateHash``, ``openRound``'s
``globalModelHash``), so anyone holding the blob can check it against the chain. Reading a blob
re-hashes it and refuses content that does not match its key.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path

from hefl.canonical import keccak256
from hefl.errors import BlobIntegrityError, BlobNotFoundError, BlobStoreError, ConfigError
from hefl.files import atomic_write

#: keccak256 of a blob's bytes: its key in the store and its on-chain hash (32 bytes).
blob_hash = keccak256


def _key(blob_id: bytes | str) -> bytes:
    if isinstance(blob_id, str):
        text = blob_id[2:] if blob_id.startswith(("0x", "0X")) else blob_id
        try:
            raw = bytes.fromhex(text)
        except ValueError as error:
            raise ConfigError(f"blob hash {blob_id!r} is not hex") from error
    else:
        raw = bytes(blob_id)
    if len(raw) != 32:
        raise ConfigError(f"a blob hash is 32 bytes (keccak256), got {len(raw)}")
    return raw


class BlobStore(ABC):
    """Where blobs live, keyed by keccak256 of their content."""

    def put(self, data: bytes) -> bytes:
        """Store ``data``; return its keccak256 hash (idempotent)."""
        digest = blob_hash(data)
        self._write(digest, bytes(data))
        return digest

    def get(self, blob_id: bytes | str) -> bytes:
        """The blob with hash ``blob_id``, verified.

        Raises :class:`BlobNotFoundError` if absent, :class:`BlobIntegrityError` if the stored
        bytes do not hash to ``blob_id``.
        """
        key = _key(blob_id)
        data = self._read(key)
        actual = blob_hash(data)
        if actual != key:
            raise BlobIntegrityError(
                f"blob 0x{key.hex()} is corrupt: its content hashes to 0x{actual.hex()}; "
                "fetch it again from its sender"
            )
        return data

    def has(self, blob_id: bytes | str) -> bool:
        return self._exists(_key(blob_id))

    @abstractmethod
    def _write(self, key: bytes, data: bytes) -> None: ...

    @abstractmethod
    def _read(self, key: bytes) -> bytes:
        """Raw bytes stored under ``key``; raise :class:`BlobNotFoundError` if none."""

    @abstractmethod
    def _exists(self, key: bytes) -> bool: ...


class LocalBlobStore(BlobStore):
    """Blobs as files ``<directory>/<first 2 hex digits>/<64 hex digits>``.

    Writes go to a temporary file in the same directory, then are renamed into place, so a reader
    never sees a half-written blob and concurrent writers of the same blob are harmless.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise BlobStoreError(
                f"cannot create blob directory {self.directory}: {error}"
            ) from error

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.directory)!r})"

    def path_for(self, blob_id: bytes | str) -> Path:
        hex_key = _key(blob_id).hex()
        return self.directory / hex_key[:2] / hex_key

    def _write(self, key: bytes, data: bytes) -> None:
        target = self.path_for(key)
        if target.is_file() and blob_hash(target.read_bytes()) == key:
            return  # already stored intact; a corrupt copy is overwritten below
        atomic_write(target, data)

    def _read(self, key: bytes) -> bytes:
        try:
            return self.path_for(key).read_bytes()
        except FileNotFoundError:
            raise BlobNotFoundError(
                f"no blob 0x{key.hex()} in {self.directory}; it was never stored here"
            ) from None

    def _exists(self, key: bytes) -> bool:
        return self.path_for(key).is_file()
