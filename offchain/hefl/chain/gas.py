"""Gas of every ledger transaction, measured on a chain (``python deploy/gas_report.py``).

The reference for ``submit`` is the bare minimum for what it must store: the 21 000 base cost of a
transaction plus 22 100 per fresh storage slot (20 000 to set a zero slot, 2 100 for its first,
cold access, EIP-2929). A submission with a second blob writes two fresh slots (the two hashes);
without one it writes one. Calldata, the event and the bookkeeping come on top.

:func:`transactions_gas` reads what a stretch of blocks cost from the receipts, by the contract
function each transaction called (its 4-byte selector, keccak256 of the signature): what
``hefl bench round`` reports per round of a job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hefl.canonical import keccak256
from hefl.chain.fl_ledger import deploy_ledger
from hefl.chain.node import Chain, connect_embedded
from hefl.chain.revert import abi_signature
from hefl.chain.signing import hex_bytes
from hefl.errors import ChainError

TX_BASE_GAS = 21_000
FRESH_SLOT_GAS = 22_100
#: The issue's target: a submission within 1.3× its bare minimum.
SUBMIT_TARGET_RATIO = 1.3


def _h(label: str) -> bytes:
    return keccak256(label.encode())


@dataclass(frozen=True)
class GasRow:
    operation: str
    gas: int
    minimum: int | None = None

    @property
    def ratio(self) -> float | None:
        return self.gas / self.minimum if self.minimum else None


@dataclass(frozen=True)
class TxGas:
    """One mined transaction: its block, the function it called and the gas its receipt says.

    ``function`` is the ABI name of the called function, ``"deploy"`` for a contract creation,
    ``"transfer"`` for a call without data (e.g. funding an account) and ``"unknown"`` for a
    selector the ABI does not name."""

    block: int
    function: str
    gas: int


def function_selectors(abi: Iterable[Mapping[str, Any]]) -> dict[bytes, str]:
    """The 4-byte selector (first bytes of keccak256 of ``name(types)``) of every function."""
    return {
        keccak256(abi_signature(e).encode())[:4]: str(e["name"])
        for e in abi
        if e.get("type") == "function"
    }


def transactions_gas(
    chain: Chain, first_block: int, last_block: int, abi: Sequence[Mapping[str, Any]]
) -> tuple[TxGas, ...]:
    """Every transaction mined in blocks ``first_block`` … ``last_block`` (inclusive), in order,
    named by the function of ``abi`` it called, with the gas used from its receipt."""
    selectors = function_selectors(abi)
    rows: list[TxGas] = []
    for number in range(first_block, last_block + 1):
        block = chain.block(number, full_transactions=True)
        for tx in block["transactions"]:
            receipt = chain.receipt(tx["hash"])
            if receipt is None:
                raise ChainError(f"transaction {tx['hash']} of block {number} has no receipt")
            # a node names the calldata "input"; eth-tester's blocks name it "data"
            data = hex_bytes(tx.get("input") or tx.get("data") or b"")
            if tx.get("to") is None:
                name = "deploy"
            elif len(data) < 4:
                name = "transfer"
            else:
                name = selectors.get(data[:4], "unknown")
            rows.append(TxGas(block=number, function=name, gas=int(receipt["gasUsed"])))
    return tuple(rows)


def gas_by_function(rows: Iterable[TxGas]) -> dict[str, int]:
    """Total gas per function name (in the order the functions first appear)."""
    total: Counter[str] = Counter()
    for row in rows:
        total[row.function] += row.gas
    return dict(total)


def measure_ledger_gas(chain: Chain | None = None, participants: int = 5) -> tuple[GasRow, ...]:
    """Deploy a ledger with ``participants`` participants and run one round of every operation."""
    chain = chain or connect_embedded(num_accounts=participants + 1)
    accounts = chain.accounts_for(participants + 1)
    party, members = accounts[0], accounts[1:]
    ledger = deploy_ledger(
        chain, party, members, [81] * participants, _h("public key"), _h("configuration")
    )
    assert ledger.deploy_result is not None
    rows = [GasRow(f"deploy (N = {participants})", ledger.deploy_result.gas_used)]
    rows.append(GasRow("openRound (round 0)", ledger.open_round(0, 10, _h("w0")).gas_used))
    first = ledger.as_sender(members[0]).submit(0, _h("m0"), _h("x0"))
    rows.append(
        GasRow("submit (model + extra hash)", first.gas_used, TX_BASE_GAS + 2 * FRESH_SLOT_GAS)
    )
    only = ledger.as_sender(members[1]).submit(0, _h("m1"))
    rows.append(GasRow("submit (model hash only)", only.gas_used, TX_BASE_GAS + FRESH_SLOT_GAS))
    for i, member in enumerate(members[2:], start=2):
        ledger.as_sender(member).submit(0, _h(f"m{i}"), _h(f"x{i}"))
    rows.append(GasRow("commitAggregate", ledger.commit_aggregate(0, _h("agg")).gas_used))
    quorum = ledger.quorum()
    voters = [ledger.as_sender(m) for m in members]
    rows.append(GasRow("attest", voters[0].attest(0, _h("agg")).gas_used))
    for voter in voters[1 : quorum - 2]:
        voter.attest(0, _h("agg"))
    rows.append(
        GasRow("attest (reaching the quorum)", voters[quorum - 2].attest(0, _h("agg")).gas_used)
    )
    # Disputes: a second round whose commitment the replicas reject.
    later = ledger.open_round(10, 10, _h("w1"))
    rows.insert(2, GasRow("openRound (later rounds)", later.gas_used))
    for i, member in enumerate(members):
        ledger.as_sender(member).submit(1, _h(f"m1{i}"), _h(f"x1{i}"))
    ledger.commit_aggregate(1, _h("bad"))
    rows.append(GasRow("dispute", voters[0].dispute(1, _h("good")).gas_used))
    limit = participants + 1 - quorum
    for voter in voters[1:limit]:
        voter.dispute(1, _h("good"))
    rows.append(
        GasRow("dispute (quorum unreachable)", voters[limit].dispute(1, _h("good")).gas_used)
    )
    return tuple(rows)


def gas_table(rows: tuple[GasRow, ...]) -> str:
    """A Markdown table of the rows."""
    lines = ["| operation | gas | bare minimum | ratio |", "|---|---:|---:|---:|"]
    for row in rows:
        minimum = f"{row.minimum:,}" if row.minimum else ""
        ratio = f"{row.ratio:.2f}×" if row.ratio else ""
        lines.append(f"| {row.operation} | {row.gas:,} | {minimum} | {ratio} |")
    return "\n".join(lines)
