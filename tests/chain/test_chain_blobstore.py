"""The content-addressed blob store: round trip, tampering refused, missing blob reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_utils import keccak

from hefl.chain import LocalBlobStore, blob_hash
from hefl.errors import BlobIntegrityError, BlobNotFoundError, ConfigError


def test_round_trip_keyed_by_keccak(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    data = b"\x00\x01 ciphertext bytes " * 1000
    key = store.put(data)
    assert key == keccak(data) == blob_hash(data)
    assert len(key) == 32
    assert store.has(key) and store.has("0x" + key.hex()) and store.has(key.hex())
    assert store.get(key) == data
    assert store.get("0x" + key.hex()) == data
    assert store.put(data) == key  # idempotent
    assert store.get(store.put(b"")) == b""


def test_second_store_on_same_directory_reads_it(tmp_path: Path) -> None:
    key = LocalBlobStore(tmp_path).put(b"shared")
    assert LocalBlobStore(tmp_path).get(key) == b"shared"


def test_tampered_blob_is_refused(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    key = store.put(b"honest ciphertext")
    store.path_for(key).write_bytes(b"forged ciphertext")
    with pytest.raises(BlobIntegrityError, match=key.hex()):
        store.get(key)
    store.put(b"honest ciphertext")  # putting the real content again repairs it
    assert store.get(key) == b"honest ciphertext"


def test_missing_blob(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    missing = keccak(b"never stored")
    assert not store.has(missing)
    with pytest.raises(BlobNotFoundError, match=missing.hex()) as info:
        store.get(missing)
    assert isinstance(info.value, KeyError)


def test_bad_keys_are_rejected(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    with pytest.raises(ConfigError):
        store.get(b"short")
    with pytest.raises(ConfigError):
        store.get("0xnothex")


def test_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    for i in range(5):
        store.put(bytes([i]) * 100)
    names = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert len(names) == 5
    assert not [n for n in names if n.startswith(".tmp")]
