"""The Byzantine quorum rule q = ⌈(n + F + 1)/2⌉, F = ⌊(n − 1)/3⌋, n = N + 1, for N = 2…10."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
from chain_helpers import Deployer, h, open_and_fill

from hefl.chain import RoundStatus, fault_tolerance_for, quorum_for

PARTICIPANTS = range(2, 11)


def reference_quorum(n_participants: int) -> tuple[int, int]:
    """(F, q) straight from the definitions, with floats and math.ceil as an independent check."""
    n = n_participants + 1
    f = math.floor((n - 1) / 3)
    return f, math.ceil((n + f + 1) / 2)


@pytest.mark.parametrize("n_participants", PARTICIPANTS)
def test_python_formula(n_participants: int) -> None:
    f, q = reference_quorum(n_participants)
    assert (fault_tolerance_for(n_participants), quorum_for(n_participants)) == (f, q)
    n = n_participants + 1
    # Any two quorums intersect in more than F nodes, so in at least one honest node.
    assert 2 * q - n >= f + 1
    # With F faulty nodes silent, the honest ones still reach the quorum.
    assert n - f >= q


def test_known_values() -> None:
    # n = 3F + 1 gives q = 2F + 1.
    assert [quorum_for(n - 1) for n in (4, 7, 10)] == [3, 5, 7]


@pytest.mark.parametrize("n_participants", PARTICIPANTS)
def test_contract_views(deploy: Deployer, n_participants: int) -> None:
    ledger = deploy(n_participants)
    f, q = reference_quorum(n_participants)
    assert ledger.participant_count() == n_participants
    assert ledger.consensus_nodes() == n_participants + 1
    assert ledger.fault_tolerance() == f
    assert ledger.quorum() == q


@pytest.mark.parametrize("n_participants", [2, 4, 6, 10])
def test_finalises_exactly_at_quorum(
    deploy: Deployer, accounts: Sequence[str], n_participants: int
) -> None:
    _, q = reference_quorum(n_participants)
    ledger = deploy(n_participants)
    open_and_fill(ledger, accounts, n_participants)
    ledger.commit_aggregate(0, h("agg"))
    # The commit is the party's vote: q − 2 attestations give q − 1 votes, still not final.
    for i in range(1, q - 1):
        ledger.as_sender(accounts[i]).attest(0, h("agg"))
    record = ledger.get_round(0)
    assert (record.votes, record.status) == (q - 1, RoundStatus.AGGREGATED)
    last = ledger.as_sender(accounts[q - 1]).attest(0, h("agg"))
    assert "RoundFinalised" in last.event_names()
    record = ledger.get_round(0)
    assert (record.votes, record.status) == (q, RoundStatus.FINALISED)


@pytest.mark.parametrize("n_participants", [2, 4, 10])
def test_disputed_exactly_when_quorum_unreachable(
    deploy: Deployer, accounts: Sequence[str], n_participants: int
) -> None:
    _, q = reference_quorum(n_participants)
    n = n_participants + 1
    ledger = deploy(n_participants)
    open_and_fill(ledger, accounts, n_participants)
    ledger.commit_aggregate(0, h("agg"))
    for i in range(1, n - q + 1):  # n − q disputes: the quorum is still reachable
        ledger.as_sender(accounts[i]).dispute(0, h("other"))
    assert ledger.get_round(0).status is RoundStatus.AGGREGATED
    last = ledger.as_sender(accounts[n - q + 1]).dispute(0, h("other"))
    assert last.event_names() == ("DisputeRaised", "RoundDisputed")
    record = ledger.get_round(0)
    assert (record.dispute_count, record.status) == (n - q + 1, RoundStatus.DISPUTED)
    # The remaining participants could no longer bring the votes to q.
    assert record.votes + (n_participants - record.dispute_count) < q
