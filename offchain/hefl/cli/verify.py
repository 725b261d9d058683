"""``hefl verify``: re-check a finished job from the ledger and the blob store alone.

``hefl verify DIR`` checks a run's blobs against the history it exported (``DIR/history.json``),
which is all that is left of a job on the embedded chain; it says plainly that the chain itself was
not consulted. With ``--rpc URL --address A`` it reads the live chain instead. On a pow-race run
(``DIR/pow_history.json``, or a PowLedger at the address) it does what ``hefl race verify`` does.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hefl.agents.audit import ExportedHistory, LedgerView, audit
from hefl.chain import LedgerClient, LocalBlobStore, connect_rpc
from hefl.cli.output import report_audit
from hefl.dso import ledger as dso_ledger
from hefl.errors import ConfigError
from hefl.pow.audit import audit_pow_directory


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "verify",
        help="re-check a job's blobs, aggregates and quorums",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("directory", type=Path, help="the run's output directory (hefl run --out)")
    parser.add_argument("--rpc", metavar="URL", help="read the live chain at this JSON-RPC URL")
    parser.add_argument("--address", metavar="A", help="ledger address (with --rpc)")
    parser.add_argument("--blobs", type=Path, help="blob store directory (default DIR/blobs)")
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
    ledger: LedgerView
    if args.rpc:
        address = args.address
        if not address:
            address = ExportedHistory.load(args.directory).document["deployment"]["address"]
        ledger = LedgerClient.at(connect_rpc(args.rpc), address)
    else:
        ledger = ExportedHistory.load(args.directory)
    report_audit(audit(ledger, LocalBlobStore(blobs_dir)))
    return 0
