"""``hefl run``: the main job — encrypted distributed learning, every round on the ledger.

Defaults finish in well under a minute on 2 cores: scikit-learn's bundled diabetes set (no
download), N = 3 participants, 2048-bit Paillier keys, fused updates, τ = 5 for 5 rounds, on the
embedded chain. The learning rate defaults to :data:`QUICKSTART_ETA` rather than Table 1's
η = 0.001 so that a first run shows the loss falling; pass ``--eta 0.001`` for the paper's value,
or ``--eta auto`` for half the largest η that is safe for the data (1/L).

The run directory (``--out DIR``) is written round by round: the embedded chain's database
(``chain.db``), ``history.json``, ``metrics.csv``, ``deployment.json`` and ``config.json``, each
replaced atomically. A run that stops at round k — an error, a divergence, SIGKILL — keeps rounds
0…k−1, verifiable with ``hefl verify DIR``; ``hefl run --resume DIR`` continues it on the same
ledger.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hefl.agents.audit import audit
from hefl.agents.export import RunDirectory
from hefl.agents.identity import PASSWORD_ENV, read_password
from hefl.agents.job import InProcessJob, JobConfig, RoundSummary
from hefl.chain import Chain, LocalBlobStore, connect_embedded, connect_rpc
from hefl.cli import SUMMARIES, race
from hefl.cli.history import add_metrics, history_rows
from hefl.cli.output import render_table, report_audit
from hefl.control import CONTROLLERS, Controller, FixedTauController, make_controller
from hefl.costs import B0_BY_DATASET, PLANNED, CostParameters
from hefl.crypto import DEFAULT_KEY_BITS
from hefl.data import DATASET_NAMES, PreparedData, SplitConfig, load_dataset, prepare
from hefl.data.prepare import PARTITIONS
from hefl.errors import (
    ConfigError,
    DivergenceError,
    HeflError,
    InsecureKeyWarning,
    InsecureParameterError,
)
from hefl.learning.divergence import auto_eta, published_bound, step_size_bound
from hefl.learning.paillier import FixedPointConfig
from hefl.learning.registry import STRATEGIES, STRATEGY_NAMES, strategy_spec
from hefl.learning.strategy import UPDATE_MODES, LearningConfig

#: η of the quick-start run (Table 1's 0.001 moves the loss too little to see in a minute).
QUICKSTART_ETA = 0.05
#: Options both schemes use.
SHARED_OPTIONS = frozenset({"help", "scheme", "seed", "rpc", "out", "quiet", "resume"})
#: Options ``--resume DIR`` may be given with (the rest come from DIR/run.json).
RESUME_OPTIONS = frozenset({"quiet", "rpc", "workers", "password_file"})
#: ``--eta`` value that picks a safe η from the data (:func:`hefl.learning.divergence.auto_eta`).
AUTO = "auto"
#: τ of the quick-start run's fixed-τ controller.
DEFAULT_TAU = 5
#: Samples drawn from Boston and fish, as the paper (§3.2); other data sets use all rows.
PAPER_SAMPLES = {"boston": 506, "fish": 506}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help=SUMMARIES["run"],
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
    learn.add_argument(
        "--eta",
        type=_eta,
        default=QUICKSTART_ETA,
        help=f"learning rate η, or {AUTO!r}: 1/L, half the largest η that is safe for the data",
    )
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
    learn.add_argument(
        "--cost-parameters",
        metavar="FILE",
        help="cost parameters the budgeted controllers plan with (`hefl costs calibrate --out "
        "FILE`; default Table 1 and the reference machine's μ_M, μ_D); the paillier strategy is "
        "priced as it runs: planned multiplications and decryptions (hefl.costs.work)",
    )
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
    crypto.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help="password that encrypts the party's key in --out so the run can be resumed "
        f"(default ${PASSWORD_ENV}; without either the key is not kept)",
    )
    crypto.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="continue the run in DIR (a `hefl run --out DIR`) on its ledger, with its options",
    )
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
        if args.cost_parameters is not None:
            raise ConfigError(
                "--cost-parameters prices the budgeted controllers; --controller fixed runs a "
                "fixed τ without a cost model (drop it, or pick joint with --energy)"
            )
        return FixedTauController(tau, args.rounds)
    if args.controller not in CONTROLLERS:
        raise ConfigError(
            f"controller {args.controller!r} unknown; use one of {', '.join(CONTROLLERS)}"
        )
    if args.energy is None:
        raise ConfigError(f"controller {args.controller!r} needs an energy budget: --energy J")
    # τ only when given: only-resource otherwise takes §3.2's τ for Boston and fish.
    return make_controller(
        args.controller,
        energy_budget=args.energy,
        tau=args.tau,
        dataset=args.dataset,
        params=cost_parameters(args),
    )


def cost_parameters(args: argparse.Namespace) -> CostParameters:
    """The budgeted controllers' parameters: ``--cost-parameters FILE`` or Table 1, with the data
    set's B0 (Boston, fish); the paillier strategy priced by its counted work (``planned``)."""
    params = CostParameters()
    if args.cost_parameters is not None:
        try:
            params = CostParameters.load(args.cost_parameters)
        except ConfigError as error:
            raise ConfigError(f"--cost-parameters {args.cost_parameters}: {error}") from None
    b0 = B0_BY_DATASET.get(str(args.dataset).lower())
    if b0 is not None:
        params = dataclasses.replace(params, b0=b0)
    if args.strategy == "paillier":
        if args.cost_parameters is not None and params.operations_key_bits != args.key_bits:
            raise ConfigError(
                f"--cost-parameters {args.cost_parameters} was calibrated with "
                f"{params.operations_key_bits}-bit keys, this run uses --key-bits {args.key_bits}; "
                f"write a file for it with hefl costs calibrate --key-bits {args.key_bits}"
            )
        params = dataclasses.replace(params, local_update=PLANNED)
    return params


