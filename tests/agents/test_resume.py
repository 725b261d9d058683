"""`InProcessJob.resume`: a job stopped mid-round continues on the same ledger and reaches the
model an uninterrupted job reaches — finishing the open round, or voiding it when its
submission deadline passed meanwhile and running it again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hefl.agents.export import RunDirectory
from hefl.agents.job import InProcessJob, JobConfig
from hefl.chain import LocalBlobStore, RoundStatus, connect_embedded
from hefl.control import FixedTauController
from hefl.data import SplitConfig
from hefl.learning.strategy import LearningConfig

CONFIG = JobConfig(
    split=SplitConfig(participants=3, n_samples=None, seed=1),
    learning=LearningConfig(eta=0.1),
    key_bits=512,
    allow_insecure_keys=True,
    workers=1,
    submission_deadline_s=60.0,
)
#: The password the party's key file is encrypted under (a test value).
PASSWORD = "resume-test-password"


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> np.ndarray:
    blobs = LocalBlobStore(tmp_path_factory.mktemp("reference") / "blobs")
    return InProcessJob(CONFIG, connect_embedded(), blobs).run(FixedTauController(3, 4)).model


def stopped_in_round_2(tmp_path: Path) -> tuple[InProcessJob, RunDirectory]:
    """Two rounds done, round 2 opened and one participant's submission in — then the stop."""
    run_dir = RunDirectory(tmp_path / "run")
    job = InProcessJob(
        CONFIG, connect_embedded(), LocalBlobStore(run_dir.blobs), run_dir=run_dir,
        key_password=PASSWORD,
    )  # fmt: skip
    job.run(FixedTauController(3, 2))
    outcome = job.party.conclude(1)
    g = job.party.open_round(outcome.next_global, 6, 3, job.ledger.get_round(1).deadline + 60)
    assert job.participants[0].take_part(g)
    return job, run_dir


def test_a_round_left_open_is_finished(reference: np.ndarray, tmp_path: Path) -> None:
    job, run_dir = stopped_in_round_2(tmp_path)
    again = InProcessJob.resume(CONFIG, job.chain, run_dir, key_password=PASSWORD)
    result = again.run(FixedTauController(3, 4), resume=True)
    history = again.ledger.history()
    assert [r.status for r in history] == [RoundStatus.FINALISED] * 4
    assert [r.iteration for r in history] == [0, 3, 6, 9]
    assert [s.round for s in result.rounds] == [0, 1, 2, 3]
    np.testing.assert_array_equal(result.model, reference)
    np.testing.assert_array_equal(run_dir.load_model(), reference)


def test_a_round_whose_deadline_passed_is_voided_and_run_again(
    reference: np.ndarray, tmp_path: Path
) -> None:
    job, run_dir = stopped_in_round_2(tmp_path)
    tester = job.chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    tester.time_travel(job.ledger.get_round(2).deadline + 5)
    again = InProcessJob.resume(CONFIG, job.chain, run_dir, key_password=PASSWORD)
    result = again.run(FixedTauController(3, 4), resume=True)
    finalised, voided = RoundStatus.FINALISED, RoundStatus.VOIDED
    statuses = [r.status for r in again.ledger.history()]
    assert statuses == [finalised, finalised, voided, finalised, finalised], statuses
    assert [s.round for s in result.rounds] == [0, 1, 3, 4]
    np.testing.assert_array_equal(result.model, reference)
