"""``hefl experiment``: reproduce the main paper's figures (and the secure-aggregation comparison).

    hefl experiment fig2|fig3|fig4|fig5|all --dataset boston|fish --out DIR
    hefl experiment secagg --out DIR

Figures 2–5 use Table 1 (see :mod:`hefl.experiments.adaptive` for how ξ is treated: the report
states it, and Table 1's literal case, first). Writes CSV, PNG and ``report_<dataset>.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hefl.control import TIME_LIMITS
from hefl.experiments.adaptive import (
    FIGURES,
    SWEEP_FIGURE,
    ExperimentConfig,
    run_experiments,
)

CHOICES: tuple[str, ...] = (*FIGURES, "all", "secagg", "dso")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "experiment",
        help="reproduce the paper's figures (fig2…fig5, all) or the secagg comparison",
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
    parser.add_argument("--sweep-xi-factor", type=float, default=defaults.sweep_xi_factor,
                        help="ξ multiplier for figs 2, 3, 5 (1 = Table 1 literally)")  # fmt: skip
    parser.add_argument("--fig4-xi-factor", type=float, default=defaults.fig4_xi_factor,
                        help="ξ multiplier for fig 4")  # fmt: skip
    parser.add_argument("--partition", choices=("iid", "skewed"), default=defaults.partition)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--encrypted", action="store_true",
                        help="run every job through the encrypted round loop (slow)")  # fmt: skip
    parser.add_argument("--key-bits", type=int, default=defaults.key_bits)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.figure == "dso":  # decentralised mode vs DSGD (hefl.experiments.dso)
        from hefl.experiments.dso import run_dso_experiment

        s = run_dso_experiment(args.out, key_bits=args.key_bits)
        print(f"hefl experiment dso: wrote {args.out} (private/DSGD {s['private_over_dsgd']:.2f}×)")
        return 0
    if args.figure == "secagg":
        from hefl.experiments.secagg import run_secagg_experiment

        summary = run_secagg_experiment(args.out, seed=args.seed)
        print(f"hefl experiment secagg: wrote {args.out} ({len(summary['schemes'])} schemes)")
        return 0
    if args.dataset:
        datasets = [args.dataset]
    elif args.figure == "all":
        datasets = sorted(SWEEP_FIGURE)  # both data sets, as the paper
    else:
        datasets = ["fish" if args.figure == "fig3" else "boston"]
    from tqdm import tqdm

    for dataset in datasets:
        figures = [SWEEP_FIGURE[dataset], "fig4", "fig5"] if args.figure == "all" else [args.figure]
        config = ExperimentConfig(
            dataset=dataset,
            energy=args.energy,
            time_limit=args.time_limit,
            sweep_xi_factor=args.sweep_xi_factor,
            fig4_xi_factor=args.fig4_xi_factor,
            partition=args.partition,
            seed=args.seed,
            encrypted=args.encrypted,
            key_bits=args.key_bits,
        )
        bar = tqdm(desc=f"{dataset} {' '.join(figures)}", unit="job", disable=args.quiet,
                   file=sys.stderr)  # fmt: skip

        def progress(label: str, bar: Any = bar) -> None:
            bar.set_postfix_str(label)
            bar.update()

        try:
            paths = run_experiments(config, figures, args.out, progress)
        finally:
            bar.close()
        print(f"hefl experiment: wrote {paths['report']}")
    return 0
