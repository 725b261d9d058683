"""``hefl costs calibrate --out FILE``: time one encrypted round of hefl's fused update on this
machine and write the cost parameters (μ_F, μ1, μ2 in cycles at Table 1's f_max) the controllers
and ``hefl experiment --cost-params FILE`` accept (:mod:`hefl.experiments.calibrate`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hefl.cli.output import usage


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "costs",
        help="the cost model of hefl's own execution",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="costs_command", metavar="COMMAND")
    sub = commands.add_parser(
        "calibrate", help="measure one fused encrypted round and write a parameters file"
    )
    sub.add_argument("--out", type=Path, required=True, help="parameters file to write (JSON)")
    sub.add_argument("--dataset", choices=("boston", "fish"), default="boston")
    sub.add_argument("--participants", type=int, default=5, help="N (default 5)")
    sub.add_argument("--key-bits", type=int, default=2048, help="Paillier modulus (default 2048)")
    sub.add_argument("--tau", type=int, default=25, help="τ of the timed round (default 25)")
    sub.add_argument("--repeats", type=int, default=5, help="timings per piece; the least counts")
    sub.set_defaults(func=run_calibrate)
    parser.set_defaults(func=usage(parser))


def run_calibrate(args: argparse.Namespace) -> int:
    for flag, value, least in (
        ("--participants", args.participants, 1),
        ("--tau", args.tau, 1),
        ("--repeats", args.repeats, 1),
        ("--key-bits", args.key_bits, 512),
    ):
        if value < least:
            print(f"hefl costs calibrate: {flag} must be at least {least}, got {value}",
                  file=sys.stderr)  # fmt: skip
            return 2
    from hefl.experiments.calibrate import calibrate

    result = calibrate(args.dataset, args.participants, args.key_bits, args.tau, args.repeats)
    result.params.save(args.out)
    t = result.timing
    print(
        f"hefl costs calibrate: one fused round (τ = {t.tau}, {args.key_bits}-bit key) took "
        f"{t.participant:.3g} s per participant and {t.party:.3g} s at the computing party; "
        f"μ_F = {result.params.mu_fused:.4g}, μ1 = {result.params.mu1:.4g}, "
        f"μ2 = {result.params.mu2:.4g} cycles at f_max; wrote {args.out}"
    )
    print(json.dumps(result.describe()["timing"]))
    return 0
