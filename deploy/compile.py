#!/usr/bin/env python3
"""Compile contracts/FLLedger.sol into contracts/build/FLLedger.json (same as ``hefl compile``)."""

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
