"""The encrypted job hands its counted round to the controllers: a joint controller priced
``planned`` books, for the job's first round, exactly the energy an independent cost model built
from :func:`hefl.costs.work.paillier_work` on the same data gives."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import pytest

from hefl.agents.job import InProcessJob, JobConfig
from hefl.chain import LocalBlobStore, RoundStatus, connect_embedded
from hefl.control import make_controller
from hefl.control.optimiser import fixed_round
from hefl.costs import CostModel, CostParameters
from hefl.costs.work import paillier_work
from hefl.data import SplitConfig
from hefl.errors import InsecureKeyWarning
from hefl.learning.paillier import FixedPointConfig
from hefl.learning.strategy import LearningConfig

KEY_BITS = 1024


def test_the_job_prices_its_rounds_by_the_counted_work(tmp_path: Path) -> None:
    learning = LearningConfig(eta=0.05)
    config = JobConfig(
        split=SplitConfig(participants=3, n_samples=None),
        learning=learning,
        key_bits=KEY_BITS,
        allow_insecure_keys=True,
        workers=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyWarning)
        job = InProcessJob(config, connect_embedded(), LocalBlobStore(tmp_path / "blobs"))
    work = paillier_work(job.data.parts, learning, FixedPointConfig(workers=2), KEY_BITS)
    assert job.job_info().work == work
    params = CostParameters(local_update="planned")
    model = CostModel(params, tuple(job.data.sizes), job.data.model_size, work=work)
    first = fixed_round(model, 1, model.uniform_plan())  # Algorithm 1's probe: τ = 1, f / 2
    budget = 4 * first.energy
    seconds = 2 * (first.learning_time + first.consensus_time)  # ξ: a round or two, not hundreds
    controller = make_controller("joint", energy_budget=budget, params=params, time_budget=seconds)
    result = job.run(controller)
    assert result.rounds and all(r.status is RoundStatus.FINALISED for r in job.ledger.history())
    assert result.rounds[0].energy == pytest.approx(first.energy, rel=1e-12)
    assert sum(r.energy or 0.0 for r in result.rounds) <= budget * (1 + 1e-9)
    # the per-step model of Eqs. 12–13 books another energy for the same probe
    paper = CostModel(dataclasses.replace(params, local_update="per-step"), tuple(job.data.sizes),
                      job.data.model_size)  # fmt: skip
    assert fixed_round(paper, 1, paper.uniform_plan()).energy != pytest.approx(first.energy)
