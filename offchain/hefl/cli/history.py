"""``hefl history``: the rounds a ledger recorded, as a table or JSON."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hefl.chain.pow_ledger import PowLedgerClient, is_pow_ledger
from hefl.cli import SUMMARIES, race
from hefl.cli.output import render_table
from hefl.dso import ledger as dso_ledger
from hefl.errors import ConfigError

#: Where ``hefl deploy`` writes its record by default.
DEFAULT_DEPLOYMENT = Path(".hefl") / "deployment.json"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "history",
        help=SUMMARIES["history"],
        description="Read every round of an FLLedger deployment and print them (for a PowLedger "
        "address or a pow-race run: every block and its winner, as `hefl race history`).",
    )
    parser.add_argument("--rpc", metavar="URL", help="JSON-RPC URL of the node")
    parser.add_argument("--address", metavar="A", help="ledger contract address")
    parser.add_argument(
        "--deployment",
        type=Path,
        metavar="FILE",
        help=f"deployment record giving --rpc and --address (default: {DEFAULT_DEPLOYMENT} "
        "when neither is given)",
    )
    parser.add_argument(
        "--run",
        type=Path,
        metavar="DIR",
        help="a `hefl run --out` directory (or a multi-process party's --dir): its rounds read "
        "with contract calls on the chain it persisted (or at --rpc), with its losses",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def add_metrics(rows: list[dict[str, str]], metrics: Sequence[dict[str, Any] | None]) -> None:
    """Append a run's train/test loss and seconds to the rows of :func:`history_rows`."""
    for row, m in zip(rows, metrics, strict=False):
        m = m or {}
        for column, key, digits in (
            ("train loss", "train_loss", 6),
            ("test loss", "test_loss", 6),
            ("seconds", "seconds", 1),
        ):
            value = m.get(key)  # None: not measured (a party without training data)
            row[column] = "-" if value is None else f"{value:.{digits}f}"


def print_run_history(directory: Path, rpc: str | None, *, as_json: bool = False) -> None:
    """A run's rounds with its losses. The rounds are read with contract calls — from the live
    chain with ``rpc``, else from the embedded chain the run persisted (``DIR/chain.db``) — and
    only from the exported history when the run kept no chain (saying so); the losses, which
    are not on chain, come from the run's export."""
    from hefl.agents.audit import ExportedHistory, open_run_ledger
    from hefl.chain import connect_rpc, quorum_for

    contract = open_run_ledger(directory, connect_rpc(rpc) if rpc else None)
    exported = ExportedHistory.load(directory) if (directory / "history.json").exists() else None
    view: Any = contract if contract is not None else exported
    if view is None:
        raise ConfigError(f"{directory} holds neither a chain nor a history.json: not a run")
    rounds = [view.get_round(g) for g in range(view.round_count())]
    by_round = {}
    if exported is not None:
        by_round = {r["round"]: r.get("metrics") for r in exported.document["rounds"]}
    metrics = [by_round.get(r.round) for r in rounds]
    if as_json:
        payload = [{**r.to_json(), "metrics": m} for r, m in zip(rounds, metrics, strict=True)]
        print(json.dumps(payload, indent=2))
        return
    rows = history_rows(rounds, quorum_for(len(view.participants())))
    add_metrics(rows, metrics)
    if rpc:
        source = "the live chain"
    elif contract is not None:
        source = f"contract calls on the run's chain ({directory / 'chain.db'})"
    else:
        source = "the exported history (the chain was not consulted)"
    print(f"{directory}: {len(rounds)} rounds, from {source}")
    print(render_table(rows) if rows else "no rounds yet")


def short_hash(value: bytes) -> str:
    """``0x1234…abcd`` for a 32-byte hash, ``-`` for zero."""
    if not any(value):
        return "-"
    text = value.hex()
    return f"0x{text[:4]}…{text[-4:]}"


def history_rows(rounds: Sequence[Any], quorum: int) -> list[dict[str, str]]:
    """One row of display strings per :class:`~hefl.chain.RoundRecord` (extend with more keys)."""
    rows = []
    for r in rounds:
        rows.append(
            {
                "g": str(r.round),
                "t": str(r.iteration),
                "τ": str(r.tau),
                "status": r.status.name.lower(),
                "included": ",".join(map(str, r.included_indices)) or "-",
                "votes": f"{r.votes}/{quorum}",
                "disputes": str(r.dispute_count),
                "global model": short_hash(r.global_model_hash),
                "aggregate": short_hash(r.aggregate_hash),
            }
        )
    return rows


def print_history(client: Any, *, as_json: bool = False) -> None:
    """Print a ledger's job summary and its rounds."""
    rounds = client.history()
    quorum = client.quorum()
    if as_json:
        payload = {
            "address": client.address,
            "chain_id": client.chain.chain_id,
            "party": client.party(),
            "participants": [
                {"index": p.index, "address": p.address, "data_size": p.data_size}
                for p in client.participants()
            ],
            "quorum": quorum,
            "fault_tolerance": client.fault_tolerance(),
            "rounds": [r.to_json() for r in rounds],
        }
        print(json.dumps(payload, indent=2))
        return
    nodes = client.consensus_nodes()
    print(
        f"ledger {client.address} on chain {client.chain.chain_id}: "
        f"{nodes - 1} participants, quorum {quorum} of {nodes}, {len(rounds)} rounds"
    )
    if rounds:
        print(render_table(history_rows(rounds, quorum)))
    else:
        print("no rounds yet")


def run(args: argparse.Namespace) -> int:
    from hefl.chain import DeploymentRecord, LedgerClient, connect_rpc

    if args.run is not None:
        if dso_ledger.is_dso_run(args.run):  # a `hefl dso run`: its checkpoints
            dso_ledger.print_history(args.run, args.rpc, as_json=args.json)
        elif race.is_race_run(args.run):  # a pow-race run: its blocks
            race.print_race_run_history(args.run, args.rpc, as_json=args.json)
        else:
            print_run_history(args.run, args.rpc, as_json=args.json)
        return 0
    rpc, address = args.rpc, args.address
    if args.deployment or (rpc is None and address is None):
        record = DeploymentRecord.load(args.deployment or DEFAULT_DEPLOYMENT)
        if record.rpc_url is None and rpc is None:
            raise ConfigError(
                "that deployment was on the embedded chain, which ended with its process; "
                "deploy with --rpc URL to keep a ledger"
            )
        rpc = rpc or record.rpc_url
        address = address or record.address
    if rpc is None or address is None:
        raise ConfigError("give both --rpc URL and --address A (or --deployment FILE)")
    chain = connect_rpc(rpc)
    if is_pow_ledger(chain, address):  # a pow-race chain: the winner of every block
        race.print_pow_history(PowLedgerClient.at(chain, address), as_json=args.json)
        return 0
    client = LedgerClient.at(chain, address)
    print_history(client, as_json=args.json)
    return 0