def split_config(args: argparse.Namespace) -> SplitConfig:
    return SplitConfig(
        participants=args.participants,
        n_samples=PAPER_SAMPLES.get(args.dataset),
        seed=args.seed,
        partition=args.partition,
    )


def job_config(args: argparse.Namespace) -> JobConfig:
    return JobConfig(
        dataset=args.dataset,
        target=args.target,
        split=split_config(args),
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


def _eta(text: str) -> float | str:
    if text == AUTO:
        return AUTO
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number or {AUTO!r}") from None


def check_key_size(args: argparse.Namespace) -> None:
    """Refuse an insecure key size up front, naming the flags (not the Python argument)."""
    keyed = strategy_spec(args.strategy).takes_key_size
    if keyed and args.key_bits < DEFAULT_KEY_BITS and not args.allow_insecure_keys:
        raise ConfigError(
            f"--key-bits {args.key_bits} is below {DEFAULT_KEY_BITS} bits and not secure; "
            "add --allow-insecure-keys for tests and benchmarks"
        )


def prepared_data(args: argparse.Namespace) -> PreparedData:
    """The participants' data, prepared before anything goes on chain; a data set that cannot
    be split as asked is refused naming the flags (e.g. too few rows for ``-n``)."""
    dataset = load_dataset(args.dataset, target=args.target)
    try:
        return prepare(dataset, split_config(args))
    except ConfigError as error:
        raise ConfigError(f"--dataset {args.dataset} -n {args.participants}: {error}") from error


def resolve_eta(args: argparse.Namespace, data: PreparedData) -> None:
    """``--eta auto``: take the participants' published bounds 2/L_i and set ``args.eta`` to
    :func:`~hefl.learning.divergence.auto_eta` of the least; a numeric η must be positive."""
    if args.eta != AUTO:
        if args.eta <= 0:
            raise ConfigError(f"--eta {args.eta:g} must be > 0 (or {AUTO!r})")
        return
    bound = step_size_bound(published_bound(part, args.ridge) for part in data.parts)
    args.eta = auto_eta(bound)
    print(f"--eta auto: η = {args.eta:.4g} (the largest safe η for this data is < {bound:.4g})")


def resumed_args(args: argparse.Namespace) -> argparse.Namespace:
    """The options of the run in ``args.resume`` (its run.json), with --quiet, --rpc, --workers
    from this command line; any other option given is refused (it would be ignored)."""
    given = [
        "--" + dest.replace("_", "-")
        for dest, default in args.scheme_options["ledger"].items()
        if dest not in RESUME_OPTIONS and getattr(args, dest) != default
    ]
    if args.out is not None:
        given.append("--out")
    if given:
        raise ConfigError(f"--resume continues with the run's own options; drop {', '.join(given)}")
    saved = RunDirectory(args.resume).load_options()
    merged = {**vars(args), **saved, "out": args.resume, "quiet": args.quiet}
    if args.workers != args.scheme_options["ledger"]["workers"]:
        merged["workers"] = args.workers
    if args.rpc is not None:
        merged["rpc"] = args.rpc
    return argparse.Namespace(**merged)


def run_options(args: argparse.Namespace) -> dict[str, object]:
    """What run.json keeps: every option of the ledger scheme, η resolved, and the seed/RPC —
    not the per-invocation --quiet, --resume and --password-file (a resumed run takes the
    password file its own command line names)."""
    keep = [*args.scheme_options["ledger"], "seed", "rpc"]
    skip = ("quiet", "resume", "password_file")
    return {dest: getattr(args, dest) for dest in keep if dest not in skip}


def connect(args: argparse.Namespace, run_dir: RunDirectory) -> Chain:
    """The run's chain: the node at --rpc, else the embedded chain kept in DIR/chain.db."""
    if args.rpc:
        return connect_rpc(args.rpc)
    return connect_embedded(state=run_dir.chain_state)


def party_key_password(args: argparse.Namespace) -> str | None:
    """The password of the party's key file: --password-file, else $HEFL_KEYSTORE_PASSWORD, else
    none (a new run then keeps no key; ``--resume`` of a keyed run says what to set)."""
    if args.password_file is not None:
        return read_password(args.password_file)
    return os.environ.get(PASSWORD_ENV) or None


def run(args: argparse.Namespace) -> int:
    check_scheme_options(args)
    if args.scheme == "pow-race":
        return race.run_deprecated(args)
    resume = args.resume is not None
    if resume:
        args = resumed_args(args)
    check_key_size(args)
    if args.allow_insecure_keys:  # asked for by its flag: no warning with a Python argument
        warnings.simplefilter("ignore", InsecureKeyWarning)
    controller = build_controller(args)  # a bad flag is refused before the data are read
    data = prepared_data(args)
    resolve_eta(args, data)
    config = job_config(args)
    out = args.out or Path("runs") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = RunDirectory(out)
    if not resume and run_dir.deployment.exists():
        raise ConfigError(f"{out} holds a run already; continue it with --resume {out}")
    key_password = party_key_password(args)
    chain = connect(args, run_dir)
    print(
        f"hefl run: {config.dataset}, N={config.split.participants}, {config.strategy} "
        f"({config.learning.mode}), {config.key_bits}-bit keys, η = {config.learning.eta:g}, "
        f"on {'the embedded chain' if chain.kind == 'embedded' else chain.url}",
        flush=True,
    )
    if resume:
        job = InProcessJob.resume(config, chain, run_dir, data=data, key_password=key_password)
        print(f"resuming the ledger at {job.deployment.address} after round "
              f"{job.ledger.round_count() - 1}")  # fmt: skip
    else:
        run_dir.save_options(run_options(args))
        try:
            job = InProcessJob(config, chain, LocalBlobStore(run_dir.blobs), data=data,
                               run_dir=run_dir, key_password=key_password)  # fmt: skip
        except InsecureParameterError as error:
            raise ConfigError(f"--key-bits {args.key_bits}: {error}") from error
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
                g=summary.round, tau=summary.tau, loss=f"{summary.train_loss:.5g}", refresh=True
            )

    try:
        result = job.run(controller, progress, resume=resume)
    except HeflError as error:  # one line: what failed, and what the run directory keeps
        resumable = not isinstance(error, DivergenceError)  # the same η would diverge again
        resumable = resumable and (job.public_key is None or run_dir.party_key.exists())
        again = f"hefl run --resume {run_dir.root}" if resumable else None
        raise HeflError(f"{error}; {run_dir.kept(resume=again)}") from error
    finally:
        if bar is not None:
            bar.close()

    rows = history_rows(job.ledger.history(), job.ledger.quorum())
    add_metrics(rows, [asdict(summary) for summary in result.rounds])
    print("\nRounds as read back from the chain:")
    print(render_table(rows))

    print(f"\nwrote {', '.join(str(p) for p in run_dir.outputs().values())}")
    report_audit(
        audit(job.ledger, job.blobs),
        label="verify: ",
        failure="the job failed its own audit ({count} problems)",
    )
    return 0
