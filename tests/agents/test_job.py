"""A whole job on the embedded chain: rounds land on the ledger, replicas check Eq. 10, audits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hefl.agents.audit import ExportedHistory, audit
from hefl.agents.job import InProcessJob, JobConfig, save_job
from hefl.agents.roles import (
    ComputingPartyAgent,
    ParticipantAgent,
    RoundSnapshot,
    Vote,
    open_submission,
)
from hefl.chain import LocalBlobStore, RoundStatus, connect_embedded
from hefl.control import FixedTauController
from hefl.data import SplitConfig
from hefl.errors import BlobIntegrityError, HeflError, LearningError
from hefl.learning.paillier import PaillierStrategy
from hefl.learning.strategy import LearningConfig, LocalUpdate

SPLIT = SplitConfig(participants=3, n_samples=None, seed=2)


def make_job(tmp_path: Path, strategy: str = "paillier", workers: int = 1) -> InProcessJob:
    config = JobConfig(
        dataset="diabetes",
        split=SPLIT,
        learning=LearningConfig(eta=0.1),
        strategy=strategy,
        workers=workers,
    )
    return InProcessJob(config, connect_embedded(), LocalBlobStore(tmp_path / strategy / "blobs"))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("job")
    job = make_job(tmp, workers=2)
    result = job.run(FixedTauController(tau=4, rounds=3))
    return job, result, tmp


def test_every_round_is_finalised_on_chain_with_quorum(finished) -> None:
    job, result, _ = finished
    history = job.ledger.history()
    assert [r.status for r in history] == [RoundStatus.FINALISED] * 3
    assert [r.iteration for r in history] == [0, 4, 8]
    assert all(r.tau == 4 and r.included_indices == (0, 1, 2) for r in history)
    assert all(r.votes >= job.ledger.quorum() for r in history)
    # Each round starts from the model the previous one produced (the refreshed global model).
    assert len({r.global_model_hash for r in history}) == 3
    assert [s.status for s in result.rounds] == ["finalised"] * 3


def test_encrypted_job_matches_the_plaintext_job(finished, tmp_path) -> None:
    _, result, _ = finished
    plain = make_job(tmp_path, strategy="plain").run(FixedTauController(tau=4, rounds=3))
    for enc, ref in zip(result.rounds, plain.rounds, strict=True):
        assert enc.train_loss == pytest.approx(ref.train_loss, rel=1e-6)
    np.testing.assert_allclose(result.model, plain.model, rtol=1e-6, atol=1e-9)


def test_history_read_from_the_chain_matches_the_blobs(finished) -> None:
    job, result, tmp = finished
    live = audit(job.ledger, job.blobs)
    assert live.ok, live.problems
    assert (live.rounds, live.aggregates, live.finalised) == (3, 3, 3)
    assert "live chain" in live.source
    # The exported history says the same, and is audited without the chain.
    paths = save_job(result, tmp / "out")
    exported = ExportedHistory.load(paths["history"])
    for g in range(3):
        assert exported.get_round(g) == job.ledger.get_round(g)
        for p in job.ledger.participants():
            assert exported.get_submission(g, p.address) == job.ledger.get_submission(g, p.address)
    offline = audit(exported, job.blobs)
    assert offline.ok and "not consulted" in offline.source
    lines = paths["metrics"].read_text().splitlines()
    assert lines[0].startswith("round,iteration,tau") and len(lines) == 4


def test_a_tampered_blob_is_refused(finished, tmp_path) -> None:
    job, _, _ = finished
    record = job.ledger.get_round(1)
    path = job.blobs.path_for(record.aggregate_hash)
    original = path.read_bytes()
    try:
        tampered = bytearray(original)
        tampered[-1] ^= 1
        path.write_bytes(bytes(tampered))
        with pytest.raises(BlobIntegrityError):
            job.blobs.get(record.aggregate_hash)
        report = audit(job.ledger, job.blobs)
        assert not report.ok
        assert any("round 1 aggregate" in p for p in report.problems)
    finally:
        path.write_bytes(original)


class CheatingAggregation(PaillierStrategy):
    """A computing party that adds 1 to the first coordinate of the aggregate."""

    def aggregate(self, local_models, sizes):
        from hefl.crypto import EncryptedVector

        honest = EncryptedVector.from_bytes(super().aggregate(local_models, sizes), self.public_key)
        bump = np.zeros(len(honest))
        bump[0] = 1.0
        return honest.add_plain(bump).to_bytes()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_wrong_aggregate_is_disputed_and_never_finalised(tmp_path, workers, monkeypatch) -> None:
    """In one process, and with the replicas' checks fanned out over the job's workers."""
    snapshots: list[int] = []
    read = RoundSnapshot.read.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(
        RoundSnapshot, "read", classmethod(lambda cls, *a: snapshots.append(1) or read(cls, *a))
    )
    job = make_job(tmp_path, workers=workers)
    honest = job.party.strategy
    job.party.strategy = CheatingAggregation(
        honest.public_key, honest.config, private_key=honest._private_key
    )
    with pytest.raises(HeflError, match="disputed, not finalised"):
        job.run(FixedTauController(tau=2, rounds=2))
    record = job.ledger.get_round(0)
    assert record.status is RoundStatus.DISPUTED
    assert record.attest_count == 0 and record.dispute_count >= 2
    # every disputing replica's verdict, wherever it was computed, is the same recomputation
    raised = job.ledger.events("DisputeRaised")
    assert len(raised) == record.dispute_count
    verdicts = {job.blobs.get(e.args["recomputedHash"]) for e in raised}
    assert len(verdicts) == 1
    assert bool(snapshots) == (workers > 1)  # the workers checked on the round's snapshot
    assert job.ledger.round_count() == 1  # nothing was built on it
    report = audit(job.ledger, job.blobs)
    assert any("does not match the committed aggregate" in p for p in report.problems)


def test_a_participant_that_restarts_resumes_without_losing_or_duplicating(tmp_path) -> None:
    job = make_job(tmp_path)
    g = job.party.open_round(job.initial_model, 0, 2)
    first = job.participants[0]
    # Crash after computing and storing its blobs, before the submission reached the chain.
    global_model, tau = first.pending(g)
    update = first.strategy.local_update(global_model, first.part, tau)
    first.blobs.put(update.model)
    assert not job.ledger.get_submission(g, first.address).submitted
    # Restarted from the chain and its own files: it submits exactly once.
    restarted = ParticipantAgent(
        first.address,
        first.part,
        first.strategy,
        first.ledger,
        LocalBlobStore(first.blobs.directory),
    )
    assert restarted.take_part(g) is True
    assert restarted.take_part(g) is False  # already on chain: no second submission
    assert job.ledger.get_round(g).submission_count == 1
    for agent in job.participants[1:]:
        assert agent.take_part(g)
    job.party.commit(g)
    votes = [agent.verify(g) for agent in job.participants]
    assert votes.count(Vote.ATTESTED) >= 2
    again = ParticipantAgent(
        first.address,
        first.part,
        first.strategy,
        first.ledger,
        LocalBlobStore(first.blobs.directory),
    )
    assert again.verify(g) in (Vote.ALREADY_VOTED, Vote.DECIDED)
    assert job.ledger.get_round(g).status is RoundStatus.FINALISED


def test_an_impossible_tau_is_refused_before_anything_goes_on_chain(tmp_path) -> None:
    config = JobConfig(
        dataset="diabetes", split=SPLIT, learning=LearningConfig(eta=0.1, mode="literal")
    )
    job = InProcessJob(config, connect_embedded(), LocalBlobStore(tmp_path / "blobs"))
    with pytest.raises(LearningError, match="at most τ="):
        job.run(FixedTauController(tau=500, rounds=1))
    assert job.ledger.round_count() == 0


class GarbageUpdates(PaillierStrategy):
    """A participant whose local model blob is not a ciphertext vector of this job."""

    def local_update(self, global_model, part, tau):
        honest = super().local_update(global_model, part, tau)
        return LocalUpdate(model=b"not a ciphertext" + honest.model[:40], extra=honest.extra)


@pytest.mark.parametrize("workers", [1, 2])  # replicas' checks in one process, or fanned out
def test_an_unusable_submission_is_left_out_and_the_replicas_agree(tmp_path, workers) -> None:
    job = make_job(tmp_path, workers=workers)
    bad = job.participants[1]
    bad.strategy = GarbageUpdates(bad.strategy.public_key, bad.strategy.config)
    result = job.run(FixedTauController(tau=2, rounds=2))
    for g, record in enumerate(job.ledger.history()):
        assert record.status is RoundStatus.FINALISED
        assert record.included_indices == (0, 2) and record.submission_count == 3
        # The bad blob is on record (hash on chain, bytes in the store) but not aggregated.
        assert job.ledger.get_submission(g, bad.address).submitted
    assert audit(job.ledger, job.blobs).ok
    # The aggregate renormalised over the other two: it matches a plaintext job without P1.
    assert np.isfinite(result.model).all()


class ExcludingParty(ComputingPartyAgent):
    """A computing party that leaves a perfectly good submission out."""

    def commit(self, round_index):
        record = self.ledger.get_round(round_index)
        registry = self.ledger.participants()
        chosen = [p for p in registry if p.index != 0]
        models = [
            open_submission(
                self.ledger,
                self.store,
                round_index,
                self.ledger.get_submission(round_index, p.address),
            ).model
            for p in chosen
        ]
        aggregate = self.strategy.aggregate(models, [p.data_size for p in chosen])
        assert record.deadline  # exclusion is only possible in a round with a deadline
        self.ledger.commit_aggregate_blob(round_index, aggregate, [p.index for p in chosen])
        return aggregate


@pytest.mark.parametrize("workers", [1, 2])  # replicas' checks in one process, or fanned out
def test_leaving_a_usable_submission_out_is_disputed(tmp_path, workers) -> None:
    job = make_job(tmp_path, workers=workers)
    job.party = ExcludingParty(job.party.strategy, job.party.ledger, job.party.blobs)
    with pytest.raises(HeflError, match="disputed, not finalised"):
        job.run(FixedTauController(tau=2, rounds=1))
    record = job.ledger.get_round(0)
    assert record.status is RoundStatus.DISPUTED and record.attest_count == 0


def test_workers_one_keeps_every_product_on_one_thread(tmp_path, monkeypatch) -> None:
    """--workers 1: no product split at all, not even one big enough to split (the threshold
    is lowered to 0 so that every product would)."""
    import threading

    from hefl.crypto import multiexp, pool

    monkeypatch.setattr(pool, "PARALLEL_MIN_MULTIPLICATIONS", 0)
    threads: set[str] = set()
    real = multiexp._straus_rows

    def recording(*args):
        threads.add(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(multiexp, "_straus_rows", recording)
    result = make_job(tmp_path, workers=1).run(FixedTauController(tau=2, rounds=1))
    assert [s.status for s in result.rounds] == ["finalised"]
    assert threads == {threading.main_thread().name}
    assert pool.product_workers() == pool.DEFAULT_WORKERS  # the setting ends with the job
