"""Reproducible build of ``contracts/FLLedger.sol``, ``contracts/PowLedger.sol`` and
``contracts/DsoLedger.sol`` (``hefl compile``, ``deploy/compile.py``): :data:`CONTRACTS` lists
them with the interface each imports, :func:`build_contract` / :func:`compile_contract` build one
by name.

A contract and the source units it imports go to solc together, as the ``sources`` of one
standard-JSON input, each under its path in the checkout (``contracts/IFLLedger.sol``), so that a
relative ``import {IFLLedger} from "./IFLLedger.sol";`` resolves as it does for Hardhat.

One pinned solc (:data:`~hefl.chain.artifact.SOLC_VERSION`) with fixed settings
(:data:`~hefl.chain.artifact.COMPILER_SETTINGS`: optimiser on, 200 runs, EVM ``cancun``, no
metadata hash). The compiler is a native solc of that version when py-solc-x knows one (installed
by py-solc-x, or a ``solc`` on ``PATH`` of the right version), otherwise solc-js from
``node_modules/solc`` run by Node. Both produce byte-identical bytecode; the artifact records which
front end was used in ``compiler.longVersion``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from hefl.chain.artifact import (
    COMPILER_SETTINGS,
    CONTRACT_NAME,
    INTERFACE_SOURCE_NAME,
    POW_CONTRACT_NAME,
    POW_INTERFACE_SOURCE_NAME,
    POW_SOURCE_NAME,
    SOLC_VERSION,
    SOURCE_NAME,
    LedgerArtifact,
    default_artifact_path,
    default_pow_artifact_path,
    load_artifact,
    load_pow_artifact,
    repo_root,
    sha256_hex,
)
from hefl.chain.dso_ledger import (
    DSO_CONTRACT_NAME,
    DSO_INTERFACE_SOURCE_NAME,
    DSO_SOURCE_NAME,
    default_dso_artifact_path,
    load_dso_artifact,
)
from hefl.errors import CompileError

Frontend = Literal["auto", "native", "solc-js"]

_OUTPUTS = [
    "abi",
    "evm.bytecode.object",
    "evm.deployedBytecode.object",
    "evm.deployedBytecode.immutableReferences",
]

# Reads a standard-JSON input on stdin, prints {"version": ..., "output": ...}.
_SOLCJS_SCRIPT = """
const solc = require(process.argv[1]);
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const output = JSON.parse(solc.compile(input));
  process.stdout.write(JSON.stringify({ version: solc.version(), output }));
});
"""


@dataclass(frozen=True)
class CompileResult:
    """Compiler output for one contract, before it is written as an artifact.

    ``source_sha256`` is the sha256 of the contract's own source unit, ``sources_sha256`` that of
    every source unit of the build (the contract's and the ones it imports), by source name.
    """

    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    immutable_references: dict[str, list[dict[str, int]]]
    long_version: str
    frontend: str
    source_sha256: str
    warnings: tuple[str, ...] = ()
    contract_name: str = CONTRACT_NAME
    source_name: str = SOURCE_NAME
    sources_sha256: Mapping[str, str] = field(default_factory=dict)

    def artifact_json(self) -> dict[str, Any]:
        return {
            "contractName": self.contract_name,
            "sourceName": self.source_name,
            "sourceSha256": self.source_sha256,
            "sourcesSha256": dict(sorted(self.sources_sha256.items())),
            "compiler": {"version": SOLC_VERSION, "longVersion": self.long_version},
            "settings": COMPILER_SETTINGS,
            "abi": self.abi,
            "bytecode": self.bytecode,
            "deployedBytecode": self.deployed_bytecode,
            "immutableReferences": self.immutable_references,
        }


def standard_input(
    source: str, source_name: str = SOURCE_NAME, imports: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The solc standard-JSON input for ``source`` under :data:`COMPILER_SETTINGS`.

    ``imports`` maps the name of every source unit ``source`` imports (directly or not) to its
    text; they join the input's ``sources`` beside it.
    """
    sources = {name: {"content": text} for name, text in sorted((imports or {}).items())}
    sources[source_name] = {"content": source}
    return {
        "language": "Solidity",
        "sources": sources,
        "settings": {**COMPILER_SETTINGS, "outputSelection": {"*": {"*": _OUTPUTS}}},
    }


def _native_available() -> bool:
    try:
        import solcx
        from packaging.version import Version
    except ImportError:
        return False
    try:
        installed = solcx.get_installed_solc_versions()
        if Version(SOLC_VERSION) not in installed:
            solcx.import_installed_solc()
            installed = solcx.get_installed_solc_versions()
    except Exception:  # a broken native install is not fatal: solc-js remains
        return False
    return Version(SOLC_VERSION) in installed


def _compile_native(compiler_input: dict[str, Any]) -> tuple[dict[str, Any], str]:
    import solcx

    try:
        output = solcx.compile_standard(compiler_input, solc_version=SOLC_VERSION)
        long_version = str(solcx.get_solc_version(with_commit_hash=True))
    except solcx.exceptions.SolcError as error:
        raise CompileError(f"native solc {SOLC_VERSION} failed: {error}") from error
    return output, long_version


def _compile_solcjs(compiler_input: dict[str, Any], root: Path) -> tuple[dict[str, Any], str]:
    node = shutil.which("node")
    solc_dir = root / "node_modules" / "solc"
    if node is None:
        raise CompileError("no native solc 0.8.30 and no `node` on PATH; install Node 20")
    if not (solc_dir / "package.json").is_file():
        raise CompileError(f"solc-js not found at {solc_dir}; run `npm ci` in {root}")
    version = json.loads((solc_dir / "package.json").read_text())["version"]
    if version != SOLC_VERSION:
        raise CompileError(f"node_modules/solc is {version}, need {SOLC_VERSION}; run `npm ci`")
    proc = subprocess.run(
        [node, "-e", _SOLCJS_SCRIPT, str(solc_dir)],
        input=json.dumps(compiler_input),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise CompileError(f"solc-js failed (exit {proc.returncode}): {proc.stderr.strip()}")
    result = json.loads(proc.stdout)
    return result["output"], str(result["version"])


def compile_source(
    source: str,
    *,
    frontend: Frontend = "auto",
    root: Path | None = None,
    source_name: str = SOURCE_NAME,
    contract_name: str = CONTRACT_NAME,
    imports: Mapping[str, str] | None = None,
) -> CompileResult:
    """Compile a contract's source text (with the texts of the units it imports, by source name)
    with the pinned compiler and settings."""
    root = root or repo_root()
    imports = dict(imports or {})
    compiler_input = standard_input(source, source_name, imports)
    native = frontend != "solc-js" and _native_available()
    if frontend == "native" and not native:
        raise CompileError(
            f"no native solc {SOLC_VERSION}: install it with "
            f"`python -c 'import solcx; solcx.install_solc(\"{SOLC_VERSION}\")'` or use solc-js"
        )
    if native:
        output, long_version = _compile_native(compiler_input)
        used = "native"
    else:
        output, long_version = _compile_solcjs(compiler_input, root)
        used = "solc-js"
    diagnostics = output.get("errors", [])
    errors = [e for e in diagnostics if e.get("severity") == "error"]
    if errors:
        text = "; ".join(e.get("formattedMessage", e.get("message", "?")).strip() for e in errors)
        raise CompileError(f"{source_name} does not compile: {text}")
    warnings = tuple(
        str(e.get("formattedMessage", e.get("message", "?"))).strip()
        for e in diagnostics
        if e.get("severity") == "warning"
    )
    try:
        contract = output["contracts"][source_name][contract_name]
    except KeyError as error:
        raise CompileError(f"compiler output lacks {source_name}:{contract_name}") from error
    return CompileResult(
        abi=contract["abi"],
        bytecode="0x" + contract["evm"]["bytecode"]["object"],
        deployed_bytecode="0x" + contract["evm"]["deployedBytecode"]["object"],
        immutable_references=contract["evm"]["deployedBytecode"].get("immutableReferences", {}),
        long_version=long_version,
        frontend=used,
        source_sha256=sha256_hex(source.encode("utf-8")),
        warnings=warnings,
        contract_name=contract_name,
        source_name=source_name,
        sources_sha256={
            name: sha256_hex(text.encode("utf-8"))
            for name, text in {**imports, source_name: source}.items()
        },
    )


@dataclass(frozen=True)
class ContractSpec:
    """A contract hefl builds: its source unit and the ones it imports, what errors call it, where
    its artifact goes."""

    name: str
    source_name: str
    #: What a missing source is called in the error ("ledger source …").
    label: str
    #: The committed artifact's path under a checkout root (honours the artifact's env variable).
    artifact_path: Callable[[Path | None], Path]
    #: Load an artifact (default: the committed one) to compare a fresh build with.
    load: Callable[[Path | str | None], LedgerArtifact]
    #: Every source unit the contract imports, directly or not (its interface), by source name;
    #: they are compiled with it.
    imports: tuple[str, ...] = ()

    @property
    def source_names(self) -> tuple[str, ...]:
        """Every source unit of the build: the imports, then the contract's own."""
        return (*self.imports, self.source_name)


#: Every contract ``hefl compile`` builds, in build order.
CONTRACTS: dict[str, ContractSpec] = {
    CONTRACT_NAME: ContractSpec(
        CONTRACT_NAME,
        SOURCE_NAME,
        "ledger",
        default_artifact_path,
        load_artifact,
        imports=(INTERFACE_SOURCE_NAME,),
    ),
    POW_CONTRACT_NAME: ContractSpec(
        POW_CONTRACT_NAME,
        POW_SOURCE_NAME,
        POW_CONTRACT_NAME,
        default_pow_artifact_path,
        load_pow_artifact,
        imports=(POW_INTERFACE_SOURCE_NAME,),
    ),
    DSO_CONTRACT_NAME: ContractSpec(
        DSO_CONTRACT_NAME,
        DSO_SOURCE_NAME,
        DSO_CONTRACT_NAME,
        default_dso_artifact_path,
        load_dso_artifact,
        imports=(DSO_INTERFACE_SOURCE_NAME,),
    ),
}


def contract_spec(name: str) -> ContractSpec:
    """The :class:`ContractSpec` called ``name`` (one of :data:`CONTRACTS`)."""
    try:
        return CONTRACTS[name]
    except KeyError:
        raise CompileError(
            f"unknown contract {name!r}; choose one of {', '.join(CONTRACTS)}"
        ) from None


def build_contract(
    name: str, *, root: Path | None = None, frontend: Frontend = "auto"
) -> CompileResult:
    """Compile contract ``name`` (``contracts/<name>.sol`` with the units it imports) without
    writing anything."""
    spec = contract_spec(name)
    root = root or repo_root()
    raw: dict[str, bytes] = {}
    for source_name in spec.source_names:
        src = root / source_name
        try:
            raw[source_name] = src.read_bytes()
        except FileNotFoundError as error:
            raise CompileError(f"{spec.label} source {src} not found") from error
    result = compile_source(
        raw[spec.source_name].decode("utf-8"),
        frontend=frontend,
        root=root,
        source_name=spec.source_name,
        contract_name=spec.name,
        imports={n: raw[n].decode("utf-8") for n in spec.imports},
    )
    # sha256 of the files' exact bytes, as anyone would compute it with sha256sum.
    hashes = {n: sha256_hex(data) for n, data in raw.items()}
    return replace(result, source_sha256=hashes[spec.source_name], sources_sha256=hashes)


def compile_contract(
    name: str, *, root: Path | None = None, frontend: Frontend = "auto", out: Path | None = None
) -> tuple[CompileResult, Path]:
    """Compile contract ``name`` and write its artifact (default: the committed one)."""
    spec = contract_spec(name)
    root = root or repo_root()
    result = build_contract(name, root=root, frontend=frontend)
    target = out or spec.artifact_path(root)
    write_artifact(result, target)
    return result, target


def artifact_text(result: CompileResult) -> str:
    """The artifact file's exact text (sorted keys, two-space indent, final newline)."""
    return json.dumps(result.artifact_json(), indent=2, sort_keys=True) + "\n"


def write_artifact(result: CompileResult, target: Path) -> None:
    """Write the artifact atomically (temporary file, then rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(artifact_text(result))
    tmp.replace(target)
