"""A full three-round history written by the party and participants, read back independently."""

from __future__ import annotations

from collections.abc import Sequence

from chain_helpers import Deployer, h

from hefl.chain import Chain, LedgerClient, RoundStatus, connect_rpc
from hefl.cli.history import history_rows, render_table


def write_history(ledger: LedgerClient, accounts: Sequence[str]) -> dict[str, int]:
    """Round 0 finalised (all submit); round 1 disputed; round 2 redone, participant 3 absent."""
    p = {i: ledger.as_sender(accounts[i]) for i in range(1, 5)}
    blocks: dict[str, int] = {}
    # Round 0: t = 0, τ = 10, everyone submits, three attest (q = 4 with n = 5 → finalised).
    ledger.open_round(0, 10, h("w(0)"))
    for i in range(1, 5):
        p[i].submit(0, h(f"w_{i}(10)"), h(f"grad_{i}(10)"))
    ledger.commit_aggregate(0, h("w(10)"))
    for i in (1, 2):
        p[i].attest(0, h("w(10)"))
    blocks["final0"] = p[4].attest(0, h("w(10)")).block_number
    # Round 1: t = 10, τ = 20, the party commits a wrong aggregate; two disputes (> n − q = 1).
    ledger.open_round(10, 20, h("w(10)"))
    for i in (1, 2, 4):
        p[i].submit(1, h(f"w_{i}(30)"))
    ledger.commit_aggregate(1, h("w(30) wrong"))
    p[1].dispute(1, h("w(30)"))
    blocks["disputed1"] = p[2].dispute(1, h("w(30)")).block_number
    # Round 2: the round is redone from t = 10; participant 3 misses it.
    ledger.open_round(10, 20, h("w(10)"))
    for i in (1, 2, 4):
        p[i].submit(2, h(f"w_{i}(30)"), h(f"grad_{i}(30)"))
    ledger.commit_aggregate(2, h("w(30)"))
    p[4].attest(2, h("w(30)"))
    p[3].attest(2, h("w(30)"))  # absent from the aggregate, but still a replica
    blocks["final2"] = p[2].attest(2, h("w(30)")).block_number
    return blocks


def check_history(
    reader: LedgerClient, accounts: Sequence[str], blocks: dict[str, int], deployed: int
) -> None:
    assert reader.round_count() == 3
    r0, r1, r2 = reader.history()
    assert (r0.round, r0.iteration, r0.tau, r0.status) == (0, 0, 10, RoundStatus.FINALISED)
    assert (r0.global_model_hash, r0.aggregate_hash) == (h("w(0)"), h("w(10)"))
    assert (r0.included_indices, r0.attested_indices, r0.votes) == ((0, 1, 2, 3), (0, 1, 3), 4)
    assert r0.closed_block == blocks["final0"]
    assert (r1.iteration, r1.tau, r1.status) == (10, 20, RoundStatus.DISPUTED)
    assert (r1.included_indices, r1.disputed_indices, r1.dispute_count) == ((0, 1, 3), (0, 1), 2)
    assert r1.aggregate_hash == h("w(30) wrong")
    assert r1.closed_block == blocks["disputed1"]
    assert (r2.iteration, r2.status, r2.included_indices) == (10, RoundStatus.FINALISED, (0, 1, 3))
    assert (r2.attested_indices, r2.votes) == ((1, 2, 3), 4)
    assert r0.opened_block < r0.aggregated_block <= r0.closed_block < r1.opened_block
    # Submissions, per participant and round.
    s = reader.get_submission(0, accounts[3])
    assert (s.model_hash, s.extra_hash) == (h("w_3(10)"), h("grad_3(10)"))
    assert not reader.get_submission(1, accounts[3]).submitted
    assert not reader.get_submission(1, accounts[1]).has_extra
    assert [x.submitted for x in reader.submissions(2)] == [True, True, False, True]
    # Paging.
    assert reader.history(1, 3) == (r1, r2)
    # The event log tells the same story.
    names = [e.name for e in reader.events(from_block=deployed)]
    assert names.count("RoundOpened") == 3
    assert names.count("RoundFinalised") == 2 and names.count("RoundDisputed") == 1
    assert [e.args["round"] for e in reader.events("AggregateCommitted", from_block=deployed)] == [
        0,
        1,
        2,
    ]


def test_three_round_history_read_back(
    chain: Chain, deploy: Deployer, accounts: Sequence[str]
) -> None:
    ledger = deploy(4, sizes=[81, 81, 81, 80])  # n = 5, F = 1, q = 4
    blocks = write_history(ledger, accounts)
    assert ledger.deploy_result is not None
    deployed = ledger.deploy_result.block_number
    # An independent client with no sender, attached by address only.
    reader = LedgerClient.at(chain, ledger.address)
    check_history(reader, accounts, blocks, deployed)
    if chain.url is not None:  # and over a second, separate JSON-RPC connection
        check_history(
            LedgerClient.at(connect_rpc(chain.url), ledger.address), accounts, blocks, deployed
        )
    # The CLI's table shows every round.
    table = render_table(history_rows(reader.history(), reader.quorum()))
    lines = table.splitlines()
    assert len(lines) == 4
    assert lines[1].split()[:6] == ["0", "0", "10", "finalised", "0,1,2,3", "4/4"]
    assert lines[2].split()[:7] == ["1", "10", "20", "disputed", "0,1,3", "1/4", "2"]
