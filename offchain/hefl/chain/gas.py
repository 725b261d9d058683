"""Gas of every ledger transaction, measured on a chain (``python deploy/gas_report.py``).

The reference for ``submit`` is the bare minimum for what it must store: the 21 000 base cost of a
transaction plus 22 100 per fresh storage slot (20 000 to set a zero slot, 2 100 for its first,
cold access, EIP-2929). A submission with a second blob writes two fresh slots (the two hashes);
without one it writes one. Calldata, the event and the bookkeeping come on top.
"""

from __future__ import annotations

from dataclasses import dataclass

from hefl.canonical import keccak256
from hefl.chain.fl_ledger import deploy_ledger
from hefl.chain.node import Chain, connect_embedded

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
