"""Helpers shared by the ledger tests (imported as a plain module: tests/chain is on sys.path)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from eth_utils import keccak

from contract_testing import expect_revert as expect_revert
from contract_testing import h as h
from hefl.chain import LedgerClient

PUBLIC_KEY_HASH = keccak(b"test paillier public key")
CONFIG_HASH = keccak(b"test job configuration")

#: deploy(n=5, sizes=None) -> LedgerClient, party = accounts[0], participants = accounts[1..n]
Deployer = Callable[..., LedgerClient]


def open_and_fill(ledger: LedgerClient, accounts: Sequence[str], n: int, g: int = 0) -> None:
    """Open round g (if not yet open) and have participants 1..n submit."""
    if ledger.round_count() <= g:
        ledger.open_round(g * 10, 10, h(f"global {g}"))
    for i in range(1, n + 1):
        ledger.as_sender(accounts[i]).submit(g, h(f"model {g} {i}"), h(f"extra {g} {i}"))
