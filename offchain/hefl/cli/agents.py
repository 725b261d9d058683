"""``hefl split``, ``hefl party …`` and ``hefl participant …``: the multi-process mode.

A session on one machine (each command in its own terminal)::

    hefl node --port 8545 --state chain.json
    hefl split --dataset diabetes -n 3 --out data
    hefl participant init --dir p0 --data data/participant_0.npz      # … p1, p2
    hefl party setup --dir party --rpc http://127.0.0.1:8545 --fund \\
        --participant p0 --participant p1 --participant p2 --blobs blobs
    hefl participant run --dir p0 --job party/job.json --rpc … --blobs blobs   # … p1, p2
    hefl party run --dir party --rpc http://127.0.0.1:8545 --blobs blobs --test data/test.npz

Keystores are encrypted with the password in $HEFL_KEYSTORE_PASSWORD (or --password-file).
Each agent logs what it does per round to stderr and to DIR/agent.log; no secret is ever logged.

Start-up (issue #18): every command imports what it uses, inside its ``run_*`` function, and
:func:`register` builds only the parser of the command being run (``hefl.cli.main`` passes it):
``hefl split`` and ``hefl participant init`` import neither web3 nor scikit-learn.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hefl.cli import SUMMARIES

#: Ether (in wei) sent by ``--fund`` to the party and each participant from the node's account.
FUND_WEI = 10 * 10**18


#: The commands this module registers (see ``hefl.cli.main.COMMAND_MODULES``).
COMMANDS = ("split", "party", "participant")


def register(subparsers: Any, only: str | None = None) -> None:
    """Add ``split``, ``party`` and ``participant`` (or ``only`` the one being run: a parser
    imports the modules its choices come from, e.g. the strategy registry, web3 for the ledger's
    void timeout, and ``hefl split`` needs none of those)."""
    registrars: dict[str, Callable[[Any], None]] = {
        "split": _register_split,
        "party": _register_party,
        "participant": _register_participant,
    }
    for name in COMMANDS if only is None else (only,):
        registrars[name](subparsers)


def _register_split(subparsers: Any) -> None:
    from hefl.data.datasets import DATASET_NAMES

    split = subparsers.add_parser("split", help=SUMMARIES["split"])
    split.add_argument("--dataset", default="diabetes", help=", ".join(DATASET_NAMES))
    split.add_argument("-n", "--participants", type=int, default=3)
    split.add_argument("--seed", type=int, default=0)
    split.add_argument("--out", type=Path, required=True)
    split.set_defaults(func=run_split)


def _register_party(subparsers: Any) -> None:
    from hefl.chain.fl_ledger import DEFAULT_VOID_TIMEOUT_S
    from hefl.learning.registry import STRATEGIES
    from hefl.learning.strategy import UPDATE_MODES

    party = subparsers.add_parser("party", help=SUMMARIES["party"])
    party_cmd = party.add_subparsers(dest="action", metavar="ACTION", required=True)
    setup = party_cmd.add_parser("setup", help="make keys, deploy the ledger, write the job file")
    _common(setup)
    setup.add_argument(
        "--participant", action="append", required=True, type=Path,
        help="a participant's directory or identity.json (repeat)",
    )  # fmt: skip
    setup.add_argument("--tau", type=int, default=5)
    setup.add_argument("--rounds", type=int, default=3)
    setup.add_argument("--deadline", type=float, default=60.0, help="submission deadline, s")
    setup.add_argument("--eta", type=float, default=0.05)
    setup.add_argument("--mode", choices=UPDATE_MODES, default="fused")
    setup.add_argument(
        "--strategy",
        choices=[spec.name for spec in STRATEGIES.values() if spec.multi_process],
        default="paillier",
        help="the strategies whose party runs from the job file and its key alone",
    )
    setup.add_argument("--key-bits", type=int, default=2048)
    setup.add_argument("--fund", action="store_true", help="fund the accounts from the node")
    setup.add_argument(
        "--void-timeout",
        type=int,
        default=DEFAULT_VOID_TIMEOUT_S,
        metavar="S",
        help="seconds after a round's deadline or commit after which a round without verdict "
        f"is voided and redone (default {DEFAULT_VOID_TIMEOUT_S}; at least the node-outage "
        "limit an agent rides out)",
    )
    setup.add_argument(
        "--force", action="store_true", help="replace a party's files already in --dir"
    )
    setup.set_defaults(func=run_party_setup)
    prun = party_cmd.add_parser("run", help="run the rounds until the job is complete")
    _common(prun)
    prun.add_argument("--test", type=Path, help="held-out data (.npz) for the test loss")
    prun.set_defaults(func=run_party)


def _register_participant(subparsers: Any) -> None:
    participant = subparsers.add_parser("participant", help=SUMMARIES["participant"])
    part_cmd = participant.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = part_cmd.add_parser("init", help="make a keystore and take in a private data file")
    init.add_argument("--dir", type=Path, required=True)
    init.add_argument("--data", type=Path, required=True, help=".npz with X (with bias) and y")
    init.add_argument("--password-file", type=Path)
    init.set_defaults(func=run_participant_init)
    part_run = part_cmd.add_parser("run", help="take part in a job until it is complete")
    _common(part_run)
    part_run.add_argument("--job", type=Path, required=True, help="the party's job.json")
    part_run.set_defaults(func=run_participant)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, required=True, help="this agent's directory")
    parser.add_argument("--rpc", required=True, metavar="URL", help="JSON-RPC URL of the node")
    parser.add_argument("--blobs", type=Path, required=True, help="the shared blob store")
    parser.add_argument("--password-file", type=Path)


def _logging(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [
        logging.StreamHandler(),
        logging.FileHandler(directory / "agent.log"),
    ]
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(message)s",
        handlers=handlers,
        force=True,
    )
    for noisy in ("web3", "urllib3", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run_split(args: argparse.Namespace) -> int:
    from hefl.agents.identity import save_private_data
    from hefl.data import SplitConfig, load_dataset, prepare
    from hefl.data.prepare import Part

    data = prepare(
        load_dataset(args.dataset),
        SplitConfig(participants=args.participants, n_samples=None, seed=args.seed),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(data.parts):  # private data: 0600 from the start
        save_private_data(args.out / f"participant_{i}.npz", part)
    save_private_data(args.out / "test.npz", Part(X=data.X_test, y=data.y_test))
    print(f"wrote {len(data.parts)} participant files and test.npz to {args.out}")
    return 0


def run_participant_init(args: argparse.Namespace) -> int:
    import numpy as np

    from hefl.agents.identity import create_agent, read_password
    from hefl.data.prepare import Part

    with np.load(args.data) as archive:
        part = Part(X=np.asarray(archive["X"]), y=np.asarray(archive["y"]))
    identity = create_agent(args.dir, read_password(args.password_file), part)
    print(json.dumps({"address": identity.address, "data_size": identity.data_size}))
    return 0


def _connect(args: argparse.Namespace) -> Any:
    from hefl.agents.identity import KEYSTORE, read_password
    from hefl.chain.node import connect_rpc

    chain = connect_rpc(args.rpc)
    chain.add_keystore(args.dir / KEYSTORE, read_password(args.password_file))
    return chain


def run_party_setup(args: argparse.Namespace) -> int:
    from hefl.agents.identity import Identity, read_password
    from hefl.agents.network import Schedule, setup_job
    from hefl.chain.blobstore import LocalBlobStore
    from hefl.chain.node import connect_rpc
    from hefl.learning.paillier import FixedPointConfig
    from hefl.learning.strategy import LearningConfig

    _logging(args.dir)
    chain = connect_rpc(args.rpc)
    identities = [Identity.load(path) for path in args.participant]
    job = setup_job(
        chain,
        args.dir,
        read_password(args.password_file),
        identities,
        LocalBlobStore(args.blobs),
        schedule=Schedule(
            tau=args.tau,
            rounds=args.rounds,
            submission_deadline_s=args.deadline,
            void_timeout_s=args.void_timeout,
        ),
        learning=LearningConfig(eta=args.eta, mode=args.mode),
        fixed_point=FixedPointConfig(),
        key_bits=args.key_bits,
        fund_wei=FUND_WEI if args.fund else 0,
        strategy=args.strategy,
        force=args.force,
    )
    print(json.dumps({"ledger": job.ledger, "chain_id": job.chain_id, "job": str(args.dir)}))
    return 0


def run_party(args: argparse.Namespace) -> int:
    import numpy as np

    from hefl.agents.export import RunDirectory
    from hefl.agents.identity import Identity, read_password
    from hefl.agents.network import JobFile, PartyDaemon
    from hefl.chain.blobstore import LocalBlobStore
    from hefl.chain.fl_ledger import LedgerClient
    from hefl.errors import HeflError

    _logging(args.dir)
    job = JobFile.load(args.dir)
    chain = _connect(args)
    address = Identity.load(args.dir).address
    ledger = LedgerClient.at(chain, job.ledger, sender=address)
    test = None
    if args.test:
        with np.load(args.test) as archive:
            test = (np.asarray(archive["X"]), np.asarray(archive["y"]))
    daemon = PartyDaemon(
        args.dir,
        ledger,
        LocalBlobStore(args.blobs),
        job,
        test_data=test,
        password=read_password(args.password_file),
    )
    try:
        daemon.run()
    except HeflError as error:  # one line: what failed, and what the party's directory keeps
        resume = f"hefl party run --dir {args.dir} (it resumes from the chain)"
        raise HeflError(f"{error}; {RunDirectory(args.dir).kept(resume=resume)}") from error
    return 0


def run_participant(args: argparse.Namespace) -> int:
    from hefl.agents.identity import Identity
    from hefl.agents.network import JobFile, ParticipantDaemon
    from hefl.chain.blobstore import LocalBlobStore
    from hefl.chain.fl_ledger import LedgerClient
    from hefl.errors import ConfigError

    _logging(args.dir)
    job = JobFile.load(args.job)
    chain = _connect(args)
    address = Identity.load(args.dir).address
    if chain.chain_id != job.chain_id:
        raise ConfigError(f"node at {args.rpc} is chain {chain.chain_id}, job is {job.chain_id}")
    ledger = LedgerClient.at(chain, job.ledger, sender=address)
    ParticipantDaemon(args.dir, ledger, LocalBlobStore(args.blobs), job).run()
    return 0
