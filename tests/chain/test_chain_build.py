"""The reproducible build: committed artifact == solc-js recompile == Hardhat compile."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hefl.chain.artifact import COMPILER_SETTINGS, SOLC_VERSION, load_artifact
from hefl.chain.compile import artifact_text, build_ledger, compile_source
from hefl.errors import CompileError

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE = REPO_ROOT / "contracts" / "FLLedger.sol"
ARTIFACT = REPO_ROOT / "contracts" / "build" / "FLLedger.json"
HARDHAT = REPO_ROOT / "node_modules" / ".bin" / "hardhat"
#: Hardhat's own compile can take a while on a shared 2-core machine.
HARDHAT_TIMEOUT_S = 300

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or not (REPO_ROOT / "node_modules" / "solc").is_dir(),
    reason="needs Node and node_modules/solc (run `npm ci`)",
)


def test_artifact_source_hash_matches_source() -> None:
    artifact = load_artifact(ARTIFACT)
    assert artifact.source_sha256 == hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    assert artifact.compiler_version == SOLC_VERSION
    assert artifact.settings == COMPILER_SETTINGS
    assert artifact.artifact_sha256 == hashlib.sha256(ARTIFACT.read_bytes()).hexdigest()
    assert {e["type"] for e in artifact.abi} >= {"constructor", "function", "event", "error"}


def test_artifact_pins_compiler_and_settings() -> None:
    data = json.loads(ARTIFACT.read_text())
    assert data["compiler"]["longVersion"].startswith(f"{SOLC_VERSION}+commit.")
    assert data["settings"]["optimizer"] == {"enabled": True, "runs": 200}
    assert data["settings"]["evmVersion"] == "cancun"
    assert "pragma solidity 0.8.30;" in SOURCE.read_text()


@needs_node
def test_solcjs_recompile_is_byte_identical(tmp_path: Path) -> None:
    committed = load_artifact(ARTIFACT)
    result = build_ledger(root=REPO_ROOT, frontend="solc-js")
    assert result.bytecode == committed.bytecode
    assert result.deployed_bytecode == committed.deployed_bytecode
    assert result.source_sha256 == committed.source_sha256
    assert list(result.abi) == committed.abi_list
    assert result.warnings == ()
    if "Emscripten" in committed.compiler_long_version:  # built with solc-js: the file is too
        assert artifact_text(result) == ARTIFACT.read_text()


@needs_node
def test_compile_errors_are_reported() -> None:
    with pytest.raises(CompileError, match="does not compile"):
        compile_source("pragma solidity 0.8.30; contract FLLedger { oops }", frontend="solc-js")


@needs_node
@pytest.mark.skipif(not HARDHAT.exists(), reason="Hardhat missing (run `npm ci`)")
def test_hardhat_compile_gives_same_bytecode(tmp_path: Path) -> None:
    # Work on a copy so the checkout's artifacts/ and cache/ are left alone.
    work = tmp_path / "hh"
    (work / "contracts").mkdir(parents=True)
    shutil.copy(SOURCE, work / "contracts" / "FLLedger.sol")
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
    produced = json.loads((work / "artifacts/contracts/FLLedger.sol/FLLedger.json").read_text())
    committed = load_artifact(ARTIFACT)
    assert produced["bytecode"] == committed.bytecode
    assert produced["deployedBytecode"] == committed.deployed_bytecode
    assert produced["abi"] == committed.abi_list
