"""``hefl experiment dso`` (small) and the bench's result shape."""

from __future__ import annotations

import json

from hefl.experiments.dso import VARIANTS, run_dso_experiment


def test_experiment_writes_curves_counts_and_report(tmp_path) -> None:
    summary = run_dso_experiment(
        tmp_path, iterations=60, seeds=2, key_bits=512, allow_insecure=True, encrypted_iterations=2
    )
    assert set(summary["final_mse_mean"]) == set(VARIANTS)
    header = (tmp_path / "mse.csv").read_text().splitlines()[0]
    assert header.startswith("k,private_mean,private_p10,private_p90,dsgd_mean")
    assert (tmp_path / "mse.png").stat().st_size > 1000
    ops, expected = summary["operations_per_iteration"], summary["expected_per_iteration"]
    assert ops["encryptions"] == expected["encryptions"] == 15
    assert ops["decryptions"] == expected["decryptions"] == 10
    assert expected["unpacked_encryptions"] == 45 and expected["unpacked_decryptions"] == 30
    assert "2|E|·d = 30" in (tmp_path / "report.md").read_text()
    assert json.loads((tmp_path / "summary.json").read_text())["seeds"] == 2
