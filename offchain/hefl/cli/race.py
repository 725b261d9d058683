"""``hefl race run|history|verify``: the proof-of-work mode (:mod:`hefl.pow`).

The notes' four-node example: data owners (Alice, Bob) broadcast gradients of a ridge regression
on images, aggregators (Agg1, Agg2) race for each block by proof of work on ``PowLedger``::

    hefl race run                              # digits, Alice/Bob/Agg1/Agg2, 50 blocks
    hefl race run --hash-power 1,3 --blocks 100 --out runs/pow
    hefl race history --run runs/pow           # the winner of every block
    hefl race verify runs/pow                  # re-derive every block's model and proof

``hefl run --scheme pow-race …`` is the old spelling of ``hefl race run …`` (deprecated).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hefl.chain import LocalBlobStore, connect_embedded, connect_rpc
from hefl.chain.pow_ledger import PowBlockRecord, PowLedgerClient
from hefl.cli import SUMMARIES
from hefl.cli.output import render_table, report_audit, usage
from hefl.data.images import IMAGE_DATASETS
from hefl.errors import ConfigError, VerificationError
from hefl.pow.audit import (
    POW_HISTORY_FILE,
    ExportedPowHistory,
    LivePowView,
    PowLedgerView,
    audit_pow,
    audit_pow_directory,
)
from hefl.pow.job import (
    DEFAULT_BLOCK_TIME_S,
    DEFAULT_DIFFICULTY,
    DEFAULT_GAMMA,
    DEFAULT_RETARGET_EVERY,
    PowRaceConfig,
    PowRaceJob,
    PowRaceResult,
    PowRound,
    export_pow_history,
    save_pow_run,
)
from hefl.pow.miner import RACES
from hefl.pow.puzzle import target_to_difficulty
from hefl.secagg import SCHEMES

#: The line ``hefl run --scheme pow-race`` prints (to stderr) before it forwards.
DEPRECATION = "hefl run: --scheme pow-race is deprecated; use `hefl race run`"


def register(subparsers: Any) -> None:
    race: argparse.ArgumentParser = subparsers.add_parser(
        "race",
        help=SUMMARIES["race"],
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = race.add_subparsers(dest="race_command", metavar="COMMAND")

    race.set_defaults(func=usage(race))

    run = commands.add_parser(
        "run",
        help="mine a pow-race chain, then audit it",
        description="The four-node example end to end on a fresh PowLedger, then its own audit.",
    )
    add_race_options(run)
    run.add_argument("--seed", type=int, default=0, help="seeds the split, w^0 and the nonces")
    run.add_argument("--rpc", metavar="URL", help="use this JSON-RPC node, not the embedded one")
    run.add_argument("--out", type=Path, help="output directory (default runs/pow-<timestamp>)")
    run.add_argument("--quiet", action="store_true", help="no line per block")
    run.set_defaults(func=run_race)

    history = commands.add_parser(
        "history",
        help="print every block of a pow-race chain and its winner",
        description="A PowLedger's blocks: from a run's exported pow_history.json (--run DIR), "
        "or from the live chain (--rpc URL with --address A or --run DIR).",
    )
    history.add_argument("--run", type=Path, metavar="DIR", help="a `hefl race run --out` DIR")
    history.add_argument("--rpc", metavar="URL", help="JSON-RPC URL of the node")
    history.add_argument("--address", metavar="A", help="PowLedger address (with --rpc)")
    history.add_argument("--json", action="store_true", help="print JSON instead of a table")
    history.set_defaults(func=history_command)

    verify = commands.add_parser(
        "verify",
        help="re-derive every block's model, proof of work and target",
        description="Check a pow-race run from public data alone: its exported pow_history.json, "
        "or the live chain with --rpc.",
    )
    verify.add_argument("directory", type=Path, help="the run's output directory")
    verify.add_argument("--rpc", metavar="URL", help="read the live chain at this JSON-RPC URL")
    verify.add_argument("--address", metavar="A", help="PowLedger address (with --rpc)")
    verify.add_argument("--blobs", type=Path, help="blob store directory (default DIR/blobs)")
    verify.set_defaults(func=verify_command)


def add_race_options(parser: Any, *, legacy: bool = False) -> list[argparse.Action]:
    """The options of ``hefl race run``; returns the actions added.

    ``legacy``: the same options for ``hefl run --scheme pow-race``, hidden from its help and with
    the data set as ``--images`` only (``--dataset`` is the ledger job's there).
    """

    def show(text: str) -> str:
        return argparse.SUPPRESS if legacy else text

    data_flags = ("--images",) if legacy else ("--dataset", "--images")
    actions = [
        parser.add_argument(
            *data_flags,
            dest="images",
            choices=IMAGE_DATASETS,
            default="digits",
            help=show("image data set"),
        ),
        parser.add_argument(
            "--target-class", type=int, default=0, help=show("class k of 'is it k'")
        ),
        parser.add_argument("--samples", type=int, help=show("use only the first S images")),
        parser.add_argument("--owners", default="Alice,Bob", help=show("data owners' names")),
        parser.add_argument("--aggregators", default="Agg1,Agg2", help=show("aggregators' names")),
        parser.add_argument(
            "--hash-power", default="1,1", help=show("worker processes per aggregator (e.g. 1,3)")
        ),
        parser.add_argument("--blocks", type=int, default=50, help=show("blocks to mine")),
        parser.add_argument("--gamma", type=float, default=DEFAULT_GAMMA, help=show("ridge γ")),
        parser.add_argument(
            "--alpha", type=float, help=show("step α (default 1/(Σ‖X_k‖²_F + 2γ))")
        ),
        parser.add_argument(
            "--difficulty",
            type=float,
            default=DEFAULT_DIFFICULTY,
            help=show("expected hashes per block"),
        ),
        parser.add_argument(
            "--block-time",
            type=int,
            default=DEFAULT_BLOCK_TIME_S,
            help=show("retarget aim T (s)"),
        ),
        parser.add_argument(
            "--retarget-every",
            type=int,
            default=DEFAULT_RETARGET_EVERY,
            help=show("k blocks (0: off)"),
        ),
        parser.add_argument(
            "--race", choices=tuple(RACES), default="processes", help=show("race engine")
        ),
        parser.add_argument(
            "--secagg",
            choices=tuple(sorted(SCHEMES)),
            help=show(
                "send the gradients encrypted with this hefl.secagg scheme (multikey: the "
                "aggregators learn only the sum)"
            ),
        ),
    ]
    return actions


def _names(text: str, what: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise ConfigError(f"{what} {text!r}: give comma-separated names")
    return names


def config_from_args(args: argparse.Namespace) -> PowRaceConfig:
    try:
        power = tuple(int(p) for p in args.hash_power.split(","))
    except ValueError as error:
        raise ConfigError(f"--hash-power {args.hash_power!r}: give integers like 1,3") from error
    return PowRaceConfig(
        dataset=args.images,
        target_class=args.target_class,
        samples=args.samples,
        owners=_names(args.owners, "--owners"),
        aggregators=_names(args.aggregators, "--aggregators"),
        hash_power=power,
        gamma=args.gamma,
        alpha=args.alpha,
        rounds=args.blocks,
        difficulty=args.difficulty,
        block_time=args.block_time,
        retarget_every=args.retarget_every,
        race=args.race,
        seed=args.seed,
        secagg=args.secagg,
    )


def round_row(r: PowRound) -> dict[str, str]:
    """One display row per mined block, as the run saw it."""
    return {
        "block": str(r.round),
        "winner": r.winner,
        **{f"hashes {k}": str(v) for k, v in r.hashes.items()},
        "difficulty": f"{r.difficulty:.4g}",
        "to nonce s": f"{r.search_seconds:.3f}",
        "to block s": f"{r.seconds_to_block:.3f}",
        "late": ",".join(r.late) or "-",
        "L(w)": f"{r.objective:.2f}",
        "‖w−w*‖/‖w*‖": f"{r.distance:.4f}",
        "accuracy": f"{r.accuracy:.3f}",
    }


def race_summary(result: PowRaceResult) -> str:
    """Wins against the hash-power share, hashes per block against the difficulty, times, gas."""
    cfg, rounds = result.config, result.rounds
    total_power = sum(cfg.hash_power)
    wins = result.wins()
    lines = []
    for name, power in zip(cfg.aggregators, cfg.hash_power, strict=True):
        lines.append(
            f"  {name}: {wins[name]}/{len(rounds)} blocks "
            f"({wins[name] / len(rounds):.0%}; hash-power share {power / total_power:.0%})"
        )
    hashes = np.array([r.total_hashes for r in rounds], dtype=float)
    difficulty = np.array([r.difficulty for r in rounds])
    to_block = np.array([r.seconds_to_block for r in rounds])
    lines.append(
        f"  hashes per block: mean {hashes.mean():.0f} (mean difficulty {difficulty.mean():.0f}); "
        f"time to block: mean {to_block.mean():.3f} s, median {np.median(to_block):.3f} s, "
        f"max {to_block.max():.3f} s"
    )
    lines.append(
        f"  gas per round: gradients {rounds[-1].gradient_gas} (all owners), "
        f"block {int(np.median([r.block_gas for r in rounds]))} (median)"
    )
    late = sum(len(r.late) for r in rounds)
    lines.append(f"  late blocks refused on chain (RoundAlreadyMined): {late}")
    return "\n".join(lines)


def run_race(args: argparse.Namespace) -> int:
    """``hefl race run``: the four-node example end to end, then its own audit."""
    config = config_from_args(args)
    out = args.out or Path("runs") / dt.datetime.now().strftime("pow-%Y%m%d-%H%M%S")
    chain = connect_rpc(args.rpc) if args.rpc else connect_embedded()
    blobs = LocalBlobStore(out / "blobs")
    job = PowRaceJob(config, chain, blobs)
    cast = ", ".join(
        [*(f"{o.name} ({o.X.shape[0]} images)" for o in job.owners)]
        + [
            f"{a.name} ({p} worker{'s' * (p > 1)})"
            for a, p in zip(job.aggregators, config.hash_power, strict=True)
        ]
    )
    print(
        f"hefl race run: pow-race on {config.dataset} ('is it {config.target_class}', "
        f"{job.data.X.shape[0]}×{job.data.model_size}), γ={config.gamma}, α={job.alpha:.4g}, "
        f"difficulty {config.difficulty:.4g}, {config.race} race"
        f"{f', gradients encrypted ({config.secagg})' if config.secagg else ''}; {cast}",
        flush=True,
    )
    print(
        f"PowLedger deployed at {job.ledger.address} (chain {chain.chain_id}); "
        f"{config.rounds} blocks to mine",
        flush=True,
    )

    def progress(r: PowRound) -> None:
        if not args.quiet:
            late = f", late: {','.join(r.late)}" if r.late else ""
            print(
                f"block {r.round}: {r.winner} after {r.total_hashes} hashes, "
                f"{r.seconds_to_block:.3f} s{late}; ‖w−w*‖/‖w*‖ = {r.distance:.4f}",
                flush=True,
            )

    result = job.run(progress)
    paths = save_pow_run(result, out)
    print("\nBlocks:")
    print(render_table([round_row(r) for r in result.rounds]))
    print("\nRace:")
    print(race_summary(result))
    print(f"\nwrote {', '.join(str(p) for p in paths.values())} and {out / 'blobs'}")
    report = audit_pow(ExportedPowHistory.load(out), blobs)
    report_audit(
        report, label="verify: ", failure="the run failed its own audit ({count} problems)"
    )
    return 0


def run_deprecated(args: argparse.Namespace) -> int:
    """``hefl run --scheme pow-race …``: say it is deprecated, then run ``hefl race run``."""
    print(DEPRECATION, file=sys.stderr, flush=True)
    return run_race(args)


# --- history ------------------------------------------------------------------------------------
def pow_history_rows(
    blocks: Sequence[PowBlockRecord], names: dict[str, str] | None = None
) -> list[dict[str, str]]:
    """One display row per block: the winner per round."""
    names = names or {}
    rows = []
    for b in blocks:
        winner = "genesis" if b.is_genesis else names.get(b.winner, b.winner)
        rows.append(
            {
                "block": str(b.round),
                "winner": winner,
                "nonce": "-" if b.is_genesis else str(b.nonce),
                "difficulty": f"{target_to_difficulty(b.target):.4g}",
                "timestamp": str(b.timestamp),
                "model": "0x" + b.model_hash.hex()[:8] + "…",
            }
        )
    return rows


def print_pow_history(
    client: PowLedgerClient, *, names: dict[str, str] | None = None, as_json: bool = False
) -> None:
    """A live PowLedger: the winner of every block (aggregators by index unless ``names``)."""
    if as_json:
        print(json.dumps(export_pow_history(client, names), indent=2))
        return
    aggregators = client.aggregators()
    shown = names or {a: f"aggregator {i} ({a[:6]}…{a[-4:]})" for i, a in enumerate(aggregators)}
    _print_blocks(LivePowView(client), len(aggregators), shown)


def print_exported_pow_history(history: ExportedPowHistory, *, as_json: bool = False) -> None:
    """A run's exported ``pow_history.json`` (the chain not consulted)."""
    if as_json:
        print(json.dumps(history.document, indent=2))
        return
    note = "; from the exported history (the chain was not consulted)"
    _print_blocks(history, len(history.document["aggregators"]), history.names, note)


def _print_blocks(
    view: PowLedgerView, aggregators: int, names: dict[str, str], note: str = ""
) -> None:
    blocks = view.blocks()
    print(
        f"PowLedger {view.address} on chain {view.chain_id()}: {len(view.owners())} owners, "
        f"{aggregators} aggregators, {len(blocks) - 1} blocks mined, retarget every "
        f"{view.retarget_interval() or '-'} blocks towards {view.target_block_time()} s{note}"
    )
    print(render_table(pow_history_rows(blocks, names)))


def is_race_run(directory: Path) -> bool:
    """Whether ``directory`` holds a pow-race run's exported history."""
    return (directory / POW_HISTORY_FILE).is_file()


def print_race_run_history(directory: Path, rpc: str | None, *, as_json: bool = False) -> None:
    """``hefl race history --run DIR``: the run's blocks, from the live chain with ``rpc``."""
    history = ExportedPowHistory.load(directory)
    if rpc is None:
        print_exported_pow_history(history, as_json=as_json)
        return
    client = PowLedgerClient.at(connect_rpc(rpc), history.address)
    print_pow_history(client, names=history.names, as_json=as_json)


def history_command(args: argparse.Namespace) -> int:
    if args.run is not None and args.address is None:
        print_race_run_history(args.run, args.rpc, as_json=args.json)
        return 0
    if args.rpc is None or args.address is None:
        raise ConfigError("give --run DIR, or --rpc URL and --address A")
    print_pow_history(PowLedgerClient.at(connect_rpc(args.rpc), args.address), as_json=args.json)
    return 0


# --- verify -------------------------------------------------------------------------------------
def verify_command(args: argparse.Namespace) -> int:
    blobs_dir = args.blobs or args.directory / "blobs"
    if not blobs_dir.is_dir():
        raise ConfigError(f"no blob store at {blobs_dir}; pass --blobs DIR")
    report = audit_pow_directory(args.directory, blobs_dir, args.rpc, args.address)
    if report is None:
        raise VerificationError(
            f"{args.directory} is not a pow-race run (no {POW_HISTORY_FILE}"
            f"{', and no PowLedger at that address' if args.rpc else ''}); "
            "for a ledger run use `hefl verify`"
        )
    report_audit(report)
    return 0
