"""A run outlives its process: `hefl run` writes its directory round by round (the embedded
chain's database included), `hefl history --run` and `hefl verify` read the rounds back with
contract calls on that chain, a run killed mid-round keeps what it finished and `--resume`
finishes it with the model an uninterrupted run reaches; a divergent η stops with the safe η.

Small keys (`--allow-insecure-keys`) keep these runs to seconds; the protocol is the same.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hefl.agents.identity import PASSWORD_ENV
from hefl.chain import connect_embedded
from hefl.chain.artifact import load_artifact
from hefl.cli.main import main

FAST = ["--key-bits", "512", "--allow-insecure-keys", "--workers", "1", "--quiet", "--tau", "3"]
#: Upper bound on any wait here, so a stuck run fails the test instead of hanging it.
WAIT_S = 180.0


def hefl(*args: str) -> list[str]:
    return [sys.executable, "-m", "hefl.cli.main", *args]


def exported_rounds(out: Path) -> int:
    try:
        return len(json.loads((out / "history.json").read_text())["rounds"])
    except (OSError, ValueError, KeyError):
        return 0


def blob_count(out: Path) -> int:
    return sum(1 for p in (out / "blobs").rglob("*") if p.is_file()) if out.exists() else 0


def contract_rounds(out: Path) -> list[tuple]:
    """Every round as `getRound` returns it on the run's persisted chain, through a contract
    object built from the artifact's ABI alone (nothing of hefl's ledger client)."""
    chain = connect_embedded(state=out / "chain.db")
    address = json.loads((out / "deployment.json").read_text())["address"]
    contract = chain.w3.eth.contract(address=address, abi=load_artifact().abi_list)
    count = contract.functions.roundCount().call()
    return [tuple(contract.functions.getRound(g).call()) for g in range(count)]


def one_error_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "run"
    with pytest.MonkeyPatch.context() as env:
        env.delenv(PASSWORD_ENV, raising=False)  # a run started without a password
        assert main(["run", "--rounds", "5", *FAST, "--out", str(out)]) == 0
    return out


def test_a_run_killed_in_round_3_keeps_rounds_0_to_2_and_resume_matches(
    uninterrupted: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "kill-and-resume")  # the run keeps its key, encrypted
    out = tmp_path / "run"
    process = subprocess.Popen(
        hefl("run", "--rounds", "5", *FAST, "--out", str(out)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + WAIT_S
        while exported_rounds(out) < 3:  # rounds 0-2 done and exported
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        blobs = blob_count(out)
        while blob_count(out) == blobs:  # round 3 under way: its global model was stored
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)

    # Rounds 0-2 are exported, and the persisted chain holds exactly them, all finalised.
    assert exported_rounds(out) == 3
    assert [r[2] for r in contract_rounds(out)] == [3, 3, 3]  # RoundStatus.Finalised
    assert main(["verify", str(out)]) == 0
    report = capsys.readouterr().out
    assert report.startswith("OK: 3 rounds") and "persisted chain" in report

    key = out / "party.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert json.loads(key.read_text())["cipher"] == "aes-256-gcm"  # encrypted at rest
    monkeypatch.setenv(PASSWORD_ENV, "a wrong password")
    assert main(["run", "--resume", str(out), "--quiet"]) == 1
    assert "wrong password" in one_error_line(capsys.readouterr().err)
    monkeypatch.setenv(PASSWORD_ENV, "kill-and-resume")
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert [r[2] for r in contract_rounds(out)] == [3] * 5
    assert [r[0] for r in contract_rounds(out)] == [0, 3, 6, 9, 12]  # iteration t per round
    np.testing.assert_array_equal(np.load(out / "model.npy"), np.load(uninterrupted / "model.npy"))
    losses = [json.loads((d / "history.json").read_text()) for d in (out, uninterrupted)]
    assert [r["metrics"]["train_loss"] for r in losses[0]["rounds"]] == [
        r["metrics"]["train_loss"] for r in losses[1]["rounds"]
    ]
    assert main(["verify", str(out)]) == 0


def test_without_a_password_no_key_is_kept_and_resume_says_what_to_set(
    uninterrupted: Path, capsys, monkeypatch
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    assert not (uninterrupted / "party.key").exists()
    assert main(["run", "--resume", str(uninterrupted), "--quiet"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "kept no Paillier key" in line and PASSWORD_ENV in line and "--password-file" in line


def test_resume_takes_the_runs_own_options(uninterrupted: Path, capsys) -> None:
    assert main(["run", "--resume", str(uninterrupted), "--eta", "0.2", "--quiet"]) == 1
    err = one_error_line(capsys.readouterr().err)
    assert "--resume continues with the run's own options; drop --eta" in err
    assert main(["run", "--rounds", "1", *FAST, "--out", str(uninterrupted)]) == 1
    assert f"continue it with --resume {uninterrupted}" in one_error_line(capsys.readouterr().err)


def test_history_prints_what_the_contract_says_and_verify_flags_an_edited_export(
    uninterrupted: Path, tmp_path: Path, capsys
) -> None:
    run = tmp_path / "edited"
    shutil.copytree(uninterrupted, run)
    history = json.loads((run / "history.json").read_text())
    true_tau = history["rounds"][2]["tau"]
    history["rounds"][2]["tau"] = 77
    history["rounds"][1]["aggregate_hash"] = "0x" + "ab" * 32
    (run / "history.json").write_text(json.dumps(history))

    assert main(["history", "--run", str(run), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    on_chain = contract_rounds(run)
    assert printed[2]["tau"] == true_tau == on_chain[2][1]
    assert printed[1]["aggregate_hash"] == "0x" + bytes(on_chain[1][4]).hex()
    assert main(["history", "--run", str(run)]) == 0
    assert "contract calls on the run's chain" in capsys.readouterr().out

    assert main(["verify", str(run)]) == 1
    captured = capsys.readouterr()
    problems = [line for line in captured.out.splitlines() if line.startswith("  - ")]
    assert len(problems) == 2, captured.out
    assert "history.json round 2 tau: says 77, the ledger 3" in problems[1]
    assert "history.json round 1 aggregate_hash" in problems[0]
    one_error_line(captured.err)


def blob_file(run: Path, digest: str) -> Path:
    return run / "blobs" / digest[2:4] / digest[2:]


def chain_carried(history: dict) -> list[str]:
    """The hashes of every blob the ledger's transactions carried in calldata: each submission's
    model and gradients, each committed aggregate."""
    hashes = []
    for r in history["rounds"]:
        for s in r["submissions"]:
            hashes += [s["model_hash"], s["extra_hash"]]
        hashes += [r["aggregate_hash"]] if r["aggregate_hash"] else []
    return hashes


def test_verify_says_missing_and_blames_only_what_differs(
    uninterrupted: Path, tmp_path: Path, capsys
) -> None:
    # A global model never travels in calldata: deleted from the store, it is missing.
    run = tmp_path / "blobs-gone"
    shutil.copytree(uninterrupted, run)
    history = json.loads((run / "history.json").read_text())
    model = history["rounds"][1]["global_model_hash"]
    blob_file(run, model).unlink()
    assert main(["verify", str(run)]) == 1
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if line.startswith("  - ")]
    assert problems == [f"  - round 1 global model: missing (no blob {model} in the store)"]
    assert "never stored" not in out and "restored" not in out

    # Only a gradient blob's hash edited in an export that has no chain to consult: the edited
    # hash is blamed (its blob is missing), not round 1's aggregate.
    offline = tmp_path / "offline"
    shutil.copytree(uninterrupted, offline)
    (offline / "chain.db").unlink()
    history["rounds"][1]["submissions"][2]["extra_hash"] = "0x" + "cd" * 32
    (offline / "history.json").write_text(json.dumps(history))
    assert main(["verify", str(offline)]) == 1
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if line.startswith("  - ")]
    assert len(problems) == 1 and "round 1 extra blob of participant 2: missing" in problems[0]
    assert "aggregate" not in problems[0] and "not consulted" in out


def test_a_divergent_eta_stops_with_the_safe_eta_and_keeps_its_rounds(
    tmp_path: Path, capsys
) -> None:
    """`hefl run --eta 100 --rounds 30` used to train 7 rounds to a loss of 1e64 and crash in the
    decoder, leaving only blobs/; now it stops after the round that diverged, says so in one line
    naming η and the largest safe η, and keeps that round exported and verifiable."""
    out = tmp_path / "run"
    assert main(["run", "--eta", "100", "--rounds", "30", *FAST, "--out", str(out)]) == 1
    err = one_error_line(capsys.readouterr().err)
    assert "decode" not in err and "learning diverges" in err and "η = 100" in err
    bound = float(err.split("largest safe η < ")[1].split(" ")[0])
    assert 0 < bound < 100
    assert "round 0 is kept in" in err
    for name in ("history.json", "metrics.csv", "deployment.json", "config.json", "chain.db"):
        assert (out / name).exists(), name
    assert exported_rounds(out) == 1
    assert main(["verify", str(out)]) == 0
    capsys.readouterr()

    # The bound is 2/L of the least smooth participant: recompute it from the data.
    from hefl.data import SplitConfig, load_dataset, prepare

    data = prepare(load_dataset("diabetes"), SplitConfig(participants=3, n_samples=None))
    largest = max(
        np.linalg.eigvalsh(p.X.T @ p.X / p.X.shape[0])[-1] for p in data.parts
    )  # fmt: skip
    assert bound == pytest.approx(2 / largest, rel=1e-3)

    auto = tmp_path / "auto"
    assert main(["run", "--eta", "auto", "--rounds", "2", *FAST, "--out", str(auto)]) == 0
    assert f"η = {1 / largest:.4g}" in capsys.readouterr().out  # 1/L: half the bound
    rounds = json.loads((auto / "history.json").read_text())["rounds"]
    losses = [r["metrics"]["train_loss"] for r in rounds]
    assert losses[1] < losses[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--key-bits", "1000"], "add --allow-insecure-keys"),
        (["--eta", "-1"], "--eta -1 must be > 0"),
        (["-n", "400"], "--dataset diabetes -n 400: 354 training samples cannot be shared"),
    ],
)
def test_bad_options_name_their_flag_before_anything_goes_on_chain(
    argv: list[str], message: str, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "run"
    assert main(["run", *argv, "--quiet", "--out", str(out)]) == 1
    err = one_error_line(capsys.readouterr().err)
    assert message in err and "allow_insecure=" not in err
    assert not (out / "deployment.json").exists()


def test_the_run_directory_files_are_replaced_atomically(uninterrupted: Path) -> None:
    """No temporary file is left behind and the exports agree with each other."""
    leftovers = [p.name for p in uninterrupted.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    rows = (uninterrupted / "metrics.csv").read_text().splitlines()
    history = json.loads((uninterrupted / "history.json").read_text())
    assert len(rows) == 1 + len(history["rounds"]) == 6
    assert not (uninterrupted / "party.key").exists()  # no password, no key on disk
    assert os.access(uninterrupted / "model.npy", os.R_OK)


def test_the_event_log_must_tell_what_the_state_says(uninterrupted: Path) -> None:
    """`hefl verify` reads the events too: a node whose state disagrees with its own log (here a
    view that misreports round 1's τ) is caught by the events, round by round."""
    from dataclasses import replace

    from hefl.agents.audit import audit, open_run_ledger
    from hefl.chain import LedgerClient, LocalBlobStore

    honest = open_run_ledger(uninterrupted)
    assert honest is not None
    report = audit(honest, LocalBlobStore(uninterrupted / "blobs"))
    assert report.ok and report.events == 5 * 8  # opened, 3 submitted, commit, 2 votes, final

    class Misreporting(LedgerClient):
        def round_submissions(self, round: int):
            record, submissions = super().round_submissions(round)
            return (replace(record, tau=record.tau + 1) if round == 1 else record), submissions

    lying = Misreporting.at(honest.chain, honest.address)
    problems = audit(lying, LocalBlobStore(uninterrupted / "blobs")).problems
    assert [p.split(":")[0] for p in problems] == ["round 1 events"]


def test_verify_restores_from_the_chain_the_blobs_its_calldata_carried(
    uninterrupted: Path, tmp_path: Path, capsys
) -> None:
    """The run's ledger carries every submission and aggregate in calldata: deleted from
    DIR/blobs, they are read back from the persisted chain, hash-checked, and the job verifies;
    --restore-blobs writes them back byte for byte. Without a chain they are missing."""
    run = tmp_path / "calldata"
    shutil.copytree(uninterrupted, run)
    history = json.loads((run / "history.json").read_text())
    carried = chain_carried(history)
    assert len(carried) == 5 * (3 * 2 + 1)  # 5 rounds: 3 submissions of 2 blobs, 1 aggregate
    originals = {h: blob_file(run, h).read_bytes() for h in carried}
    for h in carried:
        blob_file(run, h).unlink()

    assert main(["verify", str(run)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: 5 rounds") and "persisted chain" in out
    restored = [line for line in out.splitlines() if line.startswith("  + ")]
    assert len(restored) == len(carried), out
    assert all(line.endswith(")") and "restored from the chain (0x" in line for line in restored)
    assert "round 1 extra blob of participant 2: restored from the chain" in out
    assert not any(blob_file(run, h).exists() for h in carried)  # not written back unasked

    assert main(["verify", str(run), "--restore-blobs"]) == 0
    assert f"written back to {run / 'blobs'}" in capsys.readouterr().out
    assert {h: blob_file(run, h).read_bytes() for h in carried} == originals
    assert main(["verify", str(run)]) == 0
    assert "restored" not in capsys.readouterr().out  # the store is whole again

    offline = tmp_path / "no-chain"
    shutil.copytree(uninterrupted, offline)
    (offline / "chain.db").unlink()
    gradients = history["rounds"][1]["submissions"][2]["extra_hash"]
    blob_file(offline, gradients).unlink()
    assert main(["verify", str(offline), "--restore-blobs"]) == 1
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if line.startswith("  - ")]
    assert problems == [f"  - round 1 extra blob of participant 2: missing (no blob {gradients} "
                        "in the store)"]  # fmt: skip
    assert "not consulted" in out and "restored" not in out
    assert not blob_file(offline, gradients).exists()


def test_a_node_that_serves_forged_calldata_restores_nothing(
    uninterrupted: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    """A lying node: every transaction's calldata comes back as other bytes. Nothing that does
    not hash to the recorded hash is ever taken, so the deleted blob stays missing."""
    import hefl.chain.availability as availability

    run = tmp_path / "forged"
    shutil.copytree(uninterrupted, run)
    history = json.loads((run / "history.json").read_text())
    gradients = history["rounds"][1]["submissions"][2]["extra_hash"]
    blob_file(run, gradients).unlink()
    monkeypatch.setattr(availability, "calldata_blobs", lambda ledger, tx: (b"forged bytes",))
    assert main(["verify", str(run), "--restore-blobs"]) == 1
    out = capsys.readouterr().out
    assert "round 1 extra blob of participant 2: missing" in out and "restored" not in out
    assert not blob_file(run, gradients).exists()


def test_a_password_file_run_keeps_its_key_sealed_and_resumes_with_it(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """--password-file: the run writes run.json without the file's path, keeps party.key (0600,
    not the key in the clear), and --resume with the same flag continues on the ledger."""
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    secret = tmp_path / "pw"
    secret.write_text("a password for this run\n")
    out = tmp_path / "run"
    assert (
        main(["run", *FAST, "--rounds", "1", "--password-file", str(secret), "--out", str(out)])
        == 0
    )
    options = json.loads((out / "run.json").read_text())
    assert "password_file" not in options and str(secret) not in json.dumps(options)
    key = out / "party.key"
    assert key.exists() and key.stat().st_mode & 0o777 == 0o600
    assert "a password" not in key.read_text()
    capsys.readouterr()
    assert main(["run", "--resume", str(out), "--password-file", str(secret), "--quiet"]) == 0
    assert exported_rounds(out) >= 1
