"""Helpers shared by the pow-race tests (imported as a plain module: tests/pow is on sys.path)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth_utils import keccak

from contract_testing import expect_revert as expect_revert
from contract_testing import h as h
from hefl.chain.pow_ledger import PowLedgerClient
from hefl.pow.puzzle import PuzzleHeader, meets_target

GENESIS_HASH = keccak(b"test genesis model w0")
CONFIG_HASH = keccak(b"test pow-race configuration")

#: deploy(difficulty=16, target=None, block_time=0, interval=0) -> PowLedgerClient
PowDeployer = Callable[..., PowLedgerClient]


def header(
    ledger: PowLedgerClient, aggregator: str, round: int, previous: bytes, new: bytes
) -> PuzzleHeader:
    return PuzzleHeader(
        chain_id=ledger.chain.chain_id,
        contract=ledger.address,
        round=round,
        previous_model_hash=previous,
        new_model_hash=new,
        aggregator=aggregator,  # type: ignore[arg-type]
    )


def find_nonce(
    ledger: PowLedgerClient,
    aggregator: str,
    round: int,
    previous: bytes,
    new: bytes,
    *,
    valid: bool = True,
    start: int = 0,
) -> int:
    """The first nonce from ``start`` whose digest is below target (valid=False: is not)."""
    puzzle = header(ledger, aggregator, round, previous, new)
    target = ledger.current_target()
    nonce = start
    while meets_target(puzzle.digest(nonce), target) != valid:
        nonce += 1
    return nonce


def fill_gradients(ledger: PowLedgerClient, owners: list[str], round: int) -> None:
    for i, owner in enumerate(owners):
        ledger.as_sender(owner).submit_gradient(round, h(f"gradient {round} {i}"))


def mine(ledger: PowLedgerClient, aggregator: str, round: int, previous: bytes, new: bytes) -> Any:
    """Find a valid nonce for ``aggregator`` and submit the block."""
    nonce = find_nonce(ledger, aggregator, round, previous, new)
    return ledger.as_sender(aggregator).submit_block(round, previous, new, nonce)


def advance_time(chain: Any, seconds: int) -> None:
    """Move the chain's clock forward: eth-tester's time travel, or Anvil's evm_increaseTime."""
    if chain.kind == "embedded":
        latest = int(chain.w3.eth.get_block("latest")["timestamp"])
        chain.w3.provider.ethereum_tester.time_travel(latest + seconds)
    else:
        chain.w3.provider.make_request("evm_increaseTime", [seconds])
