"""``hefl node``: a local Anvil node on loopback whose state survives a restart.

Anvil's banner (the funded development accounts' private keys and the mnemonic) and its RPC log go
to a log file beside the state file, never to the terminal: the terminal shows the URL, the chain id
and where the log is.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from hefl.chain.anvil import anvil_command, wait_until_ready
from hefl.cli import SUMMARIES


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "node",
        help=SUMMARIES["node"],
        description="Run Anvil (npm @foundry-rs/anvil-linux-amd64) in the foreground on loopback. "
        "With --state the chain is loaded from the file at start and written to it every second "
        "and on exit, so the ledger survives a restart. Anvil's own output (including its funded "
        "development keys) goes to a log file next to the state file (--log to choose it). Any "
        "other node works through --rpc URL.",
    )
    parser.add_argument("--port", type=int, default=8545)
    parser.add_argument("--state", type=Path, help="state file (default .hefl/anvil-state.json)")
    parser.add_argument(
        "--log", type=Path, help="Anvil's log file (default: anvil.log beside the state file)"
    )
    parser.add_argument("--accounts", type=int, default=10, help="funded dev accounts")
    parser.set_defaults(func=run)


def _chain_id(url: str) -> int:
    from hefl.chain.node import connect_rpc

    return connect_rpc(url).chain_id


def _die_with_parent() -> None:
    """In the child: receive SIGKILL when ``hefl node`` dies, so Anvil never outlives it."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def run(args: argparse.Namespace) -> int:
    state: Path = args.state or Path(".hefl") / "anvil-state.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    log_path: Path = args.log or state.parent / "anvil.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = anvil_command(args.port, state=state, accounts=args.accounts)
    url = f"http://127.0.0.1:{args.port}"
    with open(log_path, "ab") as log:
        log_path.chmod(0o600)  # the banner lists the development accounts' private keys
        node = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
        )

        def forward(signum: int, _frame: Any) -> None:
            node.send_signal(signum)  # Anvil dumps its state on SIGTERM/SIGINT

        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, forward)
        try:
            wait_until_ready(url, node)
        except BaseException:
            node.kill()
            raise
        print(
            f"hefl node: {url} (chain id {_chain_id(url)}; state {state}; log {log_path})",
            flush=True,
        )
        code = node.wait()
    if code not in (0, -signal.SIGTERM, -signal.SIGINT):
        print(f"hefl node: Anvil exited with code {code}; see {log_path}", file=sys.stderr)
        return 1
    return 0
