"""``hefl run``: the main job — encrypted distributed learning, every round on the ledger.

Defaults finish in well under a minute on 2 cores: scikit-learn's bundled diabetes set (no
download), N = 3 participants, 2048-bit Paillier keys, fused updates, τ = 5 for 5 rounds, on the
embedded chain. The learning rate defaults to :data:`QUICKSTART_ETA` rather than Table 1's
η = 0.001 so that a first run shows the loss falling; pass ``--eta 0.001`` for the paper's value.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hefl.agents.audit import audit
from hefl.agents.job import InProcessJob, JobConfig, RoundSummary, save_job
from hefl.chain import LocalBlobStore, connect_embedded, connect_rpc
from hefl.cli import race
from hefl.cli.history import add_metrics, history_rows
from hefl.cli.output import render_table, report_audit
from hefl.control import CONTROLLERS, Controller, FixedTauController, make_controller
from hefl.data import DATASET_NAMES, SplitConfig
from hefl.data.prepare import PARTITIONS
from hefl.errors import ConfigError
from hefl.learning.paillier import FixedPointConfig
from hefl.learning.registry import STRATEGIES, STRATEGY_NAMES
from hefl.learning.strategy import UPDATE_MODES, LearningConfig

#: η of the quick-start run (Table 1's 0.001 moves the loss too little to see in a minute).
QUICKSTART_ETA = 0.05
#: Options both schemes use.
SHARED_OPTIONS = frozenset({"help", "scheme", "seed", "rpc", "out", "quiet"})
#: τ of the quick-start run's fixed-τ controller.
DEFAULT_TAU = 5
#: Samples drawn from Boston and fish, as the paper (§3.2); other data sets use all rows.
PAPER_SAMPLES = {"boston": 506, "fish": 506}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="run an encrypted learning job with every round on the ledger",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset", default="diabetes", help=f"{', '.join(DATASET_NAMES)} or a CSV path"
    )
    data.add_argument("--target", help="target column of a CSV data set")
    data.add_argument("-n", "--participants", type=int, default=3, help="N (default 3)")
    data.add_argument("--partition", choices=PARTITIONS, default="iid")
    data.add_argument("--seed", type=int, default=0)
    learn = parser.add_argument_group("learning")
    learn.add_argument(
        "--tau", type=int, help=f"local steps per round (fixed τ; default {DEFAULT_TAU})"
    )
    learn.add_argument("--rounds", type=int, default=5, help="rounds with the fixed τ")
    learn.add_argument("--eta", type=float, default=QUICKSTART_ETA, help="learning rate η")
    learn.add_argument("--ridge", type=float, default=0.0, help="ridge γ (γ‖w‖²)")
    learn.add_argument("--mode", choices=UPDATE_MODES, default="fused", help="update mode")
    learn.add_argument("--strategy", choices=STRATEGY_NAMES, default="paillier")
    learn.add_argument(
        "--controller",
        default=FixedTauController.name,
        choices=list(CONTROLLERS),
        help="fixed τ (default), or joint / only-aggregation / only-resource under --energy",
    )
    learn.add_argument("--energy", type=float, help="energy budget E in joules (controllers)")
    crypto = parser.add_argument_group("keys and machinery")
    keyed = ", ".join(spec.name for spec in STRATEGIES.values() if spec.takes_key_size)
    crypto.add_argument(
        "--key-bits", type=int, default=2048, help=f"key size of the strategies {keyed}"
    )
    crypto.add_argument(
        "--allow-insecure-keys", action="store_true", help="permit keys below 2048 bits"
    )
    crypto.add_argument("--workers", type=int, default=2, help="processes for updates")
    crypto.add_argument("--rpc", metavar="URL", help="use this JSON-RPC node, not the embedded one")
    crypto.add_argument("--out", type=Path, help="output directory (default runs/<timestamp>)")
    crypto.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--scheme",
        choices=("ledger", "pow-race"),
        default="ledger",
        help="ledger: the encrypted job on FLLedger (default); pow-race: deprecated, use "
        "`hefl race run` (the proof-of-work mode)",
    )
    # The old spelling `hefl run --scheme pow-race …` keeps `hefl race run`'s options, hidden.
    # Options that belong to one scheme only: giving them to the other is an error, not a no-op.
    pow_only = {a.dest: a.default for a in race.add_race_options(parser, legacy=True)}
    ledger_only = {
        a.dest: a.default
        for a in parser._actions
        if a.dest not in pow_only and a.dest not in SHARED_OPTIONS and a.option_strings
    }
    parser.set_defaults(func=run, scheme_options={"pow-race": pow_only, "ledger": ledger_only})


def build_controller(args: argparse.Namespace) -> Controller:
    """``fixed`` (τ for a number of rounds) or a budgeted controller from the registry."""
    tau = DEFAULT_TAU if args.tau is None else args.tau
    if args.controller == FixedTauController.name:
        return FixedTauController(tau, args.rounds)
    if args.controller not in CONTROLLERS:
        raise ConfigError(
            f"controller {args.controller!r} unknown; use one of {', '.join(CONTROLLERS)}"
        )
    if args.energy is None:
        raise ConfigError(f"controller {args.controller!r} needs an energy budget: --energy J")
    # τ only when given: only-resource otherwise takes §3.2's τ for Boston and fish.
    return make_controller(
        args.controller, energy_budget=args.energy, tau=args.tau, dataset=args.dataset
    )


def job_config(args: argparse.Namespace) -> JobConfig:
    return JobConfig(
        dataset=args.dataset,
        target=args.target,
        split=SplitConfig(
            participants=args.participants,
            n_samples=PAPER_SAMPLES.get(args.dataset),
            seed=args.seed,
            partition=args.partition,
        ),
        learning=LearningConfig(eta=args.eta, ridge=args.ridge, mode=args.mode),
        fixed_point=FixedPointConfig(workers=args.workers),
        strategy=args.strategy,
        key_bits=args.key_bits,
        allow_insecure_keys=args.allow_insecure_keys,
        workers=args.workers,
    )


def check_scheme_options(args: argparse.Namespace) -> None:
    """Refuse options of the scheme that is not running (they would be silently ignored)."""
    other = "ledger" if args.scheme == "pow-race" else "pow-race"
    given = [
        "--" + dest.replace("_", "-")
        for dest, default in args.scheme_options[other].items()
        if getattr(args, dest) != default
    ]
    if given:
        raise ConfigError(
            f"{', '.join(given)} only apply to --scheme {other}, not {args.scheme}; drop them"
        )


def run(args: argparse.Namespace) -> int:
    check_scheme_options(args)
    if args.scheme == "pow-race":
        return race.run_deprecated(args)
    config = job_config(args)
    controller = build_controller(args)
    out = args.out or Path("runs") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    chain = connect_rpc(args.rpc) if args.rpc else connect_embedded()
    blobs = LocalBlobStore(out / "blobs")
    print(
        f"hefl run: {config.dataset}, N={config.split.participants}, {config.strategy} "
        f"({config.learning.mode}), {config.key_bits}-bit keys, on "
        f"{'the embedded chain' if chain.kind == 'embedded' else chain.url}",
        flush=True,
    )
    job = InProcessJob(config, chain, blobs)
    print(f"ledger deployed at {job.deployment.address} (chain {job.deployment.chain_id})")

    bar = None
    if not args.quiet:
        from tqdm import tqdm

        total = getattr(controller, "rounds", None)  # known for a fixed τ, else open-ended
        bar = tqdm(total=total, unit="round", file=sys.stderr, dynamic_ncols=True)

    def progress(summary: RoundSummary) -> None:
        if bar is not None:
            bar.update(1)
            bar.set_postfix(
                g=summary.round, tau=summary.tau, loss=f"{summary.train_loss:.5f}", refresh=True
            )

    try:
        result = job.run(controller, progress)
    finally:
        if bar is not None:
            bar.close()
    paths = save_job(result, out)

    rows = history_rows(job.ledger.history(), job.ledger.quorum())
    add_metrics(rows, [asdict(summary) for summary in result.rounds])
    print("\nRounds as read back from the chain:")
    print(render_table(rows))

    print(f"\nwrote {', '.join(str(p) for p in paths.values())}")
    report_audit(
        audit(job.ledger, blobs),
        label="verify: ",
        failure="the job failed its own audit ({count} problems)",
    )
    return 0
