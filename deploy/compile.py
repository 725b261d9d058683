#!/usr/bin/env python3
"""Compile the contracts into their committed artifacts with the pinned solc.

- ``contracts/FLLedger.sol`` -> ``contracts/build/FLLedger.json`` (the same as ``hefl compile``);
- ``contracts/PowLedger.sol`` -> ``contracts/build/PowLedger.json`` (the proof-of-work mode).

``--contract`` picks one (default: both); ``--check`` compiles without writing and fails if an
artifact is stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import hefl  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "offchain"))

from hefl.chain.artifact import load_pow_artifact
from hefl.chain.compile import build_pow_ledger, compile_pow_ledger
from hefl.cli.main import main
from hefl.errors import HeflError

CONTRACTS = ("all", "FLLedger", "PowLedger")


def compile_pow(frontend: str, check: bool) -> int:
    """Build PowLedger; with ``check``, compare with the committed artifact instead of writing."""
    try:
        if check:
            result = build_pow_ledger(frontend=frontend)  # type: ignore[arg-type]
            committed = load_pow_artifact()
            same = (
                result.bytecode == committed.bytecode
                and result.deployed_bytecode == committed.deployed_bytecode
                and result.source_sha256 == committed.source_sha256
            )
            if not same:
                print(
                    f"compile: error: {committed.path} is stale; run deploy/compile.py",
                    file=sys.stderr,
                )
                return 1
            print(f"{committed.path}: up to date ({result.frontend}, {result.long_version})")
            return 0
        result, path = compile_pow_ledger(frontend=frontend)  # type: ignore[arg-type]
    except HeflError as error:
        print(f"compile: error: {error}", file=sys.stderr)
        return 1
    for warning in result.warnings:
        print(f"warning: {warning.splitlines()[0]}")
    print(
        f"wrote {path} ({result.frontend} {result.long_version}; "
        f"{(len(result.deployed_bytecode) - 2) // 2} bytes of runtime code; "
        f"source sha256 {result.source_sha256[:16]}…)"
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contract", choices=CONTRACTS, default="all")
    parser.add_argument("--frontend", choices=("auto", "native", "solc-js"), default="auto")
    parser.add_argument("--check", action="store_true", help="fail if an artifact is stale")
    args = parser.parse_args()
    code = 0
    if args.contract in ("all", "FLLedger"):
        code = main(["compile", "--frontend", args.frontend, *(["--check"] if args.check else [])])
    if args.contract in ("all", "PowLedger") and code == 0:
        code = compile_pow(args.frontend, args.check)
    sys.exit(code)
