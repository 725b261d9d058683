"""Encrypted vectors parsed once per process, found again by the keccak256 of their bytes.

Every replica of an in-process job validates and re-aggregates the same N submissions, and the
party decrypts them: without a cache each blob is parsed and range-checked (every ciphertext in
[0, n²) and coprime to n) once per reader, N + 1 times per round. :func:`parse_vector` keeps the
parsed :class:`~hefl.crypto.EncryptedVector` under (keccak256(blob), key fingerprint), computed
from the bytes actually given — never from a hash someone claims — so a different blob is a
different key and cannot be served another blob's vector: the cache is exact and cannot be
poisoned. Blobs that fail to parse are not cached (each reader gets the error). The vectors are
shared: callers treat them as immutable, as every operation of :mod:`hefl.crypto.vector` does.
At most :data:`CACHE_CIPHERTEXTS` ciphertexts are kept, least recently used first out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from hefl.canonical import keccak256
from hefl.crypto import EncryptedVector, PublicKey

__all__ = ["CACHE_CIPHERTEXTS", "clear", "parse_vector"]

#: Ciphertexts kept at most (≈ 100 MB at 2048-bit keys).
CACHE_CIPHERTEXTS = 200_000

_cache: OrderedDict[tuple[bytes, str], EncryptedVector] = OrderedDict()
_held = 0
_lock = threading.Lock()


def parse_vector(blob: bytes, public_key: PublicKey) -> EncryptedVector:
    """``EncryptedVector.from_bytes(blob, public_key)``, parsed once per process."""
    global _held
    key = (keccak256(blob), public_key.fingerprint_hex)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    vector = EncryptedVector.from_bytes(blob, public_key)  # raises: nothing is cached
    with _lock:
        if key not in _cache:
            _cache[key] = vector
            _held += len(vector)
            while _held > CACHE_CIPHERTEXTS and len(_cache) > 1:
                _, old = _cache.popitem(last=False)
                _held -= len(old)
    return vector


def clear() -> None:
    """Forget every parsed vector."""
    global _held
    with _lock:
        _cache.clear()
        _held = 0
