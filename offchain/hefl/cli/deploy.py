"""``hefl deploy``: deploy an FLLedger to the embedded chain (default) or a JSON-RPC node."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from hefl.cli import SUMMARIES
from hefl.cli.history import DEFAULT_DEPLOYMENT, print_history
from hefl.errors import ConfigError

#: Demo job when no participants are given: N = 5 participants (the paper's default N) holding
#: |D_i| = 81 samples each (Boston's 404 training samples split five ways, rounded up).
DEMO_PARTICIPANTS = 5
DEMO_DATA_SIZE = 81
#: Placeholder commitments for a demo ledger that belongs to no real job.
DEMO_PUBLIC_KEY_LABEL = b"hefl demo ledger: no Paillier public key"
DEMO_CONFIG_LABEL = b"hefl demo ledger: no job configuration"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "deploy",
        help=SUMMARIES["deploy"],
        description="Deploy contracts/FLLedger.sol (from its committed artifact) to the embedded "
        "eth-tester chain, or to a JSON-RPC node with --rpc, and print its (empty) history.",
    )
    parser.add_argument("--rpc", metavar="URL", help="JSON-RPC node (default: embedded chain)")
    parser.add_argument(
        "--private-key-env",
        metavar="NAME",
        help="environment variable holding the party's private key (signs locally)",
    )
    parser.add_argument(
        "--from", dest="sender", metavar="ADDR", help="party address unlocked on the node"
    )
    parser.add_argument(
        "--participant",
        action="append",
        default=[],
        metavar="ADDR:SIZE",
        help="a participant and its data-set size |D_i|; repeat (default: a demo set of "
        f"{DEMO_PARTICIPANTS} node accounts with |D_i| = {DEMO_DATA_SIZE})",
    )
    parser.add_argument(
        "--participants",
        type=int,
        default=DEMO_PARTICIPANTS,
        metavar="N",
        help="size of the demo participant set",
    )
    parser.add_argument("--public-key-hash", metavar="HEX", help="keccak256 of the public key")
    parser.add_argument("--config-hash", metavar="HEX", help="keccak256 of the configuration")
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_DEPLOYMENT,
        help=f"where to write the deployment record (default: {DEFAULT_DEPLOYMENT})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(func=run)


def _parse_participant(text: str) -> tuple[str, int]:
    address, sep, size = text.rpartition(":")
    if not sep:
        raise ConfigError(f"--participant {text!r} must be ADDR:SIZE, e.g. 0xAbC…:81")
    try:
        return address, int(size)
    except ValueError:
        raise ConfigError(f"--participant {text!r}: size {size!r} is not an integer") from None


def run(args: argparse.Namespace) -> int:
    from hefl.canonical import keccak256
    from hefl.chain import DeploymentRecord, connect_embedded, connect_rpc, deploy_ledger

    chain = connect_rpc(args.rpc) if args.rpc else connect_embedded()
    if args.private_key_env:
        key = os.environ.get(args.private_key_env)
        if not key:
            raise ConfigError(f"environment variable {args.private_key_env} holds no private key")
        party = chain.add_private_key(key)
    elif args.sender:
        party = args.sender
    else:
        party = chain.accounts_for(1)[0]

    if args.participant:
        pairs = [_parse_participant(text) for text in args.participant]
        participants = [address for address, _ in pairs]
        sizes = [size for _, size in pairs]
    else:
        if args.participants < 1:
            raise ConfigError(f"--participants must be at least 1, got {args.participants}")
        pool = [a for a in chain.accounts_for(args.participants + 1) if a != party]
        participants = [str(a) for a in pool[: args.participants]]
        sizes = [DEMO_DATA_SIZE] * len(participants)

    client = deploy_ledger(
        chain,
        party,
        participants,
        sizes,
        args.public_key_hash or keccak256(DEMO_PUBLIC_KEY_LABEL),
        args.config_hash or keccak256(DEMO_CONFIG_LABEL),
    )
    record = DeploymentRecord.from_client(client)
    path = record.save(args.out) if args.out else None
    if args.json:
        print(json.dumps({"deployment": record.to_json(), "record_file": str(path)}, indent=2))
        return 0
    where = args.rpc or "the embedded chain (gone when this command exits)"
    gas = client.deploy_result.gas_used if client.deploy_result else "?"
    print(
        f"deployed FLLedger at {record.address} on {where}, chain {record.chain_id}, "
        f"block {record.block_number}, gas {gas}"
    )
    print(f"party {record.party}; artifact sha256 {record.artifact_sha256[:16]}…")
    if path is not None:
        print(f"deployment record: {path}")
    print_history(client)
    return 0
