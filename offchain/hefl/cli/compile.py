"""``hefl compile``: rebuild (or check) the contracts' build artifacts with the pinned solc.

``contracts/FLLedger.sol`` -> ``contracts/build/FLLedger.json``, ``contracts/PowLedger.sol`` ->
``contracts/build/PowLedger.json`` and ``contracts/DsoLedger.sol`` ->
``contracts/build/DsoLedger.json``, each compiled with the interface it imports
(``contracts/I<name>.sol``; the table :data:`hefl.chain.compile.CONTRACTS`); ``--contract`` picks
one (default: all). ``--check`` compares the bytecode, the ABI and the hashes of every source
unit with the committed artifact.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hefl.chain.artifact import CONTRACT_NAME, POW_CONTRACT_NAME, SOLC_VERSION
from hefl.chain.dso_ledger import DSO_CONTRACT_NAME
from hefl.cli import SUMMARIES
from hefl.errors import CompileError, ConfigError

#: ``--contract`` choices: every contract of :data:`hefl.chain.compile.CONTRACTS`, or all of them.
CONTRACT_CHOICES = ("all", CONTRACT_NAME, POW_CONTRACT_NAME, DSO_CONTRACT_NAME)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "compile",
        help=SUMMARIES["compile"],
        description=f"Compile contracts/FLLedger.sol and contracts/PowLedger.sol (each with the "
        f"interface it imports) with solc {SOLC_VERSION} (native via py-solc-x if installed, else "
        "solc-js from node_modules) and write their artifacts under contracts/build/.",
    )
    parser.add_argument(
        "--contract",
        choices=CONTRACT_CHOICES,
        default="all",
        help="which contract to build (default: all)",
    )
    parser.add_argument(
        "--frontend",
        choices=("auto", "native", "solc-js"),
        default="auto",
        help="which solc to run (default: native if installed, else solc-js)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="artifact path (default: the committed one; needs a single --contract)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="compile without writing; fail if the bytecode, ABI or source hashes differ from "
        "the artifact's",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hefl.chain.compile import CONTRACTS

    names = tuple(CONTRACTS) if args.contract == "all" else (args.contract,)
    if args.out is not None and len(names) != 1:
        raise ConfigError(
            f"--out {args.out} names one artifact but --contract {args.contract} builds "
            f"{len(names)}; add --contract {' or --contract '.join(CONTRACTS)}"
        )
    if args.check:
        stale = [m for m in (_check(name, args.frontend, args.out) for name in names) if m]
        if stale:
            raise CompileError("; ".join(stale))
        return 0
    for name in names:
        _write(name, args.frontend, args.out)
    return 0


def _check(name: str, frontend: str, out: Path | None) -> str | None:
    """Build ``name`` and compare it with its artifact: why it is stale, or ``None`` if current."""
    from hefl.chain.compile import CONTRACTS, build_contract

    spec = CONTRACTS[name]
    result = build_contract(name, frontend=frontend)  # type: ignore[arg-type]
    committed = spec.load(out)
    same = (
        result.bytecode == committed.bytecode
        and result.deployed_bytecode == committed.deployed_bytecode
        and list(result.abi) == committed.abi_list
        and result.source_sha256 == committed.source_sha256
        and dict(result.sources_sha256) == committed.sources_sha256
    )
    if not same:
        return (
            f"{committed.path} is stale: it does not match {' + '.join(spec.source_names)} "
            f"compiled now; run `hefl compile` and commit the artifact"
        )
    print(f"{committed.path}: up to date ({result.frontend}, {result.long_version})")
    return None


def _write(name: str, frontend: str, out: Path | None) -> None:
    from hefl.chain.compile import compile_contract

    result, path = compile_contract(name, frontend=frontend, out=out)  # type: ignore[arg-type]
    for warning in result.warnings:
        print(f"warning: {warning.splitlines()[0]}")
    print(
        f"wrote {path} ({result.frontend} {result.long_version}; "
        f"{(len(result.deployed_bytecode) - 2) // 2} bytes of runtime code; "
        f"source sha256 {result.source_sha256[:16]}…)"
    )
