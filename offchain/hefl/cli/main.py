"""Entry point of the ``hefl`` console script.

Each sub-command lives in its own module under :mod:`hefl.cli` and exposes
``register(subparsers) -> None``; the parser it adds sets ``func`` to a callable taking the parsed
namespace and returning an exit code. Add a command by adding its module name to ``COMMANDS`` and
its one-line help to :data:`hefl.cli.SUMMARIES`, which the module passes to ``add_parser``
(``hefl --help`` lists them without importing any command module). Running a command imports
only its own module.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from hefl import __version__
from hefl.cli import SUMMARIES
from hefl.errors import HeflError

#: Modules under hefl.cli that contribute sub-commands, in help order.
COMMANDS: tuple[str, ...] = (
    "run",
    "race",
    "compile",
    "deploy",
    "history",
    "bench",
    "verify",
    "experiment",
    "costs",
    "node",
    "agents",
    "dso",
    "flower",
)


#: Commands registered by a module of another name (``hefl.cli.agents`` registers three); such a
#: module's ``register(subparsers, only=None)`` adds ``only`` that command when it is given.
COMMAND_MODULES: dict[str, str] = {"split": "agents", "party": "agents", "participant": "agents"}


def _command_of(argv: Sequence[str]) -> str | None:
    """The one command the command line runs (``None``: all, e.g. for ``hefl --help``), so a
    command imports what it uses and not every other command's dependencies."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command is None or argv[0].startswith("-"):
        return None
    return command if COMMAND_MODULES.get(command, command) in COMMANDS else None


def build_parser(only: str | None = None, *, summary: bool = False) -> argparse.ArgumentParser:
    """The ``hefl`` parser with every command, or ``only`` the named one; with ``summary``, every
    command by name and one-line help only (:data:`SUMMARIES`), importing no command module:
    enough for ``hefl --help``, ``hefl`` alone and a mistyped command."""
    parser = argparse.ArgumentParser(
        prog="hefl",
        description="Privacy-preserving distributed learning on Paillier ciphertexts, "
        "recorded on an Ethereum ledger.",
    )
    parser.add_argument("--version", action="version", version=f"hefl {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    if summary:
        for name, line in SUMMARIES.items():
            subparsers.add_parser(name, help=line)
    elif only is None:
        for name in COMMANDS:
            importlib.import_module(f"hefl.cli.{name}").register(subparsers)
    elif only in COMMAND_MODULES:
        importlib.import_module(f"hefl.cli.{COMMAND_MODULES[only]}").register(subparsers, only)
    else:
        importlib.import_module(f"hefl.cli.{only}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command_of(argv)
    parser = build_parser(command, summary=command is None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except HeflError as error:
        print(f"hefl {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"hefl {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`hefl history | head`): end quietly, as a Unix filter does.
        # Point stdout at /dev/null so the interpreter's final flush cannot raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
