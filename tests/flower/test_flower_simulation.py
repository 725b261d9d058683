"""Flower's simulation engine: a hefl job end to end, checked against hefl's own in-process run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from hefl.agents.audit import ExportedHistory, audit
from hefl.agents.job import InProcessJob, JobConfig
from hefl.chain import LocalBlobStore, connect_embedded
from hefl.cli.main import main
from hefl.control import FixedTauController
from hefl.flower.deployment import EXAMPLE_APP, LoopbackDeployment, write_run_config
from hefl.flower.simulate import loopback_chain, prepare_run, run_config_for, simulate
from hefl.learning.paillier import FixedPointConfig

from .conftest import KEY_BITS, bash, finish, job_spec, readme_blocks
from .faults import Faults, WrongAggregateStrategy

pytestmark = pytest.mark.timeout(400)


def _history(out: Path) -> dict:
    return json.loads((out / "history.json").read_text())


def test_five_clients_three_rounds_final_verified_and_equal_to_hefl_run(tmp_path):
    """The README's simulation block, run verbatim: hefl flower simulate --clients 5 --rounds 3
    --out runs/flower, then hefl verify and hefl history --run on that directory."""
    block = readme_blocks()[0]
    assert "hefl flower simulate --clients 5 --rounds 3" in block
    printed = finish(bash(block, tmp_path), timeout_s=360)
    out = tmp_path / "runs" / "flower"
    assert "5 simulated SuperNodes" in printed and f"hefl verify {Path('runs/flower')}" in printed
    history = _history(out)
    assert [r["status"] for r in history["rounds"]] == ["finalised"] * 3, printed
    assert all(r["included"] == [0, 1, 2, 3, 4] for r in history["rounds"])
    for name in ("history.json", "metrics.csv", "deployment.json", "config.json"):
        assert (out / name).is_file()
    assert not (out / "error.txt").exists()

    # hefl verify (its summary line) and hefl history --run (three finalised rows) ran on it.
    assert "3 finalised with quorum" in printed
    assert len([line for line in printed.splitlines() if " finalised" in line]) >= 2 * 3
    report = audit(ExportedHistory.load(out), LocalBlobStore(out / "blobs"))
    assert report.ok and report.finalised == 3

    # The same job in process (same data split, seed and τ): Flower adds transport, not arithmetic.
    spec = job_spec(participants=5, rounds=3)  # the block's defaults: τ = 5, η = 0.05, seed 0
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
    model = np.load(out / "model.npy")
    assert np.max(np.abs(model - reference.model)) < 1e-6
    with (out / "metrics.csv").open() as metrics:
        flower_losses = [float(row["train_loss"]) for row in csv.DictReader(metrics)]
    assert flower_losses == pytest.approx([r.train_loss for r in reference.rounds], abs=1e-9)


def test_bad_options_are_one_line_naming_the_flag_before_anything_runs(tmp_path, capsys):
    for argv, flag in (
        (["--clients", "1"], "--clients 1"),
        (["--rounds", "0"], "--rounds 0"),
        (["--eta", "-1"], "--eta -1"),
        (["--key-bits", "1024"], "--key-bits 1024"),
        (["--controller", "joint"], "--controller joint"),
    ):
        assert main(["flower", "simulate", "--out", str(tmp_path / "x"), *argv]) == 1
        err = capsys.readouterr().err
        assert err.startswith("hefl flower: error: ") and flag in err, err
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_flower_new_writes_the_example_app(tmp_path, capsys):
    assert main(["flower", "new", str(tmp_path / "app")]) == 0
    example = Path(__file__).resolve().parents[2] / "examples" / "flower"
    written = sorted(p.relative_to(tmp_path / "app") for p in (tmp_path / "app").rglob("*.*"))
    shipped = sorted(
        p.relative_to(example) for p in example.rglob("*.*") if "__pycache__" not in p.parts
    )
    assert written == shipped
    for relative in written:
        assert (tmp_path / "app" / relative).read_text() == (example / relative).read_text()
    assert "[tool.flwr.app.components]" in (tmp_path / "app" / "pyproject.toml").read_text()
    assert main(["flower", "new", str(tmp_path / "app")]) == 1  # not empty: refused
    assert "is not empty" in capsys.readouterr().err


def test_unusable_clients_left_out_and_two_dropouts_of_five(tmp_path, capsys):
    """Round 0: a malformed and a wrong-key ciphertext are excluded on chain and the honest
    replicas attest; round 1: two of five clients drop out and Eq. 10 renormalises over three."""
    spec = job_spec(participants=5, rounds=2, deadline_s=12.0)
    faults = Faults({(1, 0): "malformed", (2, 0): "wrong-key", (3, 1): "drop", (4, 1): "drop"})
    result = simulate(spec, tmp_path / "flower", update_hook=faults, reply_timeout_s=60.0)
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
    """The party commits Eq. 10 with wrong weights in round 0 (tests/flower/faults.py); the
    replicas recompute it, dispute, and the job stops."""
    spec = job_spec(participants=3, rounds=2)
    result = simulate(spec, tmp_path / "flower", strategy_class=WrongAggregateStrategy)
    assert result.error is not None and "disputed" in result.error
    history = _history(result.out)
    assert len(history["rounds"]) == 1
    only = history["rounds"][0]
    assert only["status"] == "disputed"
    assert only["disputed"] == [0, 1, 2] or len(only["disputed"]) >= 2
    assert only["attested"] == []
    assert main(["verify", str(result.out)]) == 1  # the audit recomputes Eq. 10 and disagrees
    assert "does not match the committed aggregate" in capsys.readouterr().out


def test_flwr_run_starts_the_example_app_on_the_simulation_engine(tmp_path, capsys):
    """``flwr run examples/flower`` on a SuperLink running the simulation engine
    (``flower-superlink --simulation``, ``--federation-config num-supernodes=3``)."""
    out = tmp_path / "job"
    with loopback_chain(None) as url:
        prepared = prepare_run(job_spec(participants=3, rounds=2), out, url)
        run_config = write_run_config(tmp_path / "run-config.toml", run_config_for(prepared, url))
        dirs = [prepared.participant_dir(i) for i in range(3)]
        with LoopbackDeployment(tmp_path / "flwr", dirs, simulation=True) as engine:
            finished = engine.run(EXAMPLE_APP, run_config, timeout_s=300)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "3 simulated SuperNodes" in finished.stdout + finished.stderr
    assert not (out / "error.txt").exists()
    rounds = _history(out)["rounds"]
    assert [(r["status"], r["included"]) for r in rounds] == [("finalised", [0, 1, 2])] * 2
    assert main(["verify", str(out)]) == 0
    assert "2 finalised with quorum" in capsys.readouterr().out
