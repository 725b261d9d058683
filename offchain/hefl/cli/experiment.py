"""``hefl experiment``: reproduce the main paper's figures (and the secure-aggregation comparison).

    hefl experiment fig2|fig3|fig4|fig5|sensitivity|all [--dataset boston|fish] --out DIR
    hefl experiment secagg --out DIR

Figures 2–5 use Table 1 with one ξ (Table 1 × --xi-factor, default 10; Figs. 4–5 also show
× --alt-xi-factor beside it) over --seeds seeds on the iid and skewed partitions; ``sensitivity``
re-runs Fig. 4's claim under every reading of Algorithm 1 (first round, growth cap, last round,
ξ). See :mod:`hefl.experiments.adaptive`. Writes CSVs (per seed, mean and 95 % band), PNGs and
``report.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hefl.cli import SUMMARIES
from hefl.control import FIRST_ROUNDS, TIME_LIMITS
from hefl.costs import LOCAL_UPDATES, CostParameters
from hefl.data.prepare import PARTITIONS
from hefl.experiments.adaptive import (
    FIGURES,
    STUDIES,
    SWEEP_FIGURE,
    ExperimentConfig,
    run_experiments,
)

CHOICES: tuple[str, ...] = (*FIGURES, *STUDIES, "all", "secagg", "dso")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "experiment",
        help=SUMMARIES["experiment"],
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = ExperimentConfig()
    parser.add_argument("figure", choices=CHOICES)
    parser.add_argument("--dataset", choices=sorted(SWEEP_FIGURE), default=None,
                        help="default: both for all, else boston (fish for fig3)")  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--energy", type=float, help="energy budget E (J) of figs 2, 3, 5")
    parser.add_argument("--time-limit", choices=TIME_LIMITS, default=defaults.time_limit,
                        help="how ξ applies (default: total, as Table 1)")  # fmt: skip
    parser.add_argument("--xi-factor", type=float, default=defaults.xi_factor,
                        help="ξ multiplier of every figure (1 = Table 1 literally)")  # fmt: skip
    parser.add_argument("--alt-xi-factor", type=float, default=defaults.alt_xi_factor,
                        help="the ξ multiplier shown beside figs 4-5 (0: none)")  # fmt: skip
    parser.add_argument("--partition", choices=(*PARTITIONS, "both"), default="both",
                        help="data arm(s) (default both)")  # fmt: skip
    parser.add_argument("--seeds", type=int, default=None,
                        help="Monte-Carlo seeds 0…N-1 (default 10; dso: 5)")  # fmt: skip
    parser.add_argument("--iterations", type=int, default=None,
                        help="dso only: iterations per run (default 5000)")  # fmt: skip
    parser.add_argument("--first-round", choices=FIRST_ROUNDS, default=defaults.first_round,
                        help="Algorithm 1 first round (default: charged 50/50 probe)")  # fmt: skip
    parser.add_argument("--no-growth-cap", action="store_true",
                        help="drop the τ_max = 10 × current τ cap")  # fmt: skip
    parser.add_argument("--whole-rounds", action="store_true",
                        help="only-resource runs whole rounds of its τ (figs 4-5)")  # fmt: skip
    parser.add_argument("--cost-model", choices=LOCAL_UPDATES, default=defaults.cost_model,
                        help="per-step (Eq. 12) or hefl fused-update round cost")  # fmt: skip
    parser.add_argument("--cost-params", type=Path,
                        help="parameters file of hefl costs calibrate (fused model)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of the secagg comparison")
    parser.add_argument("--encrypted", action="store_true",
                        help="run every job through the encrypted round loop (slow)")  # fmt: skip
    parser.add_argument("--key-bits", type=int, default=defaults.key_bits)
    parser.add_argument("--allow-insecure-keys", action="store_true",
                        help="dso only: accept keys below 2048 bits (tests)")  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"hefl experiment: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    if args.seeds is not None and args.seeds < 1:
        return _fail(f"--seeds must be at least 1, got {args.seeds}")
    if args.iterations is not None and args.figure != "dso":
        return _fail(f"--iterations applies to dso only, not {args.figure}")
    if args.figure == "dso":  # decentralised mode vs DSGD (hefl.experiments.dso)
        from hefl.experiments.dso import DEFAULT_ITERATIONS, DEFAULT_SEEDS, run_dso_experiment

        if args.iterations is not None and args.iterations < 1:
            return _fail(f"--iterations must be at least 1, got {args.iterations}")
        if args.key_bits < 2048 and not args.allow_insecure_keys:
            return _fail(f"--key-bits {args.key_bits} is below 2048; add --allow-insecure-keys")
        s = run_dso_experiment(
            args.out,
            iterations=DEFAULT_ITERATIONS if args.iterations is None else args.iterations,
            seeds=DEFAULT_SEEDS if args.seeds is None else args.seeds,
            key_bits=args.key_bits,
            allow_insecure=args.allow_insecure_keys,
        )
        print(f"hefl experiment dso: wrote {args.out} (private/DSGD {s['private_over_dsgd']:.2f}×)")
        return 0
    if args.figure == "secagg":
        from hefl.experiments.secagg import run_secagg_experiment

        summary = run_secagg_experiment(args.out, seed=args.seed)
        print(f"hefl experiment secagg: wrote {args.out} ({len(summary['schemes'])} schemes)")
        return 0
    if args.dataset:
        datasets = [args.dataset]
    elif args.figure in ("all", *STUDIES):
        datasets = sorted(SWEEP_FIGURE)  # both data sets, as the paper
    else:
        datasets = ["fish" if args.figure == "fig3" else "boston"]
    from tqdm import tqdm

    figures = [*FIGURES, *STUDIES] if args.figure == "all" else [args.figure]
    seeds = len(ExperimentConfig().seeds) if args.seeds is None else args.seeds
    config = ExperimentConfig(
        dataset=datasets[0],
        energy=args.energy,
        time_limit=args.time_limit,
        xi_factor=args.xi_factor,
        alt_xi_factor=args.alt_xi_factor or None,
        partitions=PARTITIONS if args.partition == "both" else (args.partition,),
        seeds=tuple(range(seeds)),
        first_round=args.first_round,
        growth_cap=not args.no_growth_cap,
        shorten_last_round=not args.whole_rounds,
        cost_model=args.cost_model,
        calibrated=None if args.cost_params is None else CostParameters.load(args.cost_params),
        encrypted=args.encrypted,
        key_bits=args.key_bits,
    )
    bar = tqdm(desc=f"{' '.join(datasets)} {' '.join(figures)}", unit="job",
               disable=args.quiet, file=sys.stderr)  # fmt: skip

    def progress(label: str) -> None:
        bar.set_postfix_str(label)
        bar.update()

    try:
        paths = run_experiments(config, figures, args.out, progress, datasets)
    finally:
        bar.close()
    print(f"hefl experiment: wrote {paths['report']}")
    return 0
