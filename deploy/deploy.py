#!/usr/bin/env python3
"""Deploy FLLedger to the embedded chain or ``--rpc URL`` (same as ``hefl deploy``)."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import hefl  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "offchain"))

from hefl.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["deploy", *sys.argv[1:]]))
