"""The committed build artifacts of ``contracts/FLLedger.sol`` and ``contracts/PowLedger.sol``
and where hefl finds them.

hefl needs no Solidity compiler at run time: :func:`load_artifact` reads
``contracts/build/FLLedger.json`` (:func:`load_pow_artifact` ``contracts/build/PowLedger.json``),
written by :mod:`hefl.chain.compile` (``hefl compile``) with one pinned solc version and fixed
optimiser settings. Each contract implements an interface in its own source unit
(``contracts/IFLLedger.sol``, ``contracts/IPowLedger.sol``), compiled with it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hefl.errors import CompileError

#: The one solc version the ledger is built with.
SOLC_VERSION = "0.8.30"
#: Name of the contract and its source unit (the path Hardhat uses too, so bytecode matches).
CONTRACT_NAME = "FLLedger"
SOURCE_NAME = "contracts/FLLedger.sol"
#: The interface FLLedger implements (its events, errors and external functions).
INTERFACE_SOURCE_NAME = "contracts/IFLLedger.sol"
ARTIFACT_NAME = "contracts/build/FLLedger.json"
#: Environment variable naming another artifact file to load.
ARTIFACT_ENV = "HEFL_LEDGER_ARTIFACT"

#: The proof-of-work chain of the notes' four-node example (``contracts/PowLedger.sol``), built
#: with the same compiler and settings into its own artifact.
POW_CONTRACT_NAME = "PowLedger"
POW_SOURCE_NAME = "contracts/PowLedger.sol"
#: The interface PowLedger implements.
POW_INTERFACE_SOURCE_NAME = "contracts/IPowLedger.sol"
POW_ARTIFACT_NAME = "contracts/build/PowLedger.json"
#: Environment variable naming another PowLedger artifact file to load.
POW_ARTIFACT_ENV = "HEFL_POW_ARTIFACT"

#: Compiler settings (solc standard-JSON ``settings`` minus ``outputSelection``). The metadata hash
#: is left out of the bytecode so that the bytecode depends on the source and these settings only.
COMPILER_SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "metadata": {"bytecodeHash": "none"},
}


def repo_root() -> Path:
    """The checkout holding ``contracts/`` (hefl is installed editable from it)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "contracts").is_dir() and (parent / "offchain").is_dir():
            return parent
    # Fall back to the current directory (a checkout run from its root).
    return Path.cwd()


def source_path(root: Path | None = None) -> Path:
    return (root or repo_root()) / SOURCE_NAME


def default_artifact_path(root: Path | None = None) -> Path:
    env = os.environ.get(ARTIFACT_ENV)
    if env and root is None:
        return Path(env)
    return (root or repo_root()) / ARTIFACT_NAME


def pow_source_path(root: Path | None = None) -> Path:
    return (root or repo_root()) / POW_SOURCE_NAME


def default_pow_artifact_path(root: Path | None = None) -> Path:
    env = os.environ.get(POW_ARTIFACT_ENV)
    if env and root is None:
        return Path(env)
    return (root or repo_root()) / POW_ARTIFACT_NAME


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class LedgerArtifact:
    """What hefl needs to deploy and talk to the ledger.

    ``artifact_sha256`` is the sha256 of the artifact file's bytes (recorded in deployments);
    ``source_sha256`` the sha256 of the contract's source (``contracts/FLLedger.sol``) it was built
    from, ``sources_sha256`` that of every source unit of the build (the contract and the
    interface it imports), by source name.
    """

    contract_name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: str
    deployed_bytecode: str
    #: (start, length) byte ranges of the runtime code that the constructor fills (immutables)
    immutable_ranges: tuple[tuple[int, int], ...]
    compiler_version: str
    compiler_long_version: str
    settings: dict[str, Any]
    source_sha256: str
    artifact_sha256: str
    path: Path
    sources_sha256: dict[str, str] = field(default_factory=dict)

    def matches_runtime_code(self, code: bytes) -> bool:
        """Whether ``code`` (from ``eth_getCode``) is this artifact's runtime code.

        The immutables' byte ranges are ignored: the constructor writes them into the code.
        """
        expected = bytearray(bytes.fromhex(self.deployed_bytecode.removeprefix("0x")))
        actual = bytearray(code)
        if len(actual) != len(expected):
            return False
        for start, length in self.immutable_ranges:
            actual[start : start + length] = expected[start : start + length]
        return actual == expected

    @property
    def abi_list(self) -> list[dict[str, Any]]:
        return [dict(entry) for entry in self.abi]


def load_artifact(path: Path | str | None = None) -> LedgerArtifact:
    """Read the build artifact (default: the committed ``contracts/build/FLLedger.json``)."""
    target = Path(path) if path is not None else default_artifact_path()
    try:
        raw = target.read_bytes()
    except FileNotFoundError as error:
        raise CompileError(
            f"ledger artifact {target} not found; run `hefl compile` (or set {ARTIFACT_ENV})"
        ) from error
    try:
        data = json.loads(raw)
        return LedgerArtifact(
            contract_name=data["contractName"],
            abi=tuple(data["abi"]),
            bytecode=data["bytecode"],
            deployed_bytecode=data["deployedBytecode"],
            immutable_ranges=tuple(
                sorted(
                    (int(ref["start"]), int(ref["length"]))
                    for refs in data.get("immutableReferences", {}).values()
                    for ref in refs
                )
            ),
            compiler_version=data["compiler"]["version"],
            compiler_long_version=data["compiler"]["longVersion"],
            settings=data["settings"],
            source_sha256=data["sourceSha256"],
            artifact_sha256=sha256_hex(raw),
            path=target,
            sources_sha256={
                str(name): str(digest)
                for name, digest in data.get(
                    "sourcesSha256", {data["sourceName"]: data["sourceSha256"]}
                ).items()
            },
        )
    except (ValueError, KeyError, TypeError) as error:
        raise CompileError(
            f"ledger artifact {target} is malformed ({error!r}); regenerate it with `hefl compile`"
        ) from error


def load_pow_artifact(path: Path | str | None = None) -> LedgerArtifact:
    """Read the PowLedger build artifact (default: ``contracts/build/PowLedger.json``)."""
    return load_artifact(path if path is not None else default_pow_artifact_path())
