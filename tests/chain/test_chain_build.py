"""The reproducible build of both contracts: committed artifact == solc-js recompile == Hardhat
compile, with the same pinned compiler and settings; each contract is built with the interface it
imports, and NatSpec documents every declaration."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from contract_testing import REPO_ROOT, needs_node
from hefl.chain.artifact import COMPILER_SETTINGS, SOLC_VERSION, load_artifact
from hefl.chain.compile import CONTRACTS, artifact_text, compile_contract, compile_source
from hefl.errors import CompileError

HARDHAT = REPO_ROOT / "node_modules" / ".bin" / "hardhat"
#: Hardhat's own compile can take a while on a shared 2-core machine.
HARDHAT_TIMEOUT_S = 300

#: Every contract hefl builds; each test below runs once per contract.
each_contract = pytest.mark.parametrize("name", ["FLLedger", "PowLedger", "DsoLedger"])


def _source(name: str) -> Path:
    return REPO_ROOT / "contracts" / f"{name}.sol"


def _artifact(name: str) -> Path:
    return REPO_ROOT / "contracts" / "build" / f"{name}.json"


def test_the_build_table_lists_every_contract() -> None:
    assert list(CONTRACTS) == ["FLLedger", "PowLedger", "DsoLedger"]


@each_contract
def test_each_contract_is_built_with_its_interface(name: str) -> None:
    spec = CONTRACTS[name]
    assert spec.imports == (f"contracts/I{name}.sol",)
    assert spec.source_names == (f"contracts/I{name}.sol", f"contracts/{name}.sol")
    source = _source(name).read_text()
    assert f'import {{I{name}}} from "./I{name}.sol";' in source
    assert f"contract {name} is I{name} {{" in source
    interface = (REPO_ROOT / f"contracts/I{name}.sol").read_text()
    assert f"interface I{name} {{" in interface
    # The interface holds the events and custom errors; the contract declares none of its own.
    assert not re.search(r"^\s*(event|error) ", source, re.MULTILINE)
    assert re.search(r"^\s*event ", interface, re.MULTILINE)
    assert re.search(r"^\s*error ", interface, re.MULTILINE)


#: Declarations NatSpec must document: types, events, errors, functions, modifiers and state
#: variables (contract-level declarations with a visibility).
_DECLARATION = re.compile(
    r"^\s*(function|event|error|enum|struct|modifier|constructor|contract|interface)\b"
    r"|^\s*(mapping\(.*\)|[\w\[\]]+)\s+(public|private|internal)\b"
)
#: What an interface's declarations and a contract's external ones must carry: the specification
#: (@notice) or a reference to it (@inheritdoc); a contract's own internals may carry @dev.
_PUBLIC_TAGS = ("@notice", "@inheritdoc")
_INTERNAL_TAGS = (*_PUBLIC_TAGS, "@dev")


def _undocumented(path: Path) -> list[str]:
    """Declarations of ``path`` without a NatSpec comment carrying a tag right above them."""
    lines = path.read_text().splitlines()
    missing = []
    for i, line in enumerate(lines):
        if not _DECLARATION.match(line):
            continue
        end = i
        while end < len(lines) - 1 and not lines[end].rstrip().endswith(("{", ";")):
            end += 1
        signature = " ".join(lines[i : end + 1])
        block = []
        j = i - 1
        while j >= 0 and lines[j].strip().startswith(("///", "/**", "*")):
            block.append(lines[j])
            j -= 1
        public = signature.strip().startswith(("constructor", "contract")) or re.search(
            r"\b(external|public)\b", signature
        )
        internal = not public and not path.name.startswith("I")  # an interface is all public
        tags = _INTERNAL_TAGS if internal else _PUBLIC_TAGS
        if not any(tag in "\n".join(block) for tag in tags):
            missing.append(f"{path.name}:{i + 1}: {line.strip()}")
    return missing


@pytest.mark.parametrize(
    "unit", ["IFLLedger", "FLLedger", "IPowLedger", "PowLedger", "IDsoLedger", "DsoLedger"]
)
def test_natspec_documents_every_declaration(unit: str) -> None:
    assert _undocumented(REPO_ROOT / "contracts" / f"{unit}.sol") == []


@each_contract
def test_artifact_source_hash_matches_source(name: str) -> None:
    artifact = load_artifact(_artifact(name))
    assert artifact.contract_name == name
    assert artifact.source_sha256 == hashlib.sha256(_source(name).read_bytes()).hexdigest()
    assert artifact.compiler_version == SOLC_VERSION
    assert artifact.settings == COMPILER_SETTINGS
    assert artifact.artifact_sha256 == hashlib.sha256(_artifact(name).read_bytes()).hexdigest()
    assert {e["type"] for e in artifact.abi} >= {"constructor", "function", "event", "error"}
    data = json.loads(_artifact(name).read_text())
    assert data["sourceName"] == f"contracts/{name}.sol"
    assert artifact.sources_sha256 == {
        unit: hashlib.sha256((REPO_ROOT / unit).read_bytes()).hexdigest()
        for unit in CONTRACTS[name].source_names
    }


@each_contract
def test_artifact_pins_compiler_and_settings(name: str) -> None:
    data = json.loads(_artifact(name).read_text())
    assert data["compiler"]["longVersion"].startswith(f"{SOLC_VERSION}+commit.")
    assert data["settings"]["optimizer"] == {"enabled": True, "runs": 200}
    assert data["settings"]["evmVersion"] == "cancun"
    assert "pragma solidity 0.8.30;" in _source(name).read_text()


@needs_node
@each_contract
def test_solcjs_recompile_is_byte_identical(name: str, tmp_path: Path) -> None:
    out = tmp_path / f"{name}.json"
    result, path = compile_contract(name, root=REPO_ROOT, frontend="solc-js", out=out)
    committed = load_artifact(_artifact(name))
    assert path == out
    assert result.warnings == ()
    assert result.bytecode == committed.bytecode
    assert result.deployed_bytecode == committed.deployed_bytecode
    assert result.source_sha256 == committed.source_sha256
    assert dict(result.sources_sha256) == committed.sources_sha256
    assert list(result.abi) == committed.abi_list
    if "Emscripten" in committed.compiler_long_version:  # built with solc-js: the file is too
        assert out.read_text() == _artifact(name).read_text() == artifact_text(result)


@needs_node
def test_compile_errors_are_reported() -> None:
    with pytest.raises(CompileError, match="does not compile"):
        compile_source("pragma solidity 0.8.30; contract FLLedger { oops }", frontend="solc-js")


@needs_node
def test_imports_are_compiled_with_the_contract() -> None:
    source = 'pragma solidity 0.8.30; import {I} from "./I.sol"; contract C is I { }'
    interface = "pragma solidity 0.8.30; interface I { error E(uint256 x); }"
    result = compile_source(
        source,
        frontend="solc-js",
        source_name="contracts/C.sol",
        contract_name="C",
        imports={"contracts/I.sol": interface},
    )
    assert [e["name"] for e in result.abi if e["type"] == "error"] == ["E"]
    assert set(result.sources_sha256) == {"contracts/C.sol", "contracts/I.sol"}
    with pytest.raises(CompileError, match="does not compile"):  # the import is missing
        compile_source(source, frontend="solc-js", source_name="contracts/C.sol", contract_name="C")


@needs_node
@pytest.mark.skipif(not HARDHAT.exists(), reason="Hardhat missing (run `npm ci`)")
@each_contract
def test_hardhat_compile_gives_same_bytecode(name: str, tmp_path: Path) -> None:
    # Work on a copy so the checkout's artifacts/ and cache/ are left alone.
    work = tmp_path / "hh"
    (work / "contracts").mkdir(parents=True)
    for unit in CONTRACTS[name].source_names:
        shutil.copy(REPO_ROOT / unit, work / unit)
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
    produced = json.loads((work / f"artifacts/contracts/{name}.sol/{name}.json").read_text())
    committed = load_artifact(_artifact(name))
    assert produced["bytecode"] == committed.bytecode
    assert produced["deployedBytecode"] == committed.deployed_bytecode
    assert produced["abi"] == committed.abi_list
