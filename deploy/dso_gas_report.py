#!/usr/bin/env python3
"""Print the gas of every DsoLedger transaction on the embedded chain as a Markdown table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import hefl  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "offchain"))

from hefl.canonical import keccak256
from hefl.chain import connect_embedded
from hefl.chain.dso_ledger import deploy_dso_ledger
from hefl.chain.gas import FRESH_SLOT_GAS, TX_BASE_GAS, GasRow, gas_table


def measure(agents: int) -> tuple[GasRow, ...]:
    """The gas rows, measured on a fresh embedded chain."""
    chain = connect_embedded(1 + agents)
    accounts = chain.accounts_for(1 + agents)
    ledger = deploy_dso_ledger(
        chain,
        accounts[0],
        accounts[1:],
        [keccak256(f"key {i}".encode()) for i in range(agents)],
        keccak256(b"config"),
        100,
        10,
    )
    assert ledger.deploy_result is not None
    gas = [
        ledger.as_sender(a).commit_checkpoint(1, keccak256(b"t%d" % i), keccak256(b"s%d" % i))
        for i, a in enumerate(accounts[1:])
    ]
    # Two fresh slots (transcript and state hash); the first agent also creates the counter.
    floor = TX_BASE_GAS + 2 * FRESH_SLOT_GAS
    return (
        GasRow(f"deploy ({agents} agents)", ledger.deploy_result.gas_used),
        GasRow("commitCheckpoint (first of a checkpoint)", gas[0].gas_used, floor + FRESH_SLOT_GAS),
        GasRow("commitCheckpoint", gas[1].gas_used, floor),
        GasRow("commitCheckpoint (completing it)", gas[-1].gas_used, floor),
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=5)
    args = parser.parse_args()
    print(gas_table(measure(args.agents)))
