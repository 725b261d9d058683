"""``hefl compile``, ``hefl deploy`` and ``hefl history`` end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hefl.chain import DeploymentRecord, LedgerClient, connect_rpc, load_artifact
from hefl.cli.main import main

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_deploy_embedded_prints_empty_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "deployment.json"
    assert main(["deploy", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "deployed FLLedger at 0x" in text
    assert "5 participants, quorum 4 of 6, 0 rounds" in text
    assert "no rounds yet" in text
    record = DeploymentRecord.load(out)
    assert record.rpc_url is None
    assert len(record.participants) == 5 and set(record.data_sizes) == {81}
    assert record.artifact_sha256 == load_artifact().artifact_sha256
    assert record.party not in record.participants


@pytest.mark.anvil
def test_deploy_and_history_over_rpc(
    anvil_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "deployment.json"
    assert main(["deploy", "--rpc", anvil_url, "--participants", "3", "--out", str(out)]) == 0
    capsys.readouterr()
    record = DeploymentRecord.load(out)
    assert record.rpc_url == anvil_url
    assert record.chain_id == 31337
    # Write one round with the library, read it with the CLI.
    chain = connect_rpc(anvil_url)
    ledger = LedgerClient.at(chain, record.address, sender=record.party)
    ledger.open_round(0, 10, b"\x01" * 32)
    for p in record.participants:
        ledger.as_sender(p).submit(0, b"\x02" * 32)
    ledger.commit_aggregate(0, b"\x03" * 32)
    assert main(["history", "--deployment", str(out), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["address"] == record.address
    assert payload["quorum"] == 3
    assert [p["data_size"] for p in payload["participants"]] == [81, 81, 81]
    (round0,) = payload["rounds"]
    assert round0["status"] == "aggregated"
    assert round0["included"] == [0, 1, 2]
    assert round0["aggregate_hash"] == "0x" + "03" * 32
    assert main(["history", "--rpc", anvil_url, "--address", record.address]) == 0
    text = capsys.readouterr().out
    assert "3 participants, quorum 3 of 4, 1 rounds" in text
    assert "aggregated" in text


def test_history_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--deployment", str(tmp_path / "none.json")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not found" in err
    assert main(["history", "--rpc", "ftp://nowhere", "--address", "0x" + "11" * 20]) == 1
    assert "must start with http" in capsys.readouterr().err


@pytest.mark.skipif(
    shutil.which("node") is None or not (REPO_ROOT / "node_modules" / "solc").is_dir(),
    reason="needs Node and node_modules/solc (run `npm ci`)",
)
def test_compile_check_passes_on_committed_artifact(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compile", "--check"]) == 0
    out = capsys.readouterr().out
    assert "up to date" in out
    assert "FLLedger.json: up to date" in out and "PowLedger.json: up to date" in out


def test_compile_out_needs_a_single_contract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compile", "--out", str(tmp_path / "x.json")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--contract" in err
    assert not (tmp_path / "x.json").exists()


def test_deploy_script_runs_from_checkout(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "deploy" / "deploy.py"),
            "--participants",
            "2",
            "--out",
            str(tmp_path / "d.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "2 participants, quorum 2 of 3, 0 rounds" in proc.stdout
