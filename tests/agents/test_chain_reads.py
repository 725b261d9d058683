"""Chain reads scale: an in-process job's contract reads per round grow linearly in N.

Counted through the chain wrapper (:attr:`hefl.chain.Chain.requests`, every JSON-RPC request that
reaches the node), never timed. Each replica reads a round's submissions with one batched call
(``getSubmissions``) and the deployment's constants once, so N replicas cost O(N) reads, not
O(N²) as with one ``getSubmission`` per participant per replica; and the job's agents share one
view cache (:class:`hefl.chain.node.ViewCache`), so a view is read once per block whichever
agent asks — checked here against a second, uncached client reading the same blocks.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from hefl.agents.job import InProcessJob, JobConfig
from hefl.chain import (
    Chain,
    LedgerClient,
    LocalBlobStore,
    RoundStatus,
    connect_embedded,
    deploy_ledger,
)
from hefl.chain.contract import ContractClient
from hefl.control import FixedTauController
from hefl.control.loop import RoundSummary
from hefl.data import SplitConfig
from hefl.learning.strategy import LearningConfig

ROUNDS = 2


def job_config(participants: int) -> JobConfig:
    return JobConfig(
        dataset="diabetes",
        split=SplitConfig(participants=participants, n_samples=None, seed=2),
        learning=LearningConfig(eta=0.1),
        key_bits=512,
        allow_insecure_keys=True,
        workers=1,
    )


def requests_per_round(tmp_path: Path, participants: int) -> Counter[str]:
    """JSON-RPC requests (by method) of a ``ROUNDS``-round job of ``participants``, set-up of
    the job excluded (the deployment's constants are read in the first round)."""
    chain = connect_embedded(num_accounts=participants + 2)
    config = job_config(participants)
    job = InProcessJob(config, chain, LocalBlobStore(tmp_path / f"blobs{participants}"))
    before = Counter(chain.requests)
    result = job.run(FixedTauController(tau=1, rounds=ROUNDS))
    assert [r.status for r in result.rounds] == ["finalised"] * ROUNDS
    spent = Counter(chain.requests)
    spent.subtract(before)
    return Counter({k: v for k, v in spent.items() if v})


@pytest.fixture(scope="module")
def per_round(tmp_path_factory) -> dict[int, Counter[str]]:
    tmp = tmp_path_factory.mktemp("reads")
    return {n: requests_per_round(tmp, n) for n in (2, 4, 8)}


@pytest.fixture(scope="module")
def uncached_per_round(tmp_path_factory) -> dict[int, Counter[str]]:
    """The same jobs with every agent reading the node itself (the view cache never turned on)."""
    tmp = tmp_path_factory.mktemp("uncached")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Chain, "enable_view_cache", lambda self: None)
        return {n: requests_per_round(tmp, n) for n in (4, 8)}


def view_reads(counts: Counter[str]) -> float:
    """Contract views per round: every eth_call but the simulation before each transaction."""
    return (counts["eth_call"] - counts["eth_sendTransaction"]) / ROUNDS


def at_most_linear(counts: dict[int, int]) -> bool:
    """Whether the counts at N = 2, 4, 8 grow no faster than linearly: the step per added
    participant from 4 to 8 is at most the step from 2 to 4 (a term in N² would make it grow;
    replicas that find the round already final skip their check, so it may shrink)."""
    return (counts[8] - counts[4]) / 4 <= (counts[4] - counts[2]) / 2


def test_contract_reads_grow_linearly_in_n(per_round) -> None:
    calls = {n: c["eth_call"] for n, c in per_round.items()}
    assert at_most_linear(calls), calls
    # A handful of reads per participant and round (pending, header rules, its vote's checks);
    # one getSubmission per participant per replica would be N per participant and round.
    assert (calls[4] - calls[2]) / 2 <= 10 * ROUNDS, calls


def test_every_request_grows_linearly_in_n(per_round) -> None:
    total = {n: sum(c.values()) for n, c in per_round.items()}
    assert at_most_linear(total), per_round
    # web3's chain-id checks are answered from memory, and eth-tester's sender lookups avoided.
    assert all(c["eth_chainId"] == 0 and c["eth_accounts"] == 0 for c in per_round.values())


