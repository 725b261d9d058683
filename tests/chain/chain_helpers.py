"""Helpers shared by the ledger tests (imported as a plain module: tests/chain is on sys.path)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from eth_utils import keccak

from hefl.chain import LedgerClient
from hefl.errors import ContractRevertError

PUBLIC_KEY_HASH = keccak(b"test paillier public key")
CONFIG_HASH = keccak(b"test job configuration")

#: deploy(n=5, sizes=None) -> LedgerClient, party = accounts[0], participants = accounts[1..n]
Deployer = Callable[..., LedgerClient]


def h(label: str) -> bytes:
    """A distinct nonzero 32-byte hash for a label."""
    return keccak(text=label)


class expect_revert:
    """Context manager asserting a ContractRevertError with that name and (if given) args."""

    def __init__(self, error_name: str, *error_args: object) -> None:
        self.error_name = error_name
        self.error_args = error_args

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, value: Any, tb: Any) -> bool:
        assert kind is not None, f"expected {self.error_name} but nothing reverted"
        assert isinstance(value, ContractRevertError), f"not a revert: {value!r}"
        assert value.error_name == self.error_name, str(value)
        if self.error_args:
            assert value.error_args == self.error_args, str(value)
        return True


def open_and_fill(ledger: LedgerClient, accounts: Sequence[str], n: int, g: int = 0) -> None:
    """Open round g (if not yet open) and have participants 1..n submit."""
    if ledger.round_count() <= g:
        ledger.open_round(g * 10, 10, h(f"global {g}"))
    for i in range(1, n + 1):
        ledger.as_sender(accounts[i]).submit(g, h(f"model {g} {i}"), h(f"extra {g} {i}"))
