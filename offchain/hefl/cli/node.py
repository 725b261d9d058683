"""``hefl node``: a local Anvil node on loopback whose state survives a restart."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from hefl.chain.anvil import anvil_command


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "node",
        help="run a local Anvil node on 127.0.0.1 (state kept in a file)",
        description="Run Anvil (npm @foundry-rs/anvil-linux-amd64) in the foreground on loopback. "
        "With --state the chain is loaded from the file at start and written to it every second "
        "and on exit, so the ledger survives a restart. Any other node works through --rpc URL.",
    )
    parser.add_argument("--port", type=int, default=8545)
    parser.add_argument("--state", type=Path, help="state file (default .hefl/anvil-state.json)")
    parser.add_argument("--accounts", type=int, default=10, help="funded dev accounts")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    state = args.state or Path(".hefl") / "anvil-state.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    command = anvil_command(args.port, state=state, accounts=args.accounts)
    print(f"hefl node: http://127.0.0.1:{args.port} (state {state})", flush=True)
    # Become Anvil, so that a signal sent to this process reaches the node and it dumps its state.
    os.execv(command[0], command)
    return 0  # not reached
