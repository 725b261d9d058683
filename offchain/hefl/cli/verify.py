"""``hefl verify``: re-check a finished job from the ledger and the blob store alone.

``hefl verify DIR`` reads the run's ledger with contract calls — on the embedded chain the run
persisted in ``DIR/chain.db`` — checks every blob, aggregate and quorum it names, and compares
the exported ``DIR/history.json`` with it field by field (an edited export is a problem). On a
ledger whose blobs travel in calldata, a blob deleted from ``DIR/blobs`` is read back from the
chain, hash-checked and reported as restored from the chain (``--restore-blobs`` writes it back
into the store); only a blob neither in the store nor on chain is missing. With
``--rpc URL [--address A]`` it reads a live node instead (the multi-process mode's ledger). A run
directory that kept no chain is checked against its exported history, saying that the chain
itself was not consulted. On a pow-race run (``DIR/pow_history.json``, or a PowLedger at the
address) it does what ``hefl race verify`` does.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hefl.agents.audit import (
    PERSISTED_SOURCE,
    ExportedHistory,
    LedgerView,
    audit,
    compare_history,
    open_run_ledger,
)
from hefl.chain import LocalBlobStore, connect_rpc
from hefl.cli import SUMMARIES
from hefl.cli.output import report_audit
from hefl.dso import ledger as dso_ledger
from hefl.errors import ConfigError
from hefl.pow.audit import audit_pow_directory


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "verify",
        help=SUMMARIES["verify"],
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("directory", type=Path, help="the run's output directory (hefl run --out)")
    parser.add_argument("--rpc", metavar="URL", help="read the live chain at this JSON-RPC URL")
    parser.add_argument("--address", metavar="A", help="ledger address (with --rpc)")
    parser.add_argument("--blobs", type=Path, help="blob store directory (default DIR/blobs)")
    parser.add_argument(
        "--restore-blobs",
        action="store_true",
        help="write blobs missing from the store that the chain holds back into it",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if dso_ledger.is_dso_run(args.directory):  # a `hefl dso run`: replay its transcripts
        return dso_ledger.verify_directory(args.directory, args.rpc, args.address)
    blobs_dir = args.blobs or args.directory / "blobs"
    if not blobs_dir.is_dir():
        raise ConfigError(f"no blob store at {blobs_dir}; pass --blobs DIR")
    pow_report = audit_pow_directory(args.directory, blobs_dir, args.rpc, args.address)
    if pow_report is not None:  # a pow-race run (pow_history.json, or a PowLedger at --address)
        report_audit(pow_report)
        return 0
    if args.address and not args.rpc:
        raise ConfigError("--address A needs --rpc URL (the node the ledger lives on)")
    chain = connect_rpc(args.rpc) if args.rpc else None
    contract = open_run_ledger(args.directory, chain, args.address)
    history_file = args.directory / "history.json"
    ledger: LedgerView
    if contract is None:
        ledger = ExportedHistory.load(args.directory)
        report = audit(ledger, LocalBlobStore(blobs_dir))
    else:
        ledger = contract
        source = None if args.rpc else f"{PERSISTED_SOURCE} {args.directory / 'chain.db'}"
        store = LocalBlobStore(blobs_dir)
        report = audit(ledger, store, source=source, restore=args.restore_blobs)
        if history_file.exists():  # the export must say what the contract says
            report.problems += compare_history(ExportedHistory.load(history_file), contract)
    report_audit(report)
    return 0
