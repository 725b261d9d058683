"""FLLedger: every function's success path and every custom error, events checked with arguments.

The module is the contract's specification: once it has run, every custom error of the ABI has
been triggered with its arguments asserted (the list is what the tests did, recorded by
``expect_revert``), and every transaction emits an event. Runs once on the embedded chain
(eth-tester/py-evm) and once on a real Anvil node.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from chain_helpers import (
    CONFIG_HASH,
    PUBLIC_KEY_HASH,
    Deployer,
    expect_revert,
    h,
    open_and_fill,
)
from eth_utils import keccak

from contract_testing import error_coverage
from hefl.chain import (
    ZERO_HASH,
    Chain,
    HashField,
    LedgerClient,
    RoundStatus,
    deploy_ledger,
    load_artifact,
)
from hefl.chain.fl_ledger import _ENUMS
from hefl.chain.revert import RevertDecoder
from hefl.errors import ChainError, ContractRevertError

#: Once this module has run, every custom error of the ABI was triggered by a test above, with its
#: arguments asserted (recorded by expect_revert; see contract_testing.error_coverage).
error_coverage_check = error_coverage("FLLedger", load_artifact)


def raw_deploy(
    chain: Chain,
    party: str,
    participants: Sequence[str],
    sizes: Sequence[int],
    pk_hash: bytes = PUBLIC_KEY_HASH,
    cfg_hash: bytes = CONFIG_HASH,
) -> None:
    """Send the constructor with arguments the Python client would refuse to encode itself."""
    artifact = load_artifact()
    factory = chain.w3.eth.contract(abi=artifact.abi_list, bytecode=artifact.bytecode)
    data = factory.constructor(
        list(participants), list(sizes), pk_hash, cfg_hash, 600, False
    ).data_in_transaction
    decoder = RevertDecoder(artifact.abi, contract="FLLedger", enums=_ENUMS)
    chain.transact({"from": party, "data": data}, on_revert=decoder.from_exception)


def test_every_state_change_has_an_event(deploy: Deployer, accounts: Sequence[str]) -> None:
    abi = load_artifact().abi
    events = {e["name"] for e in abi if e["type"] == "event"}
    assert events == {
        "LedgerCreated",
        "ParticipantRegistered",
        "RoundOpened",
        "Submitted",
        "AggregateCommitted",
        "Attested",
        "DisputeRaised",
        "RoundFinalised",
        "RoundDisputed",
        "RoundVoided",
        "JobRules",
    }
    # Every transaction of the ABI, run to each of its outcomes, emits an event; together they
    # emit them all.
    transactions = {
        e["name"] for e in abi if e["type"] == "function" and e["stateMutability"] != "view"
    }
    ledger = deploy(3)  # n = 4, q = 3: two attestations finalise, two disputes decide
    assert ledger.deploy_result is not None
    results = {
        "constructor": [ledger.deploy_result],
        "openRound": [ledger.open_round(0, 10, h("w0"))],
        "submit": [ledger.as_sender(accounts[i]).submit(0, h(f"m{i}")) for i in (1, 2, 3)],
        "commitAggregate": [ledger.commit_aggregate(0, h("agg"))],
        "attest": [ledger.as_sender(accounts[i]).attest(0, h("agg")) for i in (1, 2)],
    }
    results["openRound"].append(ledger.open_round(10, 10, h("w1")))
    results["submit"].append(ledger.as_sender(accounts[1]).submit(1, h("m")))
    results["commitAggregate"].append(ledger.commit_aggregate(1, h("bad")))
    results["dispute"] = [ledger.as_sender(accounts[i]).dispute(1, h("good")) for i in (2, 3)]
    results["openRound"].append(ledger.open_round(10, 10, h("w1")))
    results["voidRound"] = [ledger.void_round(2)]  # no deadline: the party may void at once
    results["openRound"].append(ledger.open_round(10, 10, h("w1")))
    results["submitBlobs"] = [ledger.as_sender(accounts[1]).submit_blobs(3, b"model", b"")]
    results["commitAggregateBlob"] = [ledger.commit_aggregate_blob(3, b"aggregate", [0])]
    assert set(results) == transactions | {"constructor"}
    for name, outcomes in results.items():
        for result in outcomes:
            assert result.events, f"{name} changed the state without an event"
    emitted = {
        event for outcomes in results.values() for r in outcomes for event in r.event_names()
    }
    assert emitted == events


# --- constructor ---------------------------------------------------------------------------------
def test_deploy_registers_job_and_participants(deploy: Deployer, accounts: Sequence[str]) -> None:
    ledger = deploy(3, sizes=[81, 81, 80])
    result = ledger.deploy_result
    assert result is not None
    assert result.event_names() == ("ParticipantRegistered",) * 3 + ("LedgerCreated", "JobRules")
    for i, event in enumerate(result.events[:3]):
        assert dict(event.args) == {
            "participant": accounts[i + 1],
            "index": i,
            "dataSize": [81, 81, 80][i],
        }
    assert dict(result.event("LedgerCreated").args) == {
        "party": accounts[0],
        "publicKeyHash": PUBLIC_KEY_HASH,
        "configHash": CONFIG_HASH,
        "participantCount": 3,
        "totalDataSize": 242,
    }
    assert dict(result.event("JobRules").args) == {"voidTimeout": 600, "blobsOnChain": False}
    assert (ledger.void_timeout(), ledger.blobs_on_chain()) == (600, False)
    assert ledger.party() == accounts[0]
    assert ledger.public_key_hash() == PUBLIC_KEY_HASH
    assert ledger.config_hash() == CONFIG_HASH
    assert ledger.total_data_size() == 242
    assert ledger.participant_count() == 3
    assert ledger.consensus_nodes() == 4
    assert ledger.max_participants() == 64
    assert [(p.index, p.address, p.data_size) for p in ledger.participants()] == [
        (0, accounts[1], 81),
        (1, accounts[2], 81),
        (2, accounts[3], 80),
    ]
    assert ledger.participant_index(accounts[3]) == 2
    assert ledger.round_count() == 0
    assert ledger.history() == ()


def test_at_attaches_and_checks_code(chain: Chain, deploy: Deployer) -> None:
    ledger = deploy(2)
    again = LedgerClient.at(chain, ledger.address)
    assert again.participants() == ledger.participants()
    with pytest.raises(ChainError, match="no contract"):
        LedgerClient.at(chain, "0x" + "11" * 20)


def test_deploy_rejects_no_participants(chain: Chain, accounts: Sequence[str]) -> None:
    with expect_revert("NoParticipants"):
        deploy_ledger(chain, accounts[0], [], [], PUBLIC_KEY_HASH, CONFIG_HASH)


def test_deploy_rejects_too_many_participants(chain: Chain, accounts: Sequence[str]) -> None:
    many = ["0x" + keccak(text=f"p{i}")[:20].hex() for i in range(65)]
    with expect_revert("TooManyParticipants", 65, 64):
        deploy_ledger(chain, accounts[0], many, [1] * 65, PUBLIC_KEY_HASH, CONFIG_HASH)


def test_deploy_rejects_length_mismatch(chain: Chain, accounts: Sequence[str]) -> None:
    with expect_revert("LengthMismatch", 2, 1):
        raw_deploy(chain, accounts[0], accounts[1:3], [5])


def test_deploy_rejects_zero_address(chain: Chain, accounts: Sequence[str]) -> None:
    with expect_revert("ZeroAddress", 1):
        raw_deploy(chain, accounts[0], [accounts[1], "0x" + "00" * 20], [5, 5])


def test_deploy_rejects_duplicates(chain: Chain, accounts: Sequence[str]) -> None:
    with expect_revert("DuplicateParticipant", accounts[1]):
        raw_deploy(chain, accounts[0], [accounts[1], accounts[2], accounts[1]], [5, 5, 5])


def test_deploy_rejects_party_as_participant(chain: Chain, accounts: Sequence[str]) -> None:
    with expect_revert("PartyIsParticipant", accounts[0]):
        raw_deploy(chain, accounts[0], [accounts[1], accounts[0]], [5, 5])


def test_deploy_rejects_zero_size(chain: Chain, accounts: Sequence[str]) -> None:
    with expect_revert("ZeroDataSize", accounts[2]):
        raw_deploy(chain, accounts[0], accounts[1:3], [5, 0])


@pytest.mark.parametrize(
    ("pk", "cfg", "field"),
    [
        (ZERO_HASH, CONFIG_HASH, HashField.PUBLIC_KEY),
        (PUBLIC_KEY_HASH, ZERO_HASH, HashField.CONFIG),
    ],
)
def test_deploy_rejects_zero_hashes(
    chain: Chain, accounts: Sequence[str], pk: bytes, cfg: bytes, field: HashField
) -> None:
    with expect_revert("ZeroHash", field):
        deploy_ledger(chain, accounts[0], accounts[1:3], [5, 5], pk, cfg)


# --- openRound -----------------------------------------------------------------------------------
def test_open_round(deploy: Deployer, accounts: Sequence[str]) -> None:
    ledger = deploy(3)
    result = ledger.open_round(0, 10, h("w0"))
    assert result.event_names() == ("RoundOpened",)
    assert dict(result.event("RoundOpened").args) == {
        "round": 0,
        "iteration": 0,
        "tau": 10,
        "globalModelHash": h("w0"),
        "deadline": 0,
    }
    assert ledger.round_count() == 1
    record = ledger.get_round(0)
    assert record.status is RoundStatus.OPEN
    assert (record.iteration, record.tau, record.global_model_hash) == (0, 10, h("w0"))
    assert record.aggregate_hash == ZERO_HASH
    assert (record.submission_count, record.included, record.votes) == (0, 0, 0)
    assert record.opened_block == result.block_number
    assert (record.aggregated_block, record.closed_block) == (0, 0)
    assert record.deadline == 0


def test_open_round_rules(deploy: Deployer, accounts: Sequence[str]) -> None:
    ledger = deploy(3)
    with expect_revert("NotParty", accounts[1]):
        ledger.as_sender(accounts[1]).open_round(0, 10, h("w0"))
    with expect_revert("ZeroTau"):
        ledger.open_round(0, 0, h("w0"))
    with expect_revert("ZeroHash", HashField.GLOBAL_MODEL):
        ledger.open_round(0, 10, ZERO_HASH)
    ledger.open_round(5, 10, h("w0"))
    with expect_revert("PreviousRoundPending", 0, RoundStatus.OPEN):
        ledger.open_round(15, 10, h("w1"))
    open_and_fill(ledger, accounts, 3)
    ledger.commit_aggregate(0, h("agg0"))
    with expect_revert("PreviousRoundPending", 0, RoundStatus.AGGREGATED):
        ledger.open_round(15, 10, h("w1"))
    ledger.as_sender(accounts[1]).attest(0, h("agg0"))
    ledger.as_sender(accounts[2]).attest(0, h("agg0"))
    assert ledger.get_round(0).status is RoundStatus.FINALISED
    with expect_revert("IterationRegressed", 5, 4):
        ledger.open_round(4, 10, h("w1"))
    assert ledger.open_round(15, 10, h("w1")).event("RoundOpened").args["round"] == 1


def test_open_round_after_dispute_may_repeat_iteration(
    deploy: Deployer, accounts: Sequence[str]
) -> None:
    ledger = deploy(3)  # n = 4, q = 3: two disputes make the quorum unreachable
    open_and_fill(ledger, accounts, 3)
    ledger.commit_aggregate(0, h("bad"))
    ledger.as_sender(accounts[1]).dispute(0, h("good"))
    ledger.as_sender(accounts[2]).dispute(0, h("good"))
    assert ledger.get_round(0).status is RoundStatus.DISPUTED
    ledger.open_round(0, 10, h("global 0"))
    assert ledger.get_round(1).iteration == 0


# --- submit --------------------------------------------------------------------------------------
def test_submit(deploy: Deployer, accounts: Sequence[str]) -> None:
    ledger = deploy(3)
    ledger.open_round(0, 10, h("w0"))
    p2 = ledger.as_sender(accounts[2])
    result = p2.submit(0, h("m2"), h("x2"))
    assert dict(result.event("Submitted").args) == {
        "round": 0,
        "participant": accounts[2],
        "modelHash": h("m2"),
        "extraHash": h("x2"),
    }
    result = ledger.as_sender(accounts[3]).submit(0, h("m3"))  # no second blob
    assert result.event("Submitted").args["extraHash"] == ZERO_HASH
    record = ledger.get_round(0)
    assert record.submission_count == 2
    assert record.included == 0b110
    assert record.included_indices == (1, 2)
    sub = ledger.get_submission(0, accounts[2])
    assert (sub.model_hash, sub.extra_hash, sub.submitted, sub.has_extra) == (
        h("m2"),
        h("x2"),
        True,
        True,
    )
    assert ledger.get_submission(0, accounts[3]).has_extra is False
    absent = ledger.get_submission(0, accounts[1])
    assert (absent.submitted, absent.model_hash) == (False, ZERO_HASH)
    assert [s.submitted for s in ledger.submissions(0)] == [False, True, True]


def test_submit_rules(deploy: Deployer, accounts: Sequence[str]) -> None:
    ledger = deploy(3)
    p1 = ledger.as_sender(accounts[1])
    with expect_revert("RoundNotFound", 0):
        p1.submit(0, h("m"))
    ledger.open_round(0, 10, h("w0"))
    with expect_revert("NotParticipant", accounts[0]):
        ledger.submit(0, h("m"))
    with expect_revert("NotParticipant", accounts[9]):
        ledger.as_sender(accounts[9]).submit(0, h("m"))
    with expect_revert("ZeroHash", HashField.MODEL):
        p1.submit(0, ZERO_HASH, h("x"))
    p1.submit(0, h("m1"))
    with expect_revert("AlreadySubmitted", 0, accounts[1]):
        p1.submit(0, h("m1 again"))
    ledger.commit_aggregate(0, h("agg"))
    with expect_revert("RoundNotOpen", 0, RoundStatus.AGGREGATED):
        ledger.as_sender(accounts[2]).submit(0, h("late"))


# --- commitAggregate -----------------------------------------------------------------------------
def test_commit_aggregate(deploy: Deployer, accounts: Sequence[str]) -> None:
    ledger = deploy(4)
    ledger.open_round(0, 10, h("w0"))
    ledger.as_sender(accounts[1]).submit(0, h("m1"))
    ledger.as_sender(accounts[4]).submit(0, h("m4"))
    result = ledger.commit_aggregate(0, h("agg"))
    assert result.event_names() == ("AggregateCommitted",)
    assert dict(result.event("AggregateCommitted").args) == {
        "round": 0,
        "aggregateHash": h("agg"),
        "included": 0b1001,
        "excluded": 0,
        "submissionCount": 2,
    }
    record = ledger.get_round(0)
    assert record.status is RoundStatus.AGGREGATED
    assert record.aggregate_hash == h("agg")
    assert record.included_indices == (0, 3)
    assert record.votes == 1  # the party's commit
    assert record.aggregated_block == result.block_number


def test_commit_aggregate_rules(deploy: Deployer, accounts: Sequence[str]) -> None:
    ledger = deploy(3)
    with expect_revert("RoundNotFound", 0):
        ledger.commit_aggregate(0, h("agg"))
    ledger.open_round(0, 10, h("w0"))
    with expect_revert("NotParty", accounts[1]):
        ledger.as_sender(accounts[1]).commit_aggregate(0, h("agg"))
    with expect_revert("ZeroHash", HashField.AGGREGATE):
        ledger.commit_aggregate(0, ZERO_HASH)
    with expect_revert("NoSubmissions", 0):
        ledger.commit_aggregate(0, h("agg"))
    ledger.as_sender(accounts[1]).submit(0, h("m1"))
    ledger.as_sender(accounts[3]).submit(0, h("m3"))
    # The party's aggregate must cover exactly the submitters (bits 0 and 2 here).
    with expect_revert("IncludedMismatch", 0, 0b101, 0b001):
        ledger.commit_aggregate(0, h("agg"), included=[0])
    with expect_revert("IncludedMismatch", 0, 0b101, 0b111):
        ledger.commit_aggregate(0, h("agg"), included=[0, 1, 2])
    ledger.commit_aggregate(0, h("agg"), included=[0, 2])
    with expect_revert("RoundNotOpen", 0, RoundStatus.AGGREGATED):
        ledger.commit_aggregate(0, h("agg2"))


# --- attest --------------------------------------------------------------------------------------
def test_attest_until_final(deploy: Deployer, accounts: Sequence[str]) -> None:
    ledger = deploy(5)  # n = 6, F = 1, q = 4
    assert ledger.quorum() == 4
    open_and_fill(ledger, accounts, 5)
    ledger.commit_aggregate(0, h("agg"))
    r1 = ledger.as_sender(accounts[1]).attest(0, h("agg"))
    assert r1.event_names() == ("Attested",)
    assert dict(r1.event("Attested").args) == {"round": 0, "participant": accounts[1], "votes": 2}
    ledger.as_sender(accounts[2]).attest(0, h("agg"))
    assert ledger.get_round(0).status is RoundStatus.AGGREGATED
    r3 = ledger.as_sender(accounts[3]).attest(0, h("agg"))
    assert r3.event_names() == ("Attested", "RoundFinalised")
    assert dict(r3.event("RoundFinalised").args) == {
        "round": 0,
        "aggregateHash": h("agg"),
        "votes": 4,
    }
    record = ledger.get_round(0)
    assert record.status is RoundStatus.FINALISED
    assert (record.attest_count, record.votes, record.attested_indices) == (3, 4, (0, 1, 2))
    assert record.closed_block == r3.block_number
    with expect_revert("RoundNotAggregated", 0, RoundStatus.FINALISED):
        ledger.as_sender(accounts[4]).attest(0, h("agg"))


def test_attest_rules(deploy: Deployer, accounts: Sequence[str]) -> None:
    ledger = deploy(3)
    p1 = ledger.as_sender(accounts[1])
    with expect_revert("RoundNotFound", 0):
        p1.attest(0, h("agg"))
    ledger.open_round(0, 10, h("w0"))
    with expect_revert("RoundNotAggregated", 0, RoundStatus.OPEN):
        p1.attest(0, h("agg"))
    p1.submit(0, h("m1"))
    ledger.commit_aggregate(0, h("agg"))
    with expect_revert("NotParticipant", accounts[0]):
        ledger.attest(0, h("agg"))
    with expect_revert("AggregateMismatch", 0, h("agg"), h("other")):
        p1.attest(0, h("other"))
    # A participant that did not submit still votes as a replica.
    ledger.as_sender(accounts[2]).attest(0, h("agg"))
    with expect_revert("AlreadyVoted", 0, accounts[2]):
        ledger.as_sender(accounts[2]).attest(0, h("agg"))
    with expect_revert("AlreadyVoted", 0, accounts[2]):
        ledger.as_sender(accounts[2]).dispute(0, h("other"))


# --- dispute -------------------------------------------------------------------------------------
def test_dispute_recorded_then_round_disputed(deploy: Deployer, accounts: Sequence[str]) -> None:
    ledger = deploy(5)  # n = 6, q = 4: disputed once disputes > n - q = 2
    open_and_fill(ledger, accounts, 5)
    ledger.commit_aggregate(0, h("bad"))
    d1 = ledger.as_sender(accounts[1]).dispute(0, h("good"))
    assert d1.event_names() == ("DisputeRaised",)
    assert dict(d1.event("DisputeRaised").args) == {
        "round": 0,
        "participant": accounts[1],
        "recomputedHash": h("good"),
        "disputes": 1,
    }
    ledger.as_sender(accounts[2]).attest(0, h("bad"))
    ledger.as_sender(accounts[3]).dispute(0, h("good"))
    record = ledger.get_round(0)
    assert (record.status, record.dispute_count, record.disputed_indices) == (
        RoundStatus.AGGREGATED,
        2,
        (0, 2),
    )
    d3 = ledger.as_sender(accounts[4]).dispute(0, h("good"))
    assert d3.event_names() == ("DisputeRaised", "RoundDisputed")
    assert dict(d3.event("RoundDisputed").args) == {"round": 0, "disputes": 3}
    record = ledger.get_round(0)
    assert record.status is RoundStatus.DISPUTED
    assert (record.attest_count, record.dispute_count, record.closed_block) == (
        1,
        3,
        d3.block_number,
    )
    with expect_revert("RoundNotAggregated", 0, RoundStatus.DISPUTED):
        ledger.as_sender(accounts[5]).dispute(0, h("good"))
    events = ledger.events("DisputeRaised")
    assert [e.args["participant"] for e in events] == [accounts[1], accounts[3], accounts[4]]


def test_dispute_rules(deploy: Deployer, accounts: Sequence[str]) -> None:
    ledger = deploy(3)
    p1 = ledger.as_sender(accounts[1])
    with expect_revert("RoundNotFound", 0):
        p1.dispute(0, h("x"))
    ledger.open_round(0, 10, h("w0"))
    with expect_revert("RoundNotAggregated", 0, RoundStatus.OPEN):
        p1.dispute(0, h("x"))
    p1.submit(0, h("m1"))
    ledger.commit_aggregate(0, h("agg"))
    with expect_revert("NotParticipant", accounts[0]):
        ledger.dispute(0, h("x"))
    with expect_revert("ZeroHash", HashField.RECOMPUTED):
        p1.dispute(0, ZERO_HASH)
    with expect_revert("DisputeMatchesCommitment", 0, h("agg")):
        p1.dispute(0, h("agg"))
    p1.dispute(0, h("x"))
    with expect_revert("AlreadyVoted", 0, accounts[1]):
        p1.dispute(0, h("y"))
    with expect_revert("AlreadyVoted", 0, accounts[1]):
        p1.attest(0, h("agg"))


# --- views ---------------------------------------------------------------------------------------
def test_view_errors(deploy: Deployer, accounts: Sequence[str]) -> None:
    ledger = deploy(2)
    with expect_revert("RoundNotFound", 0):
        ledger.get_round(0)
    with expect_revert("RoundNotFound", 3):
        ledger.get_submission(3, accounts[1])
    ledger.open_round(0, 1, h("w0"))
    with expect_revert("NotParticipant", accounts[7]):
        ledger.get_submission(0, accounts[7])
    with expect_revert("NotParticipant", accounts[7]):
        ledger.participant_index(accounts[7])


def test_get_submissions_is_every_get_submission_and_get_round_in_one_call(
    deploy: Deployer, accounts: Sequence[str]
) -> None:
    """The batched view returns, field for field, what getRound and N getSubmission calls return,
    in every state a round goes through (open with some submitters, aggregated, voted, final)
    and for a round nobody submitted to; it changes no state and emits nothing."""
    ledger = deploy(4)
    people = accounts[1:5]

    def same_as_one_by_one(g: int) -> None:
        block = ledger.chain.block_number
        record, submissions = ledger.round_submissions(g)
        assert record == ledger.get_round(g)
        assert ledger.round_status(g) is record.status  # the header alone agrees
        assert submissions == tuple(ledger.get_submission(g, p) for p in people)
        assert ledger.submissions(g) == submissions
        assert [s.participant for s in submissions] == list(people)
        assert ledger.chain.block_number == block  # a view: nothing mined

    ledger.open_round(0, 10, h("w0"))
    same_as_one_by_one(0)
    ledger.as_sender(accounts[2]).submit(0, h("m2"), h("e2"))
    ledger.as_sender(accounts[4]).submit(0, h("m4"))
    same_as_one_by_one(0)
    record, submissions = ledger.round_submissions(0)
    assert record.included_indices == (1, 3)
    assert [s.submitted for s in submissions] == [False, True, False, True]
    assert [s.has_extra for s in submissions] == [False, True, False, False]
    assert submissions[1].model_hash == h("m2") and submissions[3].extra_hash == ZERO_HASH
    ledger.commit_aggregate(0, h("agg"))
    same_as_one_by_one(0)
    for voter in accounts[1:4]:
        ledger.as_sender(voter).attest(0, h("agg"))
    same_as_one_by_one(0)
    assert ledger.round_submissions(0)[0].status is RoundStatus.FINALISED
    ledger.open_round(10, 10, h("w1"))
    same_as_one_by_one(1)
    assert not any(s.submitted for s in ledger.round_submissions(1)[1])
    same_as_one_by_one(0)  # earlier rounds keep their submissions
    with expect_revert("RoundNotFound", 2):
        ledger.round_submissions(2)


def test_revert_message_names_error_and_args(deploy: Deployer, accounts: Sequence[str]) -> None:
    ledger = deploy(2)
    with pytest.raises(ContractRevertError) as info:
        ledger.as_sender(accounts[1]).open_round(0, 1, h("w"))
    assert str(info.value) == f"FLLedger reverted: NotParty(caller={accounts[1]})"
    assert isinstance(info.value, RuntimeError)  # ChainError's built-in base
    ledger.open_round(0, 1, h("w"))
    with pytest.raises(ContractRevertError) as info:
        ledger.open_round(1, 1, h("w"))
    assert "PreviousRoundPending(round=0, status=OPEN)" in str(info.value)


def test_no_transaction_is_sent_on_revert(
    chain: Chain, deploy: Deployer, accounts: Sequence[str]
) -> None:
    ledger = deploy(2)
    before = chain.w3.eth.get_transaction_count(accounts[1])
    with expect_revert("NotParty"):
        ledger.as_sender(accounts[1]).open_round(0, 1, h("w"))
    assert chain.w3.eth.get_transaction_count(accounts[1]) == before


def test_locally_signed_sender(chain: Chain, deploy: Deployer) -> None:
    """A participant whose key hefl holds (as the multi-process mode's keystores do)."""
    party_key = chain.create_account()
    member = chain.create_account()
    assert chain.has_private_key(member)
    ledger = deploy_ledger(chain, party_key, [member], [7], PUBLIC_KEY_HASH, CONFIG_HASH)
    ledger.open_round(0, 1, h("w"))
    ledger.as_sender(member).submit(0, h("m"))
    ledger.commit_aggregate(0, h("agg"))
    result = ledger.as_sender(member).attest(0, h("agg"))  # n = 2, q = 2
    assert result.event_names() == ("Attested", "RoundFinalised")


# --- deadlines -----------------------------------------------------------------------------------
def chain_time(ledger) -> int:
    return int(ledger.chain.w3.eth.get_block("latest")["timestamp"])


def advance_time(ledger, seconds: int) -> None:
    """Move the chain's clock forward (eth-tester: time_travel; a JSON-RPC node: evm_*)."""
    w3 = ledger.chain.w3
    if ledger.chain.kind == "embedded":
        w3.provider.ethereum_tester.time_travel(chain_time(ledger) + seconds)
    else:
        w3.provider.make_request("evm_increaseTime", [seconds])
        w3.provider.make_request("evm_mine", [])


def test_a_deadline_closes_submissions_and_lets_the_party_leave_unusable_ones_out(
    deploy: Deployer, accounts: Sequence[str]
) -> None:
    ledger = deploy(3)
    with expect_revert("DeadlineInPast", chain_time(ledger) - 1, pytest.approx(0, abs=10**12)):
        ledger.open_round(0, 10, h("w0"), deadline=chain_time(ledger) - 1)
    deadline = chain_time(ledger) + 100
    opened = ledger.open_round(0, 10, h("w0"), deadline=deadline)
    assert opened.event("RoundOpened").args["deadline"] == deadline
    assert ledger.get_round(0).deadline == deadline
    ledger.as_sender(accounts[1]).submit(0, h("m1"))
    ledger.as_sender(accounts[2]).submit(0, h("bad"))
    # Before the deadline, with participant 3 still to come, the party must wait.
    with expect_revert("SubmissionsStillOpen", 0, deadline):
        ledger.commit_aggregate(0, h("agg"), included=[0])
    advance_time(ledger, 200)
    with expect_revert("SubmissionClosed", 0, deadline):
        ledger.as_sender(accounts[3]).submit(0, h("m3"))
    # Only a nonempty subset of the submitters may be covered.
    with expect_revert("IncludedMismatch", 0, 0b011, 0):
        ledger.commit_aggregate(0, h("agg"), included=[])
    with expect_revert("IncludedMismatch", 0, 0b011, 0b101):
        ledger.commit_aggregate(0, h("agg"), included=[0, 2])
    result = ledger.commit_aggregate(0, h("agg"), included=[0])
    assert dict(result.event("AggregateCommitted").args) == {
        "round": 0,
        "aggregateHash": h("agg"),
        "included": 0b001,
        "excluded": 0b010,
        "submissionCount": 2,
    }
    record = ledger.get_round(0)
    assert record.included_indices == (0,) and record.submission_count == 2
    # The excluded submission stays on record for the replicas to check.
    assert ledger.get_submission(0, accounts[2]).model_hash == h("bad")


def test_with_a_deadline_the_party_may_commit_early_once_everyone_submitted(
    deploy: Deployer, accounts: Sequence[str]
) -> None:
    ledger = deploy(2)
    ledger.open_round(0, 10, h("w0"), deadline=chain_time(ledger) + 1000)
    for i in (1, 2):
        ledger.as_sender(accounts[i]).submit(0, h(f"m{i}"))
    ledger.commit_aggregate(0, h("agg"), included=[0, 1])
    assert ledger.get_round(0).status is RoundStatus.AGGREGATED


# --- blobs on chain ------------------------------------------------------------------------------
def test_blobs_in_calldata_are_hashed_by_the_contract(
    chain: Chain, accounts: Sequence[str]
) -> None:
    """In a job with blobsOnChain the bytes travel in calldata; the contract records their
    keccak256, so every recorded hash has its bytes in a transaction on chain."""
    ledger = deploy_ledger(
        chain, accounts[0], accounts[1:3], [5, 7], PUBLIC_KEY_HASH, CONFIG_HASH,
        void_timeout_s=30, blobs_on_chain=True,
    )  # fmt: skip
    assert ledger.blobs_on_chain() and ledger.void_timeout() == 30
    ledger.open_round(0, 1, h("w0"))
    p1, p2 = ledger.as_sender(accounts[1]), ledger.as_sender(accounts[2])
    with expect_revert("BlobBytesRequired"):
        p1.submit(0, h("m1"))
    with expect_revert("EmptyBlob", HashField.MODEL):
        p1.submit_blobs(0, b"", b"extra")
    sent = p1.submit_blobs(0, b"model one", b"extra one")
    assert dict(sent.event("Submitted").args) == {
        "round": 0,
        "participant": accounts[1],
        "modelHash": keccak(b"model one"),
        "extraHash": keccak(b"extra one"),
    }
    p2.submit_blobs(0, b"model two")  # no extra blob: the extra hash stays zero
    assert ledger.get_submission(0, accounts[2]).extra_hash == ZERO_HASH
    with expect_revert("BlobBytesRequired"):
        ledger.commit_aggregate(0, h("agg"))
    with expect_revert("EmptyBlob", HashField.AGGREGATE):
        ledger.commit_aggregate_blob(0, b"", [0, 1])
    committed = ledger.commit_aggregate_blob(0, b"the aggregate", [0, 1])
    assert dict(committed.event("AggregateCommitted").args) == {
        "round": 0,
        "aggregateHash": keccak(b"the aggregate"),
        "included": 0b11,
        "excluded": 0,
        "submissionCount": 2,
    }
    assert ledger.get_round(0).aggregate_hash == keccak(b"the aggregate")


# --- voiding -------------------------------------------------------------------------------------
def test_void_round_rule_for_an_open_round(deploy: Deployer, accounts: Sequence[str]) -> None:
    """The party may void an Open round once its deadline passed; anyone else voidTimeout
    seconds later; a finished round never."""
    ledger = deploy(3)
    with expect_revert("RoundNotFound", 0):
        ledger.void_round(0)
    deadline = chain_time(ledger) + 100
    ledger.open_round(0, 10, h("w0"), deadline=deadline)
    ledger.as_sender(accounts[1]).submit(0, h("m1"))
    outsider = ledger.as_sender(accounts[9])
    with expect_revert("VoidTooEarly", 0, accounts[0], deadline):
        ledger.void_round(0)
    with expect_revert("VoidTooEarly", 0, accounts[9], deadline + 600):
        outsider.void_round(0)
    advance_time(ledger, 200)  # past the deadline, not past the timeout
    with expect_revert("VoidTooEarly", 0, accounts[9], deadline + 600):
        outsider.void_round(0)
    voided = ledger.void_round(0)
    assert dict(voided.event("RoundVoided").args) == {
        "round": 0,
        "by": accounts[0],
        "previous": RoundStatus.OPEN,
    }
    record = ledger.get_round(0)
    assert (record.status, record.closed_block) == (RoundStatus.VOIDED, voided.block_number)
    with expect_revert("RoundNotVoidable", 0, RoundStatus.VOIDED):
        ledger.void_round(0)
    with expect_revert("RoundNotOpen", 0, RoundStatus.VOIDED):
        ledger.as_sender(accounts[2]).submit(0, h("m2"))
    # A voided round, like a disputed one, lets the next restart from the same iteration.
    ledger.open_round(0, 10, h("w0"), deadline=chain_time(ledger) + 100)
    advance_time(ledger, 701)
    by_anyone = outsider.void_round(1)
    assert dict(by_anyone.event("RoundVoided").args) == {
        "round": 1,
        "by": accounts[9],
        "previous": RoundStatus.OPEN,
    }
    # Without a deadline only the party may void an Open round (at once); others never.
    ledger.open_round(0, 10, h("w0"))
    with expect_revert("VoidTooEarly", 2, accounts[9], 2**256 - 1):
        outsider.void_round(2)


def test_void_round_rule_for_an_aggregated_round(deploy: Deployer, accounts: Sequence[str]) -> None:
    """A split vote with silent voters (n = 4, q = 3: one attest, one dispute, one silent)
    reaches no verdict; voidTimeout seconds after the commit anyone may void it."""
    ledger = deploy(3)
    open_and_fill(ledger, accounts, 3)
    committed = ledger.commit_aggregate(0, h("agg"))
    ledger.as_sender(accounts[1]).attest(0, h("agg"))
    ledger.as_sender(accounts[2]).dispute(0, h("other"))
    record = ledger.get_round(0)
    assert record.status is RoundStatus.AGGREGATED
    stamp = int(ledger.chain.w3.eth.get_block(committed.block_number)["timestamp"])
    assert record.aggregated_at == stamp
    assert ledger.void_allowed_from(record, accounts[0]) == stamp + 600
    with expect_revert("VoidTooEarly", 0, accounts[0], stamp + 600):
        ledger.void_round(0)
    advance_time(ledger, 601)
    voided = ledger.as_sender(accounts[3]).void_round(0)
    assert voided.event_names() == ("RoundVoided",)
    assert dict(voided.event("RoundVoided").args) == {
        "round": 0,
        "by": accounts[3],
        "previous": RoundStatus.AGGREGATED,
    }
    record = ledger.get_round(0)
    assert (record.status, record.attest_count, record.dispute_count) == (
        RoundStatus.VOIDED,
        1,
        1,
    )  # the votes cast stay on record
    with expect_revert("RoundNotAggregated", 0, RoundStatus.VOIDED):
        ledger.as_sender(accounts[3]).attest(0, h("agg"))
    ledger.open_round(0, 10, h("w0"))
    ledger.as_sender(accounts[1]).submit(1, h("m"))
    ledger.commit_aggregate(1, h("agg"))
    for i in (1, 2):
        ledger.as_sender(accounts[i]).attest(1, h("agg"))
    with expect_revert("RoundNotVoidable", 1, RoundStatus.FINALISED):
        ledger.void_round(1)
