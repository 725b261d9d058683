"""The PowLedger build: committed artifact == solc-js recompile == Hardhat compile, same settings
as FLLedger's."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hefl.chain.artifact import COMPILER_SETTINGS, SOLC_VERSION, load_pow_artifact
from hefl.chain.compile import artifact_text, compile_pow_ledger

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE = REPO_ROOT / "contracts" / "PowLedger.sol"
ARTIFACT = REPO_ROOT / "contracts" / "build" / "PowLedger.json"
HARDHAT = REPO_ROOT / "node_modules" / ".bin" / "hardhat"
HARDHAT_TIMEOUT_S = 300

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or not (REPO_ROOT / "node_modules" / "solc").is_dir(),
    reason="needs Node and node_modules/solc (run `npm ci`)",
)


def test_artifact_source_hash_matches_source() -> None:
    artifact = load_pow_artifact(ARTIFACT)
    assert artifact.contract_name == "PowLedger"
    assert artifact.source_sha256 == hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    assert artifact.compiler_version == SOLC_VERSION
    assert artifact.settings == COMPILER_SETTINGS
    assert artifact.artifact_sha256 == hashlib.sha256(ARTIFACT.read_bytes()).hexdigest()
    assert {e["type"] for e in artifact.abi} >= {"constructor", "function", "event", "error"}
    data = json.loads(ARTIFACT.read_text())
    assert data["sourceName"] == "contracts/PowLedger.sol"
    assert data["compiler"]["longVersion"].startswith(f"{SOLC_VERSION}+commit.")
    assert "pragma solidity 0.8.30;" in SOURCE.read_text()


def test_every_external_function_has_natspec() -> None:
    text = SOURCE.read_text()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("function ") and (
            " external" in line or "external" in " ".join(lines[i : i + 8])
        ):
            before = "\n".join(lines[max(0, i - 12) : i])
            assert "@notice" in before, f"no NatSpec above: {line.strip()}"


@needs_node
def test_solcjs_recompile_is_byte_identical(tmp_path: Path) -> None:
    out = tmp_path / "PowLedger.json"
    result, path = compile_pow_ledger(root=REPO_ROOT, frontend="solc-js", out=out)
    committed = load_pow_artifact(ARTIFACT)
    assert path == out
    assert result.warnings == ()
    assert result.bytecode == committed.bytecode
    assert result.deployed_bytecode == committed.deployed_bytecode
    assert list(result.abi) == committed.abi_list
    if "Emscripten" in committed.compiler_long_version:  # built with solc-js: the file is too
        assert out.read_text() == ARTIFACT.read_text() == artifact_text(result)


@needs_node
@pytest.mark.slow
def test_deploy_compile_script_checks_both() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "deploy" / "compile.py"), "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=HARDHAT_TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "PowLedger.json: up to date" in proc.stdout


@needs_node
@pytest.mark.skipif(not HARDHAT.exists(), reason="Hardhat missing (run `npm ci`)")
def test_hardhat_compile_gives_same_bytecode(tmp_path: Path) -> None:
    work = tmp_path / "hh"
    (work / "contracts").mkdir(parents=True)
    shutil.copy(SOURCE, work / "contracts" / "PowLedger.sol")
    shutil.copy(REPO_ROOT / "hardhat.config.js", work / "hardhat.config.js")
    (work / "node_modules").symlink_to(REPO_ROOT / "node_modules")
    env = {
        **os.environ,
        "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true",
        "CI": "true",
        "DO_NOT_TRACK": "1",
    }
    proc = subprocess.run(
        [str(HARDHAT), "compile", "--force", "--quiet"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=HARDHAT_TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    produced = json.loads((work / "artifacts/contracts/PowLedger.sol/PowLedger.json").read_text())
    committed = load_pow_artifact(ARTIFACT)
    assert produced["bytecode"] == committed.bytecode
    assert produced["deployedBytecode"] == committed.deployed_bytecode
    assert produced["abi"] == committed.abi_list