def test_constants_and_decided_rounds_are_read_once_per_deployment() -> None:
    """What the contract never changes again (its immutables, the registry, a decided round) is
    read from the node once and shared by the deployment's clients; a pending round is read
    afresh every time, so an agent always sees its latest state."""
    chain = connect_embedded(6)
    accounts = chain.accounts()
    party = deploy_ledger(chain, accounts[0], accounts[1:4], [1, 2, 3], b"\1" * 32, b"\2" * 32)
    voter = party.as_sender(accounts[1])
    party.open_round(0, 1, b"\3" * 32)
    for i in (1, 2, 3):
        party.as_sender(accounts[i]).submit(0, bytes([i]) * 32)

    def reads(read) -> int:  # type: ignore[no-untyped-def]
        before = chain.requests["eth_call"]
        read()
        return chain.requests["eth_call"] - before

    assert reads(party.participants) == 1
    assert reads(voter.participants) == 0  # shared with the party's client
    assert reads(lambda: voter.quorum() + voter.participant_index(accounts[1])) == 2
    assert reads(lambda: voter.quorum() + voter.participant_index(accounts[1])) == 0
    assert reads(lambda: party.get_round(0)) == 1
    assert reads(lambda: party.get_round(0)) == 1  # Open: read afresh
    party.commit_aggregate(0, b"\4" * 32)
    for i in (1, 2):
        party.as_sender(accounts[i]).attest(0, b"\4" * 32)
    final = voter.get_round(0)
    assert final.status is RoundStatus.FINALISED
    assert reads(lambda: party.get_round(0)) == 0  # decided: never changes again
    fresh = LedgerClient.at(chain, party.address)
    assert fresh.get_round(0) == final


def test_the_shared_view_cache_cuts_the_reads_per_round(per_round, uncached_per_round) -> None:
    """With one cache per block, N agents asking for the same view at the same block cost one
    read: a round's view reads stay within one per block it mines (plus the party's two reads
    before opening and the first voter's header read at the commitment's block, where the
    replicas' checks read the batched view), where uncached each replica reads the round
    several times at its block."""
    cached = {n: view_reads(per_round[n]) for n in (2, 4, 8)}
    uncached = {n: view_reads(uncached_per_round[n]) for n in (4, 8)}
    for n in (4, 8):
        blocks = per_round[n]["eth_sendTransaction"] / ROUNDS
        assert cached[n] <= blocks + 3 < uncached[n], (cached, uncached, blocks)
        # Everything else the agents ask the node is the same with or without the cache.
        others = {k: v for k, v in per_round[n].items() if k != "eth_call"}
        assert others == {k: v for k, v in uncached_per_round[n].items() if k != "eth_call"}
    # Per added participant: at most its two blocks (submission, vote), less than uncached.
    assert (cached[8] - cached[4]) / 4 <= 2 < (uncached[8] - uncached[4]) / 4, (cached, uncached)


def test_cached_reads_are_what_an_uncached_client_reads_at_every_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every view an agent of the job reads, at whatever block, equals the answer of a second,
    uncached connection to the same node asked for the same view at the same block; after
    every round, every field of every round, submission and participant agrees too."""
    chain = connect_embedded(num_accounts=5)
    reference = Chain(Web3(chain.w3.provider), kind="embedded")  # no cache, same node
    checked: list[tuple[int, str]] = []
    real_call = ContractClient._call

    def checked_call(client: ContractClient, fn: str, *args: Any) -> Any:
        answer = real_call(client, fn, *args)
        if client.chain is chain:
            block = chain.view_block()
            assert block is not None and block == reference.block_number
            contract = reference.w3.eth.contract(
                address=client.address, abi=client.artifact.abi_list
            )
            assert answer == contract.functions[fn](*args).call(block_identifier=block), fn
            checked.append((block, fn))
        return answer

    monkeypatch.setattr(ContractClient, "_call", checked_call)
    job = InProcessJob(job_config(3), chain, LocalBlobStore(tmp_path / "blobs"))

    def compare(summary: RoundSummary) -> None:
        mine, fresh = job.ledger, LedgerClient.at(reference, job.ledger.address)
        assert mine.round_count() == fresh.round_count() == summary.round + 1
        for g in range(summary.round + 1):
            assert mine.get_round(g) == fresh.get_round(g)
            assert mine.round_submissions(g) == fresh.round_submissions(g)
        assert mine.participants() == fresh.participants()
        assert (mine.quorum(), mine.config_hash()) == (fresh.quorum(), fresh.config_hash())

    result = job.run(FixedTauController(tau=1, rounds=ROUNDS), compare)
    assert [r.status for r in result.rounds] == ["finalised"] * ROUNDS
    assert chain.views.hits > 0 and len({block for block, _ in checked}) > 2 * ROUNDS
