"""Flower's simulation engine: a hefl job end to end, checked against hefl's own in-process run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hefl.agents.audit import ExportedHistory, audit
from hefl.agents.job import InProcessJob, JobConfig
from hefl.chain import LocalBlobStore, connect_embedded
from hefl.cli.main import main
from hefl.control import FixedTauController
from hefl.flower.simulate import simulate
from hefl.learning.paillier import FixedPointConfig

from .conftest import KEY_BITS, job_spec

pytestmark = pytest.mark.timeout(400)


def _history(out: Path) -> dict:
    return json.loads((out / "history.json").read_text())


def test_five_clients_three_rounds_final_verified_and_equal_to_hefl_run(tmp_path, capsys):
    spec = job_spec(participants=5, rounds=3)
    result = simulate(spec, tmp_path / "flower")
    assert result.error is None
    assert [r.status for r in result.rounds] == ["finalised"] * 3
    history = _history(result.out)
    assert [r["status"] for r in history["rounds"]] == ["finalised"] * 3
    assert all(r["included"] == [0, 1, 2, 3, 4] for r in history["rounds"])
    for name in ("history.json", "metrics.csv", "deployment.json", "config.json"):
        assert (result.out / name).is_file()

    # hefl verify and hefl history --run work on the exported run.
    assert main(["verify", str(result.out)]) == 0
    assert "3 finalised with quorum" in capsys.readouterr().out
    assert main(["history", "--run", str(result.out)]) == 0
    report = audit(ExportedHistory.load(result.out), LocalBlobStore(result.out / "blobs"))
    assert report.ok and report.finalised == 3

    # The same job in process (same data split, seed and τ): Flower adds transport, not arithmetic.
    reference = InProcessJob(
        JobConfig(
            split=spec.split,
            learning=spec.learning,
            fixed_point=FixedPointConfig(),
            key_bits=KEY_BITS,
            allow_insecure_keys=True,
            workers=1,
        ),
        connect_embedded(),
        LocalBlobStore(tmp_path / "reference"),
    ).run(FixedTauController(5, 3))
    assert np.max(np.abs(result.model - reference.model)) < 1e-6
    flower_losses = [r.train_loss for r in result.rounds]
    assert flower_losses == pytest.approx([r.train_loss for r in reference.rounds], abs=1e-9)


def test_unusable_clients_left_out_and_two_dropouts_of_five(tmp_path, capsys):
    """Round 0: a malformed and a wrong-key ciphertext are excluded on chain and the honest
    replicas attest; round 1: two of five clients drop out and Eq. 10 renormalises over three."""
    spec = job_spec(participants=5, rounds=2, deadline_s=12.0)
    result = simulate(
        spec,
        tmp_path / "flower",
        faults="malformed@1:0,wrong-key@2:0,drop@3:1,drop@4:1",
        reply_timeout_s=60.0,
    )
    assert result.error is None
    history = _history(result.out)
    first, second = history["rounds"]
    assert first["status"] == second["status"] == "finalised"
    assert first["included"] == [0, 3, 4]
    assert {s["participant"] for s in first["submissions"]} == {
        p["address"] for p in history["participants"]
    }  # all five submitted; two were unusable and are recorded as excluded
    assert len(first["attested"]) >= 3  # the contract's quorum 2F + 1 at n = 5 (votes after it
    # arrive at a final round and are not sent); every vote cast is an attest
    assert first["disputed"] == [] and second["disputed"] == []
    assert second["included"] == [0, 1, 2]
    assert len(second["submissions"]) == 3
    assert main(["verify", str(result.out)]) == 0
    capsys.readouterr()


def test_server_committing_a_wrong_aggregate_is_disputed_never_final(tmp_path, capsys):
    spec = job_spec(participants=3, rounds=2)
    result = simulate(spec, tmp_path / "flower", server_fault="wrong-aggregate:0")
    assert result.error is not None and "disputed" in result.error
    history = _history(result.out)
    assert len(history["rounds"]) == 1
    only = history["rounds"][0]
    assert only["status"] == "disputed"
    assert only["disputed"] == [0, 1, 2] or len(only["disputed"]) >= 2
    assert only["attested"] == []
    assert main(["verify", str(result.out)]) == 1  # the audit recomputes Eq. 10 and disagrees
    assert "does not match the committed aggregate" in capsys.readouterr().out
