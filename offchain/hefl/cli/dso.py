"""``hefl dso run``: decentralised Paillier DSGD (no server) with checkpoints on a DsoLedger.

    hefl dso run --graph ring --problem estimation --iterations 100 --out DIR

Each agent holds its own Paillier key pair; messages are real ciphertexts; every K iterations
each agent commits its transcript hash and encrypted-state hash on a DsoLedger (the embedded
chain, or the node at --rpc). ``hefl verify DIR`` replays the transcripts against them;
``hefl history --run DIR`` lists the checkpoints.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from hefl.cli import SUMMARIES
from hefl.errors import ConfigError, HeflError


def register(subparsers: Any) -> None:
    from hefl.dso.config import DEFAULT_CHECKPOINT_INTERVAL, DEFAULT_STATE_BOUND
    from hefl.dso.graph import DEFAULT_EDGE_PROBABILITY

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "dso",
        help=SUMMARIES["dso"],
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="dso_command", metavar="ACTION")
    run = sub.add_parser("run", help="run the private algorithm with real ciphertexts")
    run.add_argument("--graph", default="ring", help="ring | complete | random | file:PATH")
    run.add_argument("--agents", type=int, default=5, help="N (ignored for file: graphs)")
    run.add_argument("--edge-probability", type=float, default=DEFAULT_EDGE_PROBABILITY)
    run.add_argument(
        "--problem", default="estimation", help="estimation | boston | fish | diabetes | a CSV path"
    )
    run.add_argument("--target", help="target column of a CSV problem")
    run.add_argument("--iterations", type=int, default=100)
    run.add_argument("--gamma", default="1,0.1,0.81", help="γ_k as 'c0,c,p' = c0/(1+c·k^p)")
    run.add_argument("--lam", default="0.05,0.1,1", help="λ_k as 'c0,c,p'")
    run.add_argument("--a-min", type=float, help="smallest private weight (default per graph)")
    run.add_argument("--a-max", type=float, help="largest private weight (default per graph)")
    run.add_argument("--state-bound", type=float, default=DEFAULT_STATE_BOUND)
    run.add_argument("--checkpoint-interval", type=int, default=DEFAULT_CHECKPOINT_INTERVAL)
    run.add_argument("--key-bits", type=int, default=2048)
    run.add_argument(
        "--allow-insecure-keys", action="store_true", help="accept keys below 2048 bits (tests)"
    )
    run.add_argument("--transport", choices=("inprocess", "processes"), default="inprocess")
    run.add_argument(
        "--diagonal-stepsizes",
        action="store_true",
        help="draw u_i(k) per coordinate (a diagonal stepsize matrix) instead of one scalar",
    )
    run.add_argument("--batch-size", type=int, default=8, help="mini-batch of regression problems")
    run.add_argument("--rpc", metavar="URL", help="commit checkpoints on this JSON-RPC node")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--out", type=Path, required=True, help="output directory")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=run_command)

    def usage(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=usage)


def _flag(flag: str, action: Any) -> Any:
    """Run ``action``; a HeflError becomes a ConfigError naming the CLI flag."""
    try:
        return action()
    except HeflError as error:
        raise ConfigError(f"{flag}: {error}") from None


def run_command(args: argparse.Namespace) -> int:
    from hefl.chain import connect_rpc
    from hefl.dso.config import DsoConfig, default_a_range
    from hefl.dso.graph import make_graph
    from hefl.dso.ledger import run_to_directory
    from hefl.dso.problems import make_problem
    from hefl.dso.runner import generate_keys
    from hefl.dso.schedule import PowerSchedule

    if (args.out / "run.json").exists():
        raise ConfigError(f"--out {args.out} already holds a run; choose another directory")
    graph = _flag(
        "--graph",
        lambda: make_graph(args.graph, args.agents, seed=args.seed, p=args.edge_probability),
    )
    problem = _flag(
        "--problem",
        lambda: make_problem(
            args.problem,
            graph.n,
            seed=args.seed,
            target=args.target,
            batch_size=args.batch_size,
        ),
    )
    gamma = _flag("--gamma", lambda: PowerSchedule.parse(args.gamma, "schedule"))
    lam = _flag("--lam", lambda: PowerSchedule.parse(args.lam, "schedule"))
    a_min, a_max = default_a_range(graph.max_degree, gamma(0))
    a_min = args.a_min if args.a_min is not None else a_min
    a_max = args.a_max if args.a_max is not None else a_max
    if args.key_bits < 2048 and not args.allow_insecure_keys:
        raise ConfigError(f"--key-bits {args.key_bits} is below 2048; add --allow-insecure-keys")
    # One flag at a time, so an error names the flag whose value is wrong.
    config = _flag("--iterations", lambda: DsoConfig(iterations=args.iterations, seed=args.seed))
    for flag, values in (
        ("--checkpoint-interval", {"checkpoint_interval": args.checkpoint_interval}),
        ("--state-bound", {"state_bound": args.state_bound}),
        ("--a-min/--a-max", {"a_min": a_min, "a_max": a_max}),
    ):
        try:
            config = replace(config, **values)
        except HeflError as error:
            raise ConfigError(f"{flag}: {error}") from None
    config = replace(
        config,
        gamma=gamma,
        lam=lam,
        key_bits=args.key_bits,
        allow_insecure=args.allow_insecure_keys,
        diagonal_stepsizes=args.diagonal_stepsizes,
    )
    _flag("--gamma/--lam/--a-max", lambda: config.check_schedules(graph.max_degree))
    chain = _flag("--rpc", lambda: connect_rpc(args.rpc)) if args.rpc else None
    keys = _flag("--key-bits", lambda: generate_keys(graph.n, config))
    from tqdm import tqdm

    bar = tqdm(
        total=config.iterations,
        unit="it",
        disable=args.quiet,
        file=sys.stderr,
        desc=f"dso {graph.name} {problem.name}",
    )
    try:
        summary = run_to_directory(
            problem,
            graph,
            config,
            args.out,
            transport=args.transport,
            keys=keys,
            chain=chain,
            progress=lambda _k: bar.update(),
        )
    finally:
        bar.close()
    t = summary.trajectory
    print(
        f"hefl dso run: {t.iterations} iterations of {graph.n} agents on {graph.name}, "
        f"{t.seconds_per_iteration:.3f} s/iteration, MSE {t.mse()[-1]:.6g} "
        f"(from {t.mse()[0]:.6g}); {summary.commitments} checkpoint commitments on "
        f"DsoLedger {summary.ledger_address}; wrote {args.out}"
    )
    return 0
