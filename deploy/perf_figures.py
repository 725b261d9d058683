#!/usr/bin/env python3
"""Generate the README's performance figures from the benches' JSON.

    deploy/perf_figures.py                    print the block for deploy/bench_results.json
    deploy/perf_figures.py --write            put it into README.md between the markers
    deploy/perf_figures.py --check            exit 1 if README.md does not quote the results
    deploy/perf_figures.py --run [--quick] [--round-features 50 200] --write
                                              run the benches first and save the results file

The block quotes each run's machine, load and date (see :mod:`hefl.bench.figures`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

try:
    import hefl  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "offchain"))

from hefl.bench.figures import collect, read_results, render_figures, replace_block
from hefl.errors import HeflError

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "deploy" / "bench_results.json"
README = ROOT / "README.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="bench results JSON")
    parser.add_argument("--readme", type=Path, default=README, help="README to write or check")
    parser.add_argument("--run", action="store_true", help="run the benches and save --results")
    parser.add_argument("--quick", action="store_true", help="with --run: quick benches")
    parser.add_argument(
        "--round-features",
        type=int,
        nargs="*",
        default=[],
        help="with --run: synthetic d for extra bench round runs (Boston always runs)",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="write the block into --readme")
    action.add_argument("--check", action="store_true", help="exit 1 if --readme differs")
    args = parser.parse_args(argv)
    try:
        if args.run:
            results = collect(quick=args.quick, round_features=[None, *args.round_features])
            args.results.write_text(json.dumps(results, indent=2) + "\n")
        source = (
            str(args.results.relative_to(ROOT))
            if args.results.resolve().is_relative_to(ROOT)
            else args.results.name
        )
        block = render_figures(read_results(args.results), source)
        if args.write or args.check:
            readme = args.readme.read_text()
            updated = replace_block(readme, block)
            if args.check:
                if updated != readme:
                    print(f"{args.readme} does not quote {source}; run {sys.argv[0]} --write")
                    return 1
                return 0
            args.readme.write_text(updated)
        else:
            print(block)
    except HeflError as error:
        print(f"perf_figures: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
