"""``hefl experiment dso`` (small) and the bench's result shape."""

from __future__ import annotations

import json

import pytest

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


def test_bench_dso_command(capsys) -> None:
    """The README's `hefl bench dso` (full: 2048-bit keys); no timing asserted, only its shape."""
    from hefl.cli.main import main

    assert main(["bench", "dso", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["key_bits"], result["agents"], result["edges"], result["d"]) == (2048, 5, 5, 3)
    assert result["slots_per_ciphertext"] == 3 and result["quick"] is False
    per_iteration, floor = result["seconds_per_iteration"], result["floor_seconds_per_iteration"]
    assert result["ratio"] == per_iteration / floor
    counts = result["agent0_counts"]  # agent 0 of the ring: d encryptions, deg responses per it.
    assert counts["encryptions"] * 2 == counts["rerandomizations"] * 3 == counts["decryptions"] * 3
    from hefl.bench import load_bench

    assert "Paillier floor" in load_bench("dso").render(result)  # what `hefl bench dso` prints


def test_experiment_dso_command_passes_seeds_and_iterations(tmp_path, capsys) -> None:
    """`hefl experiment dso --seeds 2 --iterations 30` runs exactly that (not the defaults)."""
    from hefl.cli.main import main

    argv = ["experiment", "dso", "--out", str(tmp_path), "--seeds", "2", "--iterations", "30"]
    assert main([*argv, "--key-bits", "512", "--allow-insecure-keys"]) == 0
    assert "private/DSGD" in capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["iterations"], summary["seeds"], summary["key_bits"]) == (30, 2, 512)
    rows = (tmp_path / "mse.csv").read_text().splitlines()
    assert len(rows) == 1 + 31  # header, then k = 0…30


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--key-bits", "512"], "--allow-insecure-keys"),
        (["--iterations", "0"], "--iterations"),
        (["--seeds", "0"], "--seeds"),
    ],
)
def test_experiment_dso_command_refuses_bad_flags(tmp_path, capsys, extra, named) -> None:
    from hefl.cli.main import main

    assert main(["experiment", "dso", "--out", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert named in err and len(err.splitlines()) == 1
    assert not (tmp_path / "summary.json").exists()


def test_iterations_flag_is_refused_outside_dso(tmp_path, capsys) -> None:
    from hefl.cli.main import main

    assert main(["experiment", "fig4", "--out", str(tmp_path), "--iterations", "5"]) == 2
    assert "--iterations" in capsys.readouterr().err


@pytest.mark.slow
def test_experiment_dso_command_at_defaults(tmp_path, capsys) -> None:
    """The README's `hefl experiment dso --out DIR`: 5000 iterations, 5 seeds, 2048-bit keys."""
    from hefl.cli.main import main

    assert main(["experiment", "dso", "--out", str(tmp_path)]) == 0
    assert "private/DSGD" in capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["iterations"], summary["seeds"], summary["key_bits"]) == (5000, 5, 2048)
    assert summary["private_over_dsgd"] < 5 and summary["final_mse_mean"]["private"] < 1e-3
    assert summary["operations_per_iteration"]["decryptions"] == 10
