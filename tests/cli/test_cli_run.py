"""`hefl run` and `hefl verify` as a user calls them: outputs, one-line errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hefl.cli.main import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    assert main(["run", "--rounds", "2", "--tau", "3", "--quiet", "--out", str(out)]) == 0
    return out


def test_run_writes_history_metrics_and_deployment(run_dir: Path) -> None:
    history = json.loads((run_dir / "history.json").read_text())
    assert [r["status"] for r in history["rounds"]] == ["finalised", "finalised"]
    assert all(r["tau"] == 3 for r in history["rounds"])
    assert all("train_loss" in r["metrics"] for r in history["rounds"])
    assert (run_dir / "metrics.csv").read_text().count("\n") == 3
    deployment = json.loads((run_dir / "deployment.json").read_text())
    assert deployment["address"] == history["deployment"]["address"]


def test_verify_passes_then_refuses_a_tampered_blob(run_dir: Path, capsys) -> None:
    assert main(["verify", str(run_dir)]) == 0
    assert "contract calls from the run's persisted chain" in capsys.readouterr().out
    history = json.loads((run_dir / "history.json").read_text())
    digest = history["rounds"][1]["aggregate_hash"][2:]
    blob = run_dir / "blobs" / digest[:2] / digest
    original = blob.read_bytes()
    try:
        blob.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        assert main(["verify", str(run_dir)]) == 1
        captured = capsys.readouterr()
        assert "round 1 aggregate: tampered" in captured.out
        assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    finally:
        blob.write_bytes(original)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--scheme", "pow-race", "--eta", "0.1"], "--eta only apply to --scheme ledger"),
        (["run", "--blocks", "3"], "--blocks only apply to --scheme pow-race"),
        (["run", "--controller", "joint"], "needs an energy budget"),
        (["run", "--dataset", "mnist"], "unknown data set 'mnist'"),
        (["run", "--key-bits", "1024"], "1024"),
        (["run", "--mode", "literal", "--tau", "500"], "at most τ="),
    ],
)
def test_bad_input_is_one_readable_line(argv, message, tmp_path: Path, capsys) -> None:
    assert main([*argv, "--quiet", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_history_of_a_finished_run_shows_its_losses(run_dir: Path, capsys) -> None:
    assert main(["history", "--run", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "contract calls on the run's chain" in out
    history = json.loads((run_dir / "history.json").read_text())
    for entry in history["rounds"]:
        assert f"{entry['metrics']['train_loss']:.6f}" in out
    assert main(["history", "--run", str(run_dir), "--json"]) == 0
    rounds = json.loads(capsys.readouterr().out)
    assert [r["metrics"]["train_loss"] for r in rounds] == [
        e["metrics"]["train_loss"] for e in history["rounds"]
    ]


def test_a_closed_pipe_ends_quietly(run_dir: Path) -> None:
    """`hefl history --run DIR | head`: a reader that went away ends the command quietly."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte: every write fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "hefl.cli.main", "history", "--run", str(run_dir)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode == 0
