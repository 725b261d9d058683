"""``hefl bench NAME [--json] [--quick]``: run a benchmark from :data:`hefl.bench.BENCHES`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from hefl.bench import BENCH_OPTIONS, BENCHES, load_bench
from hefl.cli import SUMMARIES
from hefl.cli.output import usage
from hefl.errors import ConfigError


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "bench",
        help=SUMMARIES["bench"],
        description="Time hefl's building blocks against references measured in the same run.",
    )
    benches = parser.add_subparsers(dest="bench", metavar="BENCH")
    for name, (_, help_text) in BENCHES.items():
        sub = benches.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--json", action="store_true", help="print JSON instead of a table")
        sub.add_argument("--quick", action="store_true", help="fewer repetitions (≤ ~30 s)")
        for option in BENCH_OPTIONS.get(name, ()):
            sub.add_argument(option.flag, type=option.type, help=option.help)
        sub.set_defaults(func=run, bench_name=name)
    parser.set_defaults(func=usage(parser))


def run(args: argparse.Namespace) -> int:
    module = load_bench(args.bench_name)
    options = {
        o.keyword: getattr(args, o.keyword)
        for o in BENCH_OPTIONS.get(args.bench_name, ())
        if getattr(args, o.keyword) is not None
    }
    for option in BENCH_OPTIONS.get(args.bench_name, ()):
        value = options.get(option.keyword)
        if value is not None and value < option.minimum:
            raise ConfigError(f"{option.flag} must be ≥ {option.minimum}, got {value}")
    result = module.run(quick=args.quick, **options)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(module.render(result))
    return 0
