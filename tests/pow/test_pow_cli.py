"""``hefl race run|history|verify`` (and the old ``hefl run --scheme pow-race``, ``hefl verify`` and
``hefl history`` on a pow-race chain), including a dishonest aggregator whose block the chain
accepts but ``hefl verify`` refuses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hefl.chain import LocalBlobStore, connect_embedded
from hefl.cli.main import main
from hefl.learning.plain import decode_plain_vector, encode_plain_vector
from hefl.pow.audit import ExportedPowHistory, audit_pow
from hefl.pow.job import PowRaceConfig, PowRaceJob, export_pow_history
from hefl.pow.miner import search
from hefl.pow.model import aggregate_step, local_gradient
from hefl.pow.puzzle import PuzzleHeader

FAST = [
    "--samples",
    "120",
    "--difficulty",
    "64",
    "--race",
    "virtual",
    "--retarget-every",
    "2",
    "--quiet",
]


def test_run_pow_race_then_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["race", "run", *FAST, "--blocks", "3", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "pow-race on digits" in text and "Alice (60 images), Bob (60 images)" in text
    assert "Blocks:" in text and "hashes Agg1" in text and "hashes Agg2" in text
    assert "verify: OK: 3 pow blocks" in text
    assert (out / "pow_history.json").is_file() and (out / "pow_report.json").is_file()
    report = json.loads((out / "pow_report.json").read_text())
    assert len(report["rounds"]) == 3 and sum(report["wins"].values()) == 3
    history = json.loads((out / "pow_history.json").read_text())
    assert [b["winner"] is None for b in history["blocks"]] == [True, False, False, False]
    assert main(["verify", str(out)]) == 0
    verified = capsys.readouterr().out
    assert "OK: 3 pow blocks" in verified and "3 models re-derived" in verified
    assert "the chain itself was not consulted" in verified


def test_race_history_and_verify_of_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["race", "run", *FAST, "--blocks", "2", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["race", "verify", str(out)]) == 0
    assert "OK: 2 pow blocks" in capsys.readouterr().out
    for argv in (["race", "history", "--run", str(out)], ["history", "--run", str(out)]):
        assert main(argv) == 0
        text = capsys.readouterr().out
        assert (
            "2 blocks mined" in text and "genesis" in text and "the chain was not consulted" in text
        )
        assert "Agg1" in text or "Agg2" in text
    assert main(["race", "history", "--run", str(out), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["blocks"]) == 3 and payload["blocks"][0]["winner"] is None


def test_old_spelling_is_deprecated_and_forwards(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = ["run", "--scheme", "pow-race", *FAST, "--blocks", "1", "--out", str(out)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert "--scheme pow-race is deprecated; use `hefl race run`" in captured.err
    assert "pow-race on digits" in captured.out and "verify: OK: 1 pow blocks" in captured.out
    assert (out / "pow_history.json").is_file()


def test_race_verify_refuses_a_directory_that_is_not_a_race(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "blobs").mkdir()
    assert main(["race", "verify", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "not a pow-race run" in err and "hefl verify" in err and err.count("\n") == 1
    assert main(["race"]) == 2  # the group alone prints its help


def _dishonest_chain(tmp_path: Path) -> tuple[Path, str]:
    """Two honest blocks, then Agg2 writes a model built from Alice's gradient alone."""
    config = PowRaceConfig(
        samples=120, rounds=2, difficulty=16, retarget_every=0, race="virtual", gamma=100.0
    )
    blobs = LocalBlobStore(tmp_path / "blobs")
    job = PowRaceJob(config, connect_embedded(8), blobs)
    job.run()
    ledger, t = job.ledger, job.ledger.current_round()
    for owner in job.owners:
        owner.contribute(ledger, blobs, t)
    previous = ledger.head_model_hash()
    w_prev = decode_plain_vector(blobs.get(previous))
    alice = job.owners[0]
    forged = aggregate_step(
        w_prev, [local_gradient(w_prev, alice.X, alice.y)], job.alpha, config.gamma
    )
    forged_hash = blobs.put(encode_plain_vector(forged))
    cheat = job.aggregators[1]
    header = PuzzleHeader(
        ledger.chain.chain_id, ledger.address, t, previous, forged_hash, cheat.address
    )
    nonce, _ = search(header.prefix, ledger.current_target(), 0, 1, 1 << 20)
    assert nonce is not None
    ledger.as_sender(cheat.address).submit_block(t, previous, forged_hash, nonce)  # accepted
    (tmp_path / "pow_history.json").write_text(
        json.dumps(export_pow_history(ledger, job.names), indent=2)
    )
    return tmp_path, "0x" + forged_hash.hex()


