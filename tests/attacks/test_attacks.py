"""One faulty node cannot stall or corrupt a job: each attack of issue #12, in process.

Every test runs a real job (embedded py-evm chain, real Paillier keys, the diabetes data set) with
N = 3 participants, so n = 4 consensus nodes tolerate F = 1 fault and one attacker is within F.
The attackers (``attackers.py``) subclass the honest agents and change only their attack's move.
Each test fails on the code before the fix: the round was disputed or stuck, the party crashed, or
the attacker was included with full weight.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from attackers import (
    BoundLiar,
    Copier,
    FramingParty,
    HashOnlyParty,
    HashOnlySubmitter,
    HeaderLiar,
    Replayer,
    SilentVoter,
    Withholder,
    turn,
)

from hefl.agents.job import InProcessJob, JobConfig
from hefl.agents.roles import (
    COMMITMENT_MAGIC,
    RoundSnapshot,
    Vote,
    check_committed_aggregate,
    commitment_blob,
    open_commitment,
)
from hefl.chain import LocalBlobStore, RoundStatus, connect_embedded
from hefl.chain.availability import rebuild_from_chain
from hefl.control import FixedTauController
from hefl.data import SplitConfig
from hefl.errors import ContractRevertError, HeflError
from hefl.learning.blobs import pack_bundle
from hefl.learning.strategy import LearningConfig

SPLIT = SplitConfig(participants=3, n_samples=None, seed=2)
KEY_BITS = 1024  # small keys: these tests are about the protocol, not the key size


def make_job(tmp_path: Path, *, blobs_on_chain: bool | None = None, monkeypatch=None):
    if blobs_on_chain is not None:
        monkeypatch.setattr("hefl.agents.job.blobs_on_chain_for", lambda _: blobs_on_chain)
    config = JobConfig(
        dataset="diabetes",
        split=SPLIT,
        learning=LearningConfig(eta=0.1),
        key_bits=KEY_BITS,
        allow_insecure_keys=True,
    )
    return InProcessJob(config, connect_embedded(), LocalBlobStore(tmp_path / "blobs"))


def excluded_by_commit(job: InProcessJob, g: int) -> int:
    (event,) = [e for e in job.ledger.events("AggregateCommitted") if e.args["round"] == g]
    return int(event.args["excluded"])


@pytest.fixture(scope="module")
def honest_model(tmp_path_factory) -> np.ndarray:
    job = make_job(tmp_path_factory.mktemp("honest"))
    return job.run(FixedTauController(tau=2, rounds=2)).model


# --- (1) availability ------------------------------------------------------------------------
def test_availability_a_blob_deleted_after_the_commit_is_read_back_from_the_chain(
    tmp_path: Path, honest_model: np.ndarray
) -> None:
    job = make_job(tmp_path)
    assert job.ledger.blobs_on_chain()  # d = 11 fits calldata: the default
    job.participants[0] = turn(job.participants[0], Withholder)
    result = job.run(FixedTauController(tau=2, rounds=2))
    for record in job.ledger.history():
        assert record.status is RoundStatus.FINALISED
        assert record.included_indices == (0, 1, 2)  # nobody excluded, the attacker neither
        assert record.dispute_count == 0
    # The honest party was not disputed and the model is the honest one.
    np.testing.assert_allclose(result.model, honest_model, rtol=1e-9, atol=1e-12)
    # The store is a cache: emptied, it is rebuilt from the chain alone.
    fresh = LocalBlobStore(tmp_path / "rebuilt")
    assert rebuild_from_chain(job.ledger, fresh) == 2 * 3 * 2 + 2  # 2 blobs × 3 × 2 rounds + aggs
    g = 1
    record = job.ledger.get_round(g)
    assert fresh.has(record.aggregate_hash)


def test_availability_a_job_with_blobs_on_chain_refuses_bare_hashes(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    attacker = turn(job.participants[2], HashOnlySubmitter)
    g = job.party.open_round(job.initial_model, 0, 2, 0)
    global_model, tau = attacker.pending(g)
    update = attacker.strategy.local_update(global_model, attacker.part, tau)
    with pytest.raises(ContractRevertError) as refused:
        attacker.deliver(g, update)
    assert refused.value.error_name == "BlobBytesRequired"


def test_availability_a_held_back_blob_published_after_the_commit_flips_nothing(
    tmp_path: Path, monkeypatch
) -> None:
    """Large models send hashes only; the README's rule: the party commits what it fetched and a
    replica never disputes an exclusion, only a content mismatch it can prove."""
    job = make_job(tmp_path, blobs_on_chain=False, monkeypatch=monkeypatch)
    assert not job.ledger.blobs_on_chain()
    attacker = turn(job.participants[2], HashOnlySubmitter)
    job.participants[2] = attacker
    honest_assess = type(attacker).assess

    def publish_then_assess(self, round_index):
        for blob in (self.held_back.model, self.held_back.extra):
            self.blobs.put(blob)  # published only now, after the commit
        return honest_assess(self, round_index)

    monkeypatch.setattr(HashOnlySubmitter, "assess", publish_then_assess)
    job.run(FixedTauController(tau=2, rounds=1))
    record = job.ledger.get_round(0)
    assert record.status is RoundStatus.FINALISED and record.dispute_count == 0
    assert record.included_indices == (0, 1) and excluded_by_commit(job, 0) == 0b100


# --- (2) header lies --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("scale", "bound"),
    [(None, "max"), (65535, None), (0, None)],
    ids=["bound-n-over-3", "scale-65535", "scale-0"],
)
def test_header_lies_make_a_blob_unusable_not_a_crash(
    tmp_path: Path, honest_model: np.ndarray, scale, bound
) -> None:
    job = make_job(tmp_path)
    key = job.party.strategy.public_key
    liar = turn(
        job.participants[2],
        HeaderLiar,
        scale=scale,
        bound=key.max_int if bound == "max" else None,
    )
    job.participants[2] = liar
    result = job.run(FixedTauController(tau=2, rounds=2))
    for g, record in enumerate(job.ledger.history()):
        assert record.status is RoundStatus.FINALISED and record.dispute_count == 0
        assert record.included_indices == (0, 1)
        assert excluded_by_commit(job, g) == 0b100  # recorded on chain
    # The model stays in the honest range (a scale of 0 would have weighed it 2^40 times).
    assert np.all(np.abs(result.model) < 10 * np.max(np.abs(honest_model)) + 1)


@pytest.mark.parametrize(
    ("index", "attacker", "extra", "message"),
    [
        (1, HeaderLiar, {"scale": 0}, r"participants \[1\] submitted unusable blobs"),
        (0, BoundLiar, {}, r"participants \[0\] encrypted values beyond"),
    ],
    ids=["header-lie", "value-beyond-bound"],
)
def test_an_unusable_submission_without_deadline_voids_the_round_and_names_the_participant(
    tmp_path: Path, index: int, attacker: type, extra: dict, message: str
) -> None:
    job = make_job(tmp_path)
    job.config = dataclasses.replace(job.config, submission_deadline_s=None)
    job.participants[index] = turn(job.participants[index], attacker, **extra)
    with pytest.raises(HeflError, match=message):
        job.run(FixedTauController(tau=2, rounds=1))
    assert job.ledger.get_round(0).status is RoundStatus.VOIDED


# --- (2b) values beyond the declared bound, which only the party can see ---------------------
@pytest.mark.parametrize("on_chain", [True, False], ids=["calldata", "hashes"])
def test_a_value_beyond_its_bound_is_left_out_with_evidence_not_a_stall(
    tmp_path: Path, honest_model: np.ndarray, monkeypatch, on_chain: bool
) -> None:
    """Before the fix the party committed the aggregate and then could not decrypt it: the job
    stopped. Now it screens before the commit and leaves the participant out with evidence that
    a second client, holding only the public key and the chain, checks."""
    job = make_job(tmp_path, blobs_on_chain=on_chain, monkeypatch=monkeypatch)
    job.participants[2] = turn(job.participants[2], BoundLiar)
    result = job.run(FixedTauController(tau=2, rounds=2))
    replica = job.party.strategy.for_participant(0)  # the public key only
    # A second client's store: the global models the party publishes (not in calldata); every
    # submission, the aggregate and the evidence are read back from the chain.
    fresh = LocalBlobStore(tmp_path / "second-client")
    for g, record in enumerate(job.ledger.history()):
        assert record.status is RoundStatus.FINALISED and record.dispute_count == 0
        assert record.attest_count >= 2 and record.included_indices == (0, 1)
        assert excluded_by_commit(job, g) == 0b100
        committed = job.blobs.get(record.aggregate_hash)
        _, evidence = open_commitment(committed)
        assert sorted(evidence) == [2] and json.loads(evidence[2])["vector"] == "model"
        if on_chain:
            fresh.put(job.blobs.get(record.global_model_hash))
            assert check_committed_aggregate(replica, job.ledger, fresh, g) is None
    assert np.all(np.abs(result.model) < 10 * np.max(np.abs(honest_model)) + 1)


def test_a_party_framing_an_honest_participant_is_disputed(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    job.party = FramingParty(job.party.strategy, job.party.ledger, job.party.blobs)
    with pytest.raises(HeflError):  # the job stops: nothing builds on an unverified round
        job.run(FixedTauController(tau=2, rounds=1))
    record = job.ledger.get_round(0)
    assert record.status is RoundStatus.DISPUTED and record.attest_count == 0
    assert record.included_indices == (0, 2)
    disputes = job.ledger.events("DisputeRaised")
    assert len(disputes) >= 2  # F + 1 disputes decide the round
    for dispute in disputes:
        reason = json.loads(job.blobs.get(dispute.args["recomputedHash"]))["reason"]
        assert "the evidence against participant 1 does not hold" in reason
        assert "decodes within its declared bound" in reason


# --- (3) missing aggregate --------------------------------------------------------------------
def test_missing_aggregate_is_disputed_with_the_reason(tmp_path: Path, monkeypatch) -> None:
    job = make_job(tmp_path, blobs_on_chain=False, monkeypatch=monkeypatch)
    job.party = HashOnlyParty(job.party.strategy, job.party.ledger, job.party.blobs)
    with pytest.raises(HeflError):  # the job stops: nothing builds on an unverified round
        job.run(FixedTauController(tau=2, rounds=1))
    record = job.ledger.get_round(0)
    assert record.status is RoundStatus.DISPUTED and record.attest_count == 0
    (dispute, *_) = job.ledger.events("DisputeRaised")
    reason = json.loads(job.blobs.get(dispute.args["recomputedHash"]))
    assert "committed aggregate cannot be read" in reason["reason"]


def test_missing_aggregate_cannot_happen_with_blobs_on_chain(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    job.party = HashOnlyParty(job.party.strategy, job.party.ledger, job.party.blobs)
    with pytest.raises(ContractRevertError) as refused:
        job.run(FixedTauController(tau=2, rounds=1))
    assert refused.value.error_name == "BlobBytesRequired"


def test_a_commitment_whose_evidence_is_malformed_or_names_an_included_participant_is_disputed(
    tmp_path: Path,
) -> None:
    """The party's evidence section (after the aggregate) is read, not trusted: unreadable, or
    naming a participant the aggregate includes, the commitment gets a verdict with the reason
    (the round as committed, its aggregate hash swapped for each forged commitment's)."""
    job = make_job(tmp_path)
    g = job.party.open_round(job.initial_model, 0, 2, 0)
    for agent in job.participants:
        agent.take_part(g)
    aggregate = job.party.commit(g)
    snapshot = RoundSnapshot.read(job.ledger, g)
    assert snapshot.record.included_indices == (0, 1, 2)
    assert check_committed_aggregate(job.party.strategy, job.ledger, job.blobs, g) is None
    for committed, reason in [
        (COMMITMENT_MAGIC + b"not a bundle", "committed aggregate cannot be read"),
        (COMMITMENT_MAGIC + pack_bundle([aggregate, b"[1,1]", b"{}", b"{}"]), "cannot be read"),
        (COMMITMENT_MAGIC + pack_bundle([aggregate, b"[]"]), "cannot be read"),
        (commitment_blob(aggregate, {1: b"{}"}), "includes participant 1"),
    ]:
        record = dataclasses.replace(snapshot.record, aggregate_hash=job.blobs.put(committed))
        forged = dataclasses.replace(snapshot, record=record)
        verdict = check_committed_aggregate(job.party.strategy, forged, job.blobs, g)
        assert verdict is not None and reason in json.loads(verdict)["reason"]


def test_every_committed_aggregate_gets_a_verdict_even_unparsable(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    g = job.party.open_round(job.initial_model, 0, 2, 0)
    for agent in job.participants:
        agent.take_part(g)
    job.ledger.commit_aggregate_blob(g, b"not an aggregate at all", [0, 1, 2])
    verdict = check_committed_aggregate(job.party.strategy, job.ledger, job.blobs, g)
    assert verdict is not None
    votes = [agent.verify(g) for agent in job.participants]
    assert votes[:2] == [Vote.DISPUTED, Vote.DISPUTED]
    assert job.ledger.get_round(g).status is RoundStatus.DISPUTED


# --- (4) replay and copy ----------------------------------------------------------------------
def test_replay_of_an_earlier_round_is_left_out(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    job.participants[2] = turn(job.participants[2], Replayer)
    job.run(FixedTauController(tau=2, rounds=2))
    first, second = job.ledger.history()
    assert first.included_indices == (0, 1, 2)
    assert second.status is RoundStatus.FINALISED and second.dispute_count == 0
    assert second.included_indices == (0, 1) and excluded_by_commit(job, 1) == 0b100


def test_replay_as_a_copy_of_another_participant_is_left_out(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    job.participants[2] = turn(job.participants[2], Copier, victim=job.participants[0].address)
    job.run(FixedTauController(tau=2, rounds=1))
    record = job.ledger.get_round(0)
    assert record.status is RoundStatus.FINALISED and record.dispute_count == 0
    assert record.included_indices == (0, 1) and excluded_by_commit(job, 0) == 0b100


# --- a round that can reach no verdict ----------------------------------------------------------
def test_outage_of_voters_leaves_a_round_that_the_void_rule_closes(tmp_path: Path) -> None:
    """n = 4, q = 3: one attest, one dispute, one silent replica: no verdict. voidTimeout after
    the commit the round is voided and a new one may start from the same t."""
    job = make_job(tmp_path)
    job.participants[2] = turn(job.participants[2], SilentVoter)
    g = job.party.open_round(job.initial_model, 0, 2, 0)
    for agent in job.participants:
        agent.take_part(g)
    job.party.commit(g)
    assert job.participants[0].verify(g) is Vote.ATTESTED
    job.ledger.as_sender(job.participants[1].address).dispute(g, b"\x01" * 32)
    record = job.ledger.get_round(g)
    assert record.status is RoundStatus.AGGREGATED
    assert job.ledger.void_allowed_from(record, job.party_address) == (
        record.aggregated_at + job.ledger.void_timeout()
    )
    tester = job.chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    latest = int(job.chain.w3.eth.get_block("latest")["timestamp"])
    tester.time_travel(max(latest, record.aggregated_at) + job.ledger.void_timeout() + 2)
    job.party.void(g, "no verdict")
    assert job.ledger.get_round(g).status is RoundStatus.VOIDED
    assert job.participants[2].verify(g) is Vote.DECIDED  # no late vote is sent
    job.party.open_round(job.initial_model, 0, 2, 0)
