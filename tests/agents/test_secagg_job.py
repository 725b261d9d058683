"""FedAvg through secure aggregation (Yang et al. and the baselines) with every round on the
ledger: message hashes and the aggregate transcript on chain, replicas checking them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hefl.agents.audit import audit
from hefl.agents.job import InProcessJob, JobConfig
from hefl.agents.roles import open_submission
from hefl.chain import LocalBlobStore, RoundStatus, connect_embedded
from hefl.control import FixedTauController
from hefl.crypto import keccak256
from hefl.data import SplitConfig
from hefl.errors import HeflError
from hefl.learning.secure import SecureAggregationStrategy
from hefl.learning.strategy import LearningConfig

SPLIT = SplitConfig(participants=3, n_samples=None, seed=5)


def job(tmp_path: Path, strategy: str) -> InProcessJob:
    config = JobConfig(
        dataset="diabetes", split=SPLIT, learning=LearningConfig(eta=0.1), strategy=strategy
    )
    return InProcessJob(config, connect_embedded(), LocalBlobStore(tmp_path / strategy))


@pytest.fixture(scope="module")
def plain_rounds(tmp_path_factory):
    return job(tmp_path_factory.mktemp("plain"), "plain").run(FixedTauController(4, 3)).rounds


@pytest.mark.parametrize("strategy", ["secagg-multikey", "secagg-packed-paillier"])
def test_secure_aggregation_rounds_land_on_the_ledger(tmp_path, strategy, plain_rounds):
    secure = job(tmp_path, strategy)
    result = secure.run(FixedTauController(4, 3))
    # The model follows plaintext FedAvg up to the scheme's quantisation (2^-16 per value).
    for got, ref in zip(result.rounds, plain_rounds, strict=True):
        assert got.train_loss == pytest.approx(ref.train_loss, rel=1e-4)
    ledger, blobs = secure.ledger, secure.blobs
    for g, record in enumerate(ledger.history()):
        assert record.status is RoundStatus.FINALISED and record.included_indices == (0, 1, 2)
        transcript = json.loads(blobs.get(record.aggregate_hash))
        hashes = [ledger.get_submission(g, p.address).model_hash for p in ledger.participants()]
        assert all(keccak256(blobs.get(h)) == h for h in hashes)
        # Each client's ciphertext is on chain inside its sealed submission (hefl.agents.
        # envelope), and the transcript covers exactly those ciphertexts.
        messages = [
            open_submission(ledger, blobs, g, ledger.get_submission(g, p.address)).model
            for p in ledger.participants()
        ]
        assert transcript["message_hashes"] == ["0x" + keccak256(m).hex() for m in messages]
        # The sum is all the server learnt; no plaintext update is stored anywhere.
        assert len(transcript["sum"]) == secure.data.model_size
    report = audit(ledger, blobs)
    assert report.ok and report.aggregates == 3


class DroppingServer(SecureAggregationStrategy):
    """A server whose transcript leaves one client's message out but keeps its weight."""

    def _transcript(self, local_models, sizes, total):
        return super()._transcript(local_models[1:], sizes, total)


def test_a_transcript_that_misstates_the_messages_is_disputed(tmp_path):
    secure = job(tmp_path, "secagg-plaintext")
    honest = secure.party.strategy
    cheat = DroppingServer("plaintext", honest.config, sizes=honest.sizes, scheme=honest.scheme)
    cheat.round_index = honest.round_index
    secure.party.strategy = cheat
    with pytest.raises(HeflError, match="disputed, not finalised"):
        secure.run(FixedTauController(2, 2))
    assert secure.ledger.get_round(0).status is RoundStatus.DISPUTED
    assert not audit(secure.ledger, secure.blobs).ok


def test_a_checking_instance_cannot_aggregate():
    checker = SecureAggregationStrategy("multikey", sizes=[1, 2])
    with pytest.raises(HeflError, match="only check"):
        checker.aggregate([b""], [1])
