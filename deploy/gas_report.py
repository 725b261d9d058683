#!/usr/bin/env python3
"""Print the gas of every FLLedger transaction on the embedded chain as a Markdown table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import hefl  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "offchain"))

from hefl.chain.gas import gas_table, measure_ledger_gas

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=5, help="N (default 5)")
    args = parser.parse_args()
    print(gas_table(measure_ledger_gas(participants=args.participants)))
