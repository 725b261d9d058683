"""``hefl flower``: hefl's encrypted, ledger-audited job on Flower (the optional extra ``flower``).

``hefl flower simulate`` runs the main paper's job on Flower's simulation engine: the computing
party is the ServerApp, each participant a ClientApp with its own Ethereum account, the chain an
Anvil on 127.0.0.1 started for the run (or ``--rpc URL``). ``--out DIR`` gets the same files as
``hefl run`` (history.json, metrics.csv, deployment.json, config.json, blobs/), so ``hefl verify
DIR`` and ``hefl history --run DIR`` work on it. ``--strategy secagg-multikey`` (as ``hefl run``)
runs Yang et al.'s multi-key secure aggregation instead: each client's side of the protocol in its
ClientApp, the server learning only the sum, every round recorded on the same ledger.
``hefl flower new DIR`` writes a Flower app (``pyproject.toml`` with ``[tool.flwr.app]``) for
``flwr run DIR SUPERLINK``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hefl.cli import SUMMARIES
from hefl.cli.output import render_table, usage
from hefl.control import CONTROLLERS, FixedTauController
from hefl.data import DATASET_NAMES, SplitConfig
from hefl.data.prepare import PARTITIONS
from hefl.errors import ConfigError
from hefl.learning.strategy import UPDATE_MODES, LearningConfig

#: Defaults as ``hefl run``'s quick start.
DEFAULT_ETA = 0.05
DEFAULT_TAU = 5
#: The run config ``hefl flower prepare`` writes into the job's directory.
RUN_CONFIG_FILE = "run-config.toml"
#: Smallest key accepted without --allow-insecure-keys.
SECURE_KEY_BITS = 2048


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "flower",
        help=SUMMARIES["flower"],
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="flower_command", metavar="COMMAND")
    simulate = commands.add_parser(
        "simulate",
        help="the encrypted job on Flower's simulation engine; --out DIR as hefl run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_job_options(simulate, rpc_required=False)
    simulate.add_argument(
        "--strategy",
        choices=tuple(SIMULATIONS),
        default="paillier",
        help="the main paper's scheme (default), or FedAvg under multi-key secure aggregation",
    )
    simulate.add_argument(
        "--reply-timeout",
        type=float,
        default=120.0,
        help="seconds a stage waits for the clients' replies (a silent client is left out)",
    )
    simulate.add_argument("--out", type=Path, help="output directory (default runs/flower-<time>)")
    simulate.add_argument("--verbose", action="store_true", help="Flower's and Ray's logs")
    simulate.set_defaults(func=run_simulate)

    prepare = commands.add_parser(
        "prepare",
        help="prepare a job for a Flower deployment: agents, keys, ledger, DIR/run-config.toml",
        description="Prepare the job on the node at --rpc (the party's and every participant's "
        "directory, the Paillier key pair, FLLedger) and write DIR/run-config.toml for "
        "`flwr run APP SUPERLINK --run-config DIR/run-config.toml`. Each SuperNode then runs "
        "with --node-config \"participant-dir='DIR/participants/pI'\".",
    )
    prepare.add_argument("directory", type=Path, metavar="DIR", help="where the job goes")
    add_job_options(prepare, rpc_required=True)
    prepare.set_defaults(func=run_prepare)

    new = commands.add_parser(
        "new",
        help="write a Flower app (pyproject.toml with [tool.flwr.app]) for flwr run",
        description="Write a Flower app whose components are hefl's ServerApp and ClientApp. "
        "Pass the prepared job with `flwr run DIR SUPERLINK --run-config FILE`.",
    )
    new.add_argument("directory", type=Path, metavar="DIR", help="a new (or empty) directory")
    new.set_defaults(func=run_new)
    parser.set_defaults(func=usage(parser))


def add_job_options(parser: argparse.ArgumentParser, *, rpc_required: bool) -> None:
    """The options that define a Flower job (those of ``hefl run`` that apply)."""
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset", default="diabetes", help=f"{', '.join(DATASET_NAMES)} or a CSV path"
    )
    data.add_argument("--target", help="target column of a CSV data set")
    data.add_argument("--clients", type=int, default=3, help="simulated SuperNodes N (default 3)")
    data.add_argument("--partition", choices=PARTITIONS, default="iid")
    data.add_argument("--seed", type=int, default=0)
    learn = parser.add_argument_group("learning (as hefl run)")
    learn.add_argument("--tau", type=int, help=f"local steps per round (default {DEFAULT_TAU})")
    learn.add_argument("--rounds", type=int, default=5, help="rounds with the fixed τ")
    learn.add_argument("--eta", type=float, default=DEFAULT_ETA, help="learning rate η")
    learn.add_argument("--ridge", type=float, default=0.0, help="ridge γ (γ‖w‖²)")
    learn.add_argument("--mode", choices=UPDATE_MODES, default="fused", help="update mode")
    learn.add_argument(
        "--controller",
        default=FixedTauController.name,
        choices=[FixedTauController.name, *[c for c in CONTROLLERS if c != "fixed"]],
        help="fixed τ (default), or joint / only-aggregation / only-resource under --energy",
    )
    learn.add_argument("--energy", type=float, help="energy budget E in joules (controllers)")
    machinery = parser.add_argument_group("keys and machinery")
    machinery.add_argument("--key-bits", type=int, default=2048, help="Paillier modulus bits")
    machinery.add_argument(
        "--allow-insecure-keys", action="store_true", help="permit keys below 2048 bits"
    )
    machinery.add_argument(
        "--deadline", type=float, default=60.0, help="seconds a round takes submissions"
    )
    machinery.add_argument(
        "--rpc",
        metavar="URL",
        required=rpc_required,
        help="the JSON-RPC node of the job" + ("" if rpc_required else " (default: Anvil here)"),
    )


def _positive(value: float | None, flag: str, *, minimum: float = 1) -> None:
    if value is not None and value < minimum:
        raise ConfigError(f"{flag} {value:g} must be ≥ {minimum:g}")


def job_spec(args: argparse.Namespace) -> Any:
    """The Flower job of the command line, every value checked before anything goes on chain."""
    from hefl.flower.setup import FlowerJobSpec

    _positive(args.clients, "--clients", minimum=2)
    _positive(args.rounds, "--rounds")
    _positive(args.tau, "--tau")
    if not args.eta > 0:
        raise ConfigError(f"--eta {args.eta:g} must be > 0")
    if not args.deadline > 0:
        raise ConfigError(f"--deadline {args.deadline:g} must be > 0 seconds")
    if args.key_bits < SECURE_KEY_BITS and not args.allow_insecure_keys:
        raise ConfigError(
            f"--key-bits {args.key_bits} is below {SECURE_KEY_BITS}; add --allow-insecure-keys "
            "for tests and benchmarks"
        )
    if args.controller != FixedTauController.name and args.energy is None:
        raise ConfigError(f"--controller {args.controller} needs an energy budget: --energy J")
    return FlowerJobSpec(
        dataset=args.dataset,
        target=args.target,
        split=SplitConfig(
            participants=args.clients, n_samples=None, seed=args.seed, partition=args.partition
        ),
        learning=LearningConfig(eta=args.eta, ridge=args.ridge, mode=args.mode),
        key_bits=args.key_bits,
        allow_insecure_keys=args.allow_insecure_keys,
        controller=args.controller,
        tau=args.tau if args.tau is not None or args.controller != "fixed" else DEFAULT_TAU,
        rounds=args.rounds,
        energy=args.energy,
        deadline_s=args.deadline,
    )


def multikey_spec(args: argparse.Namespace) -> Any:
    """The multi-key job of the command line (``--key-bits`` is κ1, as ``hefl run``'s registry
    says); the options that only the main scheme has are refused, naming the flag."""
    from hefl.flower.multikey import MultiKeySpec
    from hefl.learning.registry import strategy_spec

    job_spec(args)  # every shared value checked first
    if args.controller != FixedTauController.name or args.energy is not None:
        raise ConfigError(
            f"--controller {args.controller} / --energy: --strategy {args.strategy} runs a fixed "
            "τ for --rounds rounds"
        )
    options = strategy_spec(args.strategy).scheme_options(args.key_bits, args.allow_insecure_keys)
    return MultiKeySpec(
        clients=args.clients,
        rounds=args.rounds,
        tau=DEFAULT_TAU if args.tau is None else args.tau,
        eta=args.eta,
        ridge=args.ridge,
        kappa1=int(options["kappa1"]),
        allow_insecure=bool(options["allow_insecure"]),
        reply_timeout_s=args.reply_timeout,
    )


def _simulate_paillier(args: argparse.Namespace, out: Path) -> tuple[list[Any], Path, str | None]:
    from hefl.flower.simulate import simulate

    spec = job_spec(args)
    print(
        f"hefl flower simulate: {spec.dataset}, {args.clients} simulated SuperNodes, "
        f"{spec.key_bits}-bit keys, {spec.learning.mode} updates, on "
        f"{args.rpc or 'an Anvil on 127.0.0.1'}",
        flush=True,
    )
    result = simulate(spec, out, rpc=args.rpc, reply_timeout_s=args.reply_timeout,
                      verbose=args.verbose)  # fmt: skip
    return list(result.rounds), result.out, result.error


def _simulate_multikey(args: argparse.Namespace, out: Path) -> tuple[list[Any], Path, str | None]:
    from hefl.flower.simulate import simulate_multikey

    spec = multikey_spec(args)
    print(
        f"hefl flower simulate: {args.dataset}, {args.clients} simulated SuperNodes, multi-key "
        f"secure aggregation ({spec.kappa1}-bit group), on {args.rpc or 'an Anvil on 127.0.0.1'}",
        flush=True,
    )
    split = SplitConfig(
        participants=args.clients, n_samples=None, seed=args.seed, partition=args.partition
    )
    result = simulate_multikey(
        spec, out, dataset=args.dataset, target=args.target, split=split, rpc=args.rpc,
        verbose=args.verbose,
    )  # fmt: skip
    return list(result.summaries), result.out, result.error


#: ``hefl flower simulate --strategy``: the strategies a Flower job runs, each its runner.
SIMULATIONS = {"paillier": _simulate_paillier, "secagg-multikey": _simulate_multikey}


def run_simulate(args: argparse.Namespace) -> int:
    import datetime as dt

    from hefl.flower import require_flower

    require_flower()
    out = args.out or Path("runs") / dt.datetime.now().strftime("flower-%Y%m%d-%H%M%S")
    if not args.reply_timeout > 0:
        raise ConfigError(f"--reply-timeout {args.reply_timeout:g} must be > 0 seconds")
    rounds, written, error = SIMULATIONS[args.strategy](args, out)
    rows = [
        {
            "round": str(r.round),
            "tau": str(r.tau),
            "status": str(r.status),
            "train loss": f"{r.train_loss:.6f}",
            "attested": str(r.attested),
            "disputed": str(r.disputed),
            "seconds": f"{r.seconds:.2f}",
        }
        for r in rounds
    ]
    print(render_table(rows))
    print(f"wrote {written} (hefl verify {written}; hefl history --run {written})")
    if error is not None:
        raise ConfigError(f"the job stopped: {error}")
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    from hefl.flower import require_flower

    require_flower()
    from hefl.flower.deployment import write_run_config
    from hefl.flower.simulate import prepare_run, run_config_for

    spec = job_spec(args)
    prepared = prepare_run(spec, args.directory, args.rpc)
    config = write_run_config(args.directory / RUN_CONFIG_FILE, run_config_for(prepared, args.rpc))
    print(f"ledger deployed at {prepared.job.ledger} (chain {prepared.job.chain_id})")
    print(f"wrote {config}: flwr run APP SUPERLINK --run-config {config} --stream")
    for index in range(len(prepared.data.parts)):
        print(
            f"  SuperNode {index}: --node-config "
            f"\"participant-dir='{prepared.participant_dir(index)}'\""
        )
    return 0


def run_new(args: argparse.Namespace) -> int:
    """Write the Flower app hefl ships (:mod:`hefl.flower.template`; ``examples/flower``)."""
    from hefl.flower.template import write_app

    write_app(args.directory)
    print(
        f"wrote a Flower app to {args.directory}: "
        f"flwr run {args.directory} SUPERLINK --run-config FILE --stream"
    )
    return 0