def test_verify_refuses_a_model_that_does_not_follow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory, forged = _dishonest_chain(tmp_path)
    assert main(["verify", str(directory)]) == 1
    captured = capsys.readouterr()
    assert "1 problem(s)" in captured.out
    assert f"block 3: the model {forged} written by Agg2 does not follow" in captured.out
    assert "problem(s) found" in captured.err
    report = audit_pow(ExportedPowHistory.load(directory), LocalBlobStore(directory / "blobs"))
    assert (report.blocks, report.models, report.proofs) == (3, 2, 3)  # the PoW itself is fine


def test_verify_notices_a_tampered_gradient(tmp_path: Path) -> None:
    directory, _ = _dishonest_chain(tmp_path)
    history = ExportedPowHistory.load(directory)
    blobs = LocalBlobStore(directory / "blobs")
    gradient = history.gradients(1)[1]
    path = blobs.path_for(gradient)
    vector = decode_plain_vector(path.read_bytes())
    path.write_bytes(encode_plain_vector(vector + np.float64(1e-9)))
    report = audit_pow(history, blobs)
    assert any("block 1 gradient of owner 1" in p and "tampered" in p for p in report.problems)


def test_verify_refuses_a_forged_history_entry(tmp_path: Path) -> None:
    directory, _ = _dishonest_chain(tmp_path)
    document = json.loads((directory / "pow_history.json").read_text())
    document["blocks"][1]["nonce"] += 1  # a wrong nonce in the record
    report = audit_pow(ExportedPowHistory(document), LocalBlobStore(directory / "blobs"))
    assert any("block 1: digest" in p and "not below its target" in p for p in report.problems)


@pytest.mark.anvil
def test_run_history_and_verify_on_anvil(
    anvil_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["race", "run", *FAST, "--blocks", "2", "--rpc", anvil_url, "--out", str(out)]) == 0
    capsys.readouterr()
    address = json.loads((out / "pow_history.json").read_text())["address"]
    assert main(["history", "--rpc", anvil_url, "--address", address]) == 0
    text = capsys.readouterr().out
    assert f"PowLedger {address}" in text and "2 blocks mined" in text
    assert "genesis" in text and "aggregator " in text
    assert main(["history", "--rpc", anvil_url, "--address", address, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["blocks"]) == 3 and payload["blocks"][0]["winner"] is None
    assert main(["verify", str(out), "--rpc", anvil_url]) == 0
    verified = capsys.readouterr().out
    assert "OK: 2 pow blocks" in verified and "read from the live chain" in verified


def test_run_with_worker_processes_and_unequal_power(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = ["race", "run", "--samples", "120", "--difficulty", "4096"]
    args += ["--race", "processes", "--hash-power", "1,2", "--blocks", "3", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Agg1 (1 worker), Agg2 (2 workers)" in text
    assert "hash-power share 33%" in text and "hash-power share 67%" in text
    report = json.loads((out / "pow_report.json").read_text())
    for entry in report["rounds"]:
        assert sum(entry["hashes"].values()) > 0 and entry["seconds_to_block"] > 0
    assert main(["verify", str(out)]) == 0
