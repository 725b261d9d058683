"""``hefl compile``: rebuild (or check) ``contracts/build/FLLedger.json`` with the pinned solc."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hefl.chain.artifact import SOLC_VERSION, load_artifact
from hefl.errors import CompileError


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "compile",
        help=f"compile contracts/FLLedger.sol with solc {SOLC_VERSION} into its build artifact",
        description=f"Compile contracts/FLLedger.sol with solc {SOLC_VERSION} (native via "
        "py-solc-x if installed, else solc-js from node_modules) and write the artifact.",
    )
    parser.add_argument(
        "--frontend",
        choices=("auto", "native", "solc-js"),
        default="auto",
        help="which solc to run (default: native if installed, else solc-js)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="artifact path (default: the committed one)"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="compile without writing; fail if the bytecode differs from the artifact's",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hefl.chain.compile import build_ledger, compile_ledger

    if args.check:
        result = build_ledger(frontend=args.frontend)
        committed = load_artifact(args.out)
        same = (
            result.bytecode == committed.bytecode
            and result.deployed_bytecode == committed.deployed_bytecode
            and result.source_sha256 == committed.source_sha256
        )
        if not same:
            raise CompileError(
                f"{committed.path} is stale: it does not match contracts/FLLedger.sol compiled "
                f"now; run `hefl compile` and commit the artifact"
            )
        print(f"{committed.path}: up to date ({result.frontend}, {result.long_version})")
        return 0
    result, path = compile_ledger(frontend=args.frontend, out=args.out)
    for warning in result.warnings:
        print(f"warning: {warning.splitlines()[0]}")
    print(
        f"wrote {path} ({result.frontend} {result.long_version}; "
        f"{(len(result.deployed_bytecode) - 2) // 2} bytes of runtime code; "
        f"source sha256 {result.source_sha256[:16]}…)"
    )
    return 0
