"""``hefl costs calibrate --out FILE``: time one encrypted round of hefl's fused update and the
operations a round is counted in on this machine, and write the cost parameters (cycles at
Table 1's f_max) that ``hefl run --cost-parameters FILE`` and ``hefl experiment --cost-params
FILE`` accept:

* μ_F, μ1, μ2 from one fused round (:mod:`hefl.experiments.calibrate`; the ``fused`` model);
* μ_M per modular multiplication, μ_D per full and μ_Ds per p-half decryption, μ_H per
  half-size multiplication of the party's own packing (:mod:`hefl.costs.operations`; the
  ``planned`` model ``hefl run`` prices the paillier strategy with: planned multiplications × μ_M
  per participant; decryptions × μ_D or μ_Ds and the packing's Horner × μ_H at the party)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from hefl.cli import SUMMARIES
from hefl.cli.output import usage


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "costs",
        help=SUMMARIES["costs"],
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="costs_command", metavar="COMMAND")
    sub = commands.add_parser(
        "calibrate",
        help="measure one fused encrypted round and the per-operation costs; write a parameters "
        "file",
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
    from hefl.costs.operations import fit_operations, time_operations
    from hefl.experiments.calibrate import calibrate

    result = calibrate(args.dataset, args.participants, args.key_bits, args.tau, args.repeats)
    ops = time_operations(args.key_bits, args.repeats)
    params = fit_operations(result.params, ops)
    params.save(args.out)
    t = result.timing
    print(
        f"hefl costs calibrate: one fused round (τ = {t.tau}, {args.key_bits}-bit key) took "
        f"{t.participant:.3g} s per participant and {t.party:.3g} s at the computing party; "
        f"μ_F = {params.mu_fused:.4g}, μ1 = {params.mu1:.4g}, μ2 = {params.mu2:.4g} cycles at "
        f"f_max; a modular multiplication {ops.multiplication * 1e6:.3g} µs "
        f"(μ_M = {params.mu_multiplication:.4g}), a decryption {ops.decryption * 1e3:.3g} ms "
        f"(μ_D = {params.mu_decryption:.4g}), a p-half one {ops.small_decryption * 1e3:.3g} ms "
        f"(μ_Ds = {params.mu_small_decryption:.4g}), a multiplication of the party's packing "
        f"{ops.repack_multiplication * 1e6:.3g} µs (μ_H = {params.mu_repack_multiplication:.4g});"
        f" wrote {args.out}"
    )
    print(json.dumps({**result.describe()["timing"], "operations": dataclasses.asdict(ops)}))
    return 0
