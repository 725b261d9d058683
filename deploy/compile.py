#!/usr/bin/env python3
"""Compile the contracts into their committed artifacts with the pinned solc: ``hefl compile``.

- ``contracts/FLLedger.sol`` (with ``contracts/IFLLedger.sol``) ->
  ``contracts/build/FLLedger.json``;
- ``contracts/PowLedger.sol`` (with ``contracts/IPowLedger.sol``) ->
  ``contracts/build/PowLedger.json`` (the proof-of-work mode).

Takes the same options as ``hefl compile``: ``--contract`` picks one (default: all), ``--check``
compiles without writing and fails if an artifact is stale, ``--frontend``, ``--out``.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import hefl  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "offchain"))

from hefl.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["compile", *sys.argv[1:]]))
