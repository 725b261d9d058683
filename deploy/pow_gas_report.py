#!/usr/bin/env python3
"""Print the gas of every PowLedger transaction on the embedded chain as a Markdown table."""

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
from hefl.chain.gas import FRESH_SLOT_GAS, TX_BASE_GAS, GasRow, gas_table
from hefl.chain.pow_ledger import deploy_pow_ledger
from hefl.pow.miner import search
from hefl.pow.puzzle import PuzzleHeader, difficulty_to_target


def measure(owners: int, aggregators: int) -> tuple[GasRow, ...]:
    """The gas rows, measured on a fresh embedded chain."""
    chain = connect_embedded(2 + owners + aggregators)
    accounts = chain.accounts()
    owner_accounts = accounts[1 : 1 + owners]
    agg_accounts = accounts[1 + owners : 1 + owners + aggregators]
    ledger = deploy_pow_ledger(
        chain,
        accounts[0],
        owner_accounts,
        agg_accounts,
        keccak256(b"w0"),
        keccak256(b"config"),
        initial_target=difficulty_to_target(16),
        target_block_time=1,
        retarget_interval=2,
    )
    assert ledger.deploy_result is not None
    rows = [
        GasRow(
            f"deploy ({owners} owners, {aggregators} aggregators)", ledger.deploy_result.gas_used
        )
    ]
    for t in (1, 2):
        gas = [
            ledger.as_sender(o).submit_gradient(t, keccak256(f"g{t}{i}".encode())).gas_used
            for i, o in enumerate(owner_accounts)
        ]
        previous = ledger.head_model_hash()
        new = keccak256(f"w{t}".encode())
        header = PuzzleHeader(chain.chain_id, ledger.address, t, previous, new, agg_accounts[0])
        nonce, _ = search(header.prefix, ledger.current_target(), 0, 1, 1 << 20)
        assert nonce is not None
        block = ledger.as_sender(agg_accounts[0]).submit_block(t, previous, new, nonce).gas_used
        if t == 1:
            rows.append(GasRow("submitGradient", max(gas), TX_BASE_GAS + FRESH_SLOT_GAS))
            rows.append(GasRow("submitBlock", block, TX_BASE_GAS + 3 * FRESH_SLOT_GAS))
        else:
            rows.append(
                GasRow("submitBlock (with a retarget)", block, TX_BASE_GAS + 3 * FRESH_SLOT_GAS)
            )
    return tuple(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--owners", type=int, default=2)
    parser.add_argument("--aggregators", type=int, default=2)
    args = parser.parse_args()
    print(gas_table(measure(args.owners, args.aggregators)))
