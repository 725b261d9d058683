"""``hefl flower simulate --strategy secagg-multikey``: the multi-key job from the command line.

One job (3 clients, 2 rounds, a 512-bit group with ``--allow-insecure-keys``: this is about the
command and the run directory, not key strength) on the simulation engine with a real Anvil; then
``hefl verify`` and ``hefl history --run`` on its directory, and its model against ``hefl run
--strategy secagg-multikey`` in process on the same split, seed and τ (the scheme's arithmetic
is exact on quantised integers, so Flower adds transport, not arithmetic).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from hefl.agents.audit import ExportedHistory, audit
from hefl.agents.job import InProcessJob, JobConfig
from hefl.chain import LocalBlobStore, connect_embedded
from hefl.cli.main import main
from hefl.control import FixedTauController
from hefl.data import SplitConfig
from hefl.learning.strategy import LearningConfig

pytestmark = pytest.mark.timeout(300)

CLIENTS, ROUNDS, TAU, ETA, KAPPA1 = 3, 2, 3, 0.05, 512
ARGV = [
    "flower", "simulate", "--strategy", "secagg-multikey", "--clients", str(CLIENTS),
    "--rounds", str(ROUNDS), "--tau", str(TAU), "--eta", str(ETA), "--key-bits", str(KAPPA1),
    "--allow-insecure-keys",
]  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("multikey-cli") / "run"
    code = main([*ARGV, "--out", str(out)])
    return code, out


def test_the_command_writes_a_run_directory_that_verifies(run, capsys):
    code, out = run
    assert code == 0
    history = json.loads((out / "history.json").read_text())
    assert [r["status"] for r in history["rounds"]] == ["finalised"] * ROUNDS
    assert all(r["included"] == list(range(CLIENTS)) for r in history["rounds"])
    config = json.loads((out / "config.json").read_text())
    assert config["strategy"]["strategy"] == "secagg-multikey"
    for name in ("metrics.csv", "deployment.json", "model.npy"):
        assert (out / name).is_file()
    assert not (out / "error.txt").exists()

    report = audit(ExportedHistory.load(out), LocalBlobStore(out / "blobs"))
    assert report.ok and report.finalised == ROUNDS, report.problems
    assert main(["verify", str(out)]) == 0
    assert f"{ROUNDS} finalised with quorum" in capsys.readouterr().out
    assert main(["history", "--run", str(out)]) == 0
    assert capsys.readouterr().out.count("finalised") >= ROUNDS


def test_the_model_equals_hefl_runs_secagg_multikey_in_process(run, tmp_path):
    _, out = run
    reference = InProcessJob(
        JobConfig(
            split=SplitConfig(participants=CLIENTS, n_samples=None, seed=0),
            learning=LearningConfig(eta=ETA),
            strategy="secagg-multikey",
            key_bits=KAPPA1,
            allow_insecure_keys=True,
            workers=1,
        ),
        connect_embedded(),
        LocalBlobStore(tmp_path / "reference"),
    ).run(FixedTauController(TAU, ROUNDS))
    assert np.max(np.abs(np.load(out / "model.npy") - reference.model)) < 1e-9


def test_options_of_the_main_scheme_only_are_refused_naming_the_flag(tmp_path, capsys):
    for argv, flag in (
        (["--controller", "joint", "--energy", "5"], "--controller joint"),
        (["--key-bits", "1024"], "--key-bits 1024"),
        (["--clients", "1"], "--clients 1"),
        (["--reply-timeout", "0"], "--reply-timeout 0"),
    ):
        argv = [*ARGV[:-1], *argv] if flag == "--key-bits 1024" else [*ARGV, *argv]
        assert main([*argv, "--out", str(tmp_path / "x")]) == 1
        err = capsys.readouterr().err
        assert err.startswith("hefl flower: error: ") and flag in err, err
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
