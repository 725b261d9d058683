"""Canonical bytes and their hash: what every layer puts on the ledger or in the blob store.

- :func:`canonical_json` — a JSON document as the one byte string that stands for it (keys sorted,
  no whitespace, UTF-8), so that equal documents have equal hashes;
- :func:`keccak256` — Ethereum's keccak256 (not NIST SHA3-256), the 32-byte digest the contracts
  store: blob keys, message hashes, key fingerprints, configuration hashes.

A bottom-layer module: it imports nothing from hefl, so crypto, secagg, chain, learning, agents and
the CLI all use the same two functions.
"""

from __future__ import annotations

import json
from typing import Any

from eth_hash.auto import keccak

__all__ = ["DIGEST_BYTES", "canonical_json", "keccak256"]

#: Length of a keccak256 digest in bytes.
DIGEST_BYTES = 32


def canonical_json(document: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes whose keccak256 goes on chain."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def keccak256(data: bytes) -> bytes:
    """keccak256 of ``data`` as used by Ethereum (not NIST SHA3-256); 32 bytes."""
    return keccak(data)
