"""The three controllers drive the encrypted round loop (hefl.agents.job) end to end: every round
lands finalised on the embedded chain, the plans' booked energy stays within the budget, and the
loss goes down."""

from __future__ import annotations

from pathlib import Path

import pytest

from hefl.agents.job import InProcessJob, JobConfig
from hefl.chain import LocalBlobStore, connect_embedded
from hefl.control import make_controller
from hefl.data import SplitConfig
from hefl.learning.strategy import LearningConfig

BUDGET = 40.0  # J: a few rounds of diabetes with N = 3 under Table 1
#: A short key keeps the test quick; the key size does not change what the controller sees.
KEY_BITS = 1024


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    ("name", "options"),
    [("joint", {}), ("only-aggregation", {}), ("only-resource", {"tau": 10})],
)
def test_controller_drives_the_encrypted_loop(
    name: str, options: dict[str, object], tmp_path: Path
) -> None:
    config = JobConfig(
        dataset="diabetes",
        split=SplitConfig(participants=3, n_samples=None, seed=2),
        learning=LearningConfig(eta=0.1),
        strategy="paillier",
        workers=1,
        key_bits=KEY_BITS,
        allow_insecure_keys=True,
    )
    job = InProcessJob(config, connect_embedded(), LocalBlobStore(tmp_path / "blobs"))
    controller = make_controller(name, energy_budget=BUDGET, **options)
    result = job.run(controller)
    rounds = result.rounds
    assert len(rounds) >= 2
    assert all(r.status == "finalised" for r in rounds)
    assert [r.tau for r in job.ledger.history()] == [r.tau for r in rounds]
    booked = [r.energy for r in rounds]
    assert all(e is not None and e > 0 for e in booked)
    assert sum(booked) <= BUDGET  # type: ignore[arg-type]
    assert controller.account.used == pytest.approx(sum(booked))  # type: ignore[attr-defined,arg-type]
    losses = [r.train_loss for r in rounds]
    assert losses[-1] < losses[0]
    if name == "joint":
        assert rounds[0].tau == 1  # Algorithm 1 starts at τ = 1
        assert any(r.tau > 1 for r in rounds[1:])  # and adapts it from φ̂, ω̂
    if name == "only-resource":
        assert {r.tau for r in rounds[:-1]} == {10}
        assert rounds[-1].tau <= 10  # the last round shrinks τ to the remaining budget
