"""The paper's experiments at toy grid sizes (two seeds, one partition arm), and the CLI."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from hefl.cli.main import main
from hefl.control import FixedTauController
from hefl.errors import ConfigError
from hefl.experiments.adaptive import (
    ExperimentConfig,
    literal_feasibility,
    load_prepared,
    run_experiments,
    simulate,
)
from hefl.learning import linear

TINY = ExperimentConfig(
    dataset="boston",
    participants=(3,),
    fig5_participants=(3, 5),
    taus=(10, 40),
    energy_factors=(0.2, 1.0),
    partitions=("iid",),
    seeds=(0, 1),
)


def test_literal_table_1_boston_n5_fits_tau_38_at_most() -> None:
    (row,) = literal_feasibility(TINY, [5])
    assert row["largest_tau_one_round"] == 38
    assert row["most_local_steps"] == 38
    assert row["local_step_seconds"] == pytest.approx(10e6 * 14 * 81 / 1.5e9)


def test_simulate_follows_the_plaintext_reference() -> None:
    data = load_prepared("boston", 3, 0, "iid")
    trace = simulate(data, FixedTauController(tau=3, rounds=2), eta=0.001)
    w = np.zeros(data.model_size)
    for _ in range(2):
        w = linear.aggregate(
            [linear.local_steps(w, p.X, p.y, 0.001, 3) for p in data.parts], data.sizes
        )
    assert trace.iterations == 6
    assert trace.final_train_loss == pytest.approx(linear.loss(w, data.X_train, data.y_train))
    assert all(r.phi is not None and r.phi > 0 for r in trace.rounds)


def test_run_experiments_writes_csv_png_and_report(tmp_path: Path) -> None:
    paths = run_experiments(TINY, ["fig2", "fig4", "fig5"], tmp_path)
    for key in ("fig2_boston", "fig4_boston", "fig5_boston", "literal_boston", "report"):
        assert paths[key].exists()
    for key in ("sweep_iid_png", "fig4_iid_png", "fig5_iid_png"):
        assert paths[key].stat().st_size > 0
    with paths["fig2_boston"].open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["tau"]) for r in rows] == [10, 40]
    # per-seed values beside the mean and the band
    for r in rows:
        seeds = [float(r["train_loss_s0"]), float(r["train_loss_s1"])]
        assert float(r["train_loss_mean"]) == pytest.approx(sum(seeds) / 2)
        assert float(r["train_loss_low"]) <= min(seeds) <= max(seeds) <= float(r["train_loss_high"])
    with paths["fig2_boston_runs"].open() as handle:
        runs = list(csv.DictReader(handle))
    assert all(float(r["energy_used"]) <= float(r["energy"]) for r in runs)
    # strictly fixed τ: every round of the sweep runs the τ it names
    assert all(set(r["taus"].split()) <= {r["tau"]} for r in runs)
    with paths["fig4_boston"].open() as handle:
        fig4 = list(csv.DictReader(handle))
    assert len(fig4) == 2 * 3 * 2  # budgets × schemes × (the chosen ξ and the one beside it)
    report = paths["report"].read_text()
    assert "Table 1 taken literally" in report
    assert "best fixed τ depends on N" in report
    assert "joint ≤ only-resource ≤ only-aggregation" in report
    assert "widest at small energy" in report
    assert "One ξ for every figure: ξ = 3000 s total (Table 1 × 10)" in report
    for stated in ("50/50", "10 × the current τ", "shortened last round", "PBFT", "8×"):
        assert stated in report
    assert "2 seeds" in report


def test_cli_experiment_fig4_fish(tmp_path: Path) -> None:
    argv = ["experiment", "fig4", "--dataset", "fish", "--out", str(tmp_path), "--quiet"]
    assert main([*argv, "--seeds", "2", "--partition", "iid", "--alt-xi-factor", "0"]) == 0
    assert (tmp_path / "fig4_fish.csv").exists()
    assert (tmp_path / "report.md").exists()


def test_bad_settings_raise() -> None:
    with pytest.raises(ConfigError):
        ExperimentConfig(dataset="mnist")
    with pytest.raises(ConfigError):
        ExperimentConfig(xi_factor=0.0)
    with pytest.raises(ConfigError):
        ExperimentConfig(seeds=())
    with pytest.raises(ConfigError):
        ExperimentConfig(partitions=("sorted",))
    with pytest.raises(ConfigError):
        run_experiments(TINY, ["fig9"], "/tmp/unused")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_encrypted_job_follows_the_plaintext_trajectory() -> None:
    from hefl.experiments.adaptive import run_job, scheme_controller

    encrypted = dataclasses.replace(TINY, encrypted=True, key_bits=1024)
    traces = [
        run_job(config, 3, scheme_controller(config, "only-resource", 100.0, 3000.0, 10), seed=0)
        for config in (TINY, encrypted)
    ]
    plain, enc = traces
    assert [r.tau for r in enc.rounds] == [r.tau for r in plain.rounds]
    for a, b in zip(enc.rounds, plain.rounds, strict=True):
        assert a.train_loss == pytest.approx(b.train_loss, rel=1e-6)
        assert a.energy == pytest.approx(b.energy)


def test_the_sensitivity_and_cost_studies_write_their_tables(tmp_path: Path) -> None:
    config = dataclasses.replace(TINY, dataset="fish", energy_factors=(1.0,))
    paths = run_experiments(config, ["sensitivity", "costs"], tmp_path)
    with paths["sensitivity"].open() as handle:
        cells = list(csv.DictReader(handle))
    assert len(cells) == 24  # 3 first rounds × cap on/off × last round × 2 ξ, one budget
    assert {c["verdict"] for c in cells} <= {"holds", "ties", "fails"}
    assert paths["sensitivity_png"].stat().st_size > 0
    with paths["costs"].open() as handle:
        fused = list(csv.DictReader(handle))
    assert {r["scheme"] for r in fused} == {"joint", "only-resource", "only-aggregation"}
    report = paths["report"].read_text()
    assert "Sensitivity: Fig. 4's joint ≤ only-resource under 24 readings" in report
    assert "readings" in report and "◀ default" in report
    assert "hefl's own cost model: the fused update" in report
    assert "Verdicts at a glance" in report and "Claim (fused cost)" in report
