"""What every command prints the same way: tables of rows, and audit reports."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Protocol

from hefl.errors import VerificationError


class AuditOutcome(Protocol):
    """What :func:`report_audit` needs of an audit (:class:`hefl.agents.audit.AuditTrail`)."""

    problems: list[str]

    @property
    def ok(self) -> bool: ...

    def summary(self) -> str: ...


def render_table(rows: Sequence[dict[str, str]]) -> str:
    """Left-aligned columns from rows sharing the same keys (the first row's keys are the heads)."""
    if not rows:
        return ""
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(row[h]) for row in rows)) for h in headers}
    lines = ["  ".join(h.ljust(widths[h]) for h in headers).rstrip()]
    lines += ["  ".join(row[h].ljust(widths[h]) for h in headers).rstrip() for row in rows]
    return "\n".join(lines)


def report_audit(
    report: AuditOutcome, *, label: str = "", failure: str = "{count} problem(s) found"
) -> None:
    """Print the audit's summary (after ``label``) and its problems; raise if it found any.

    ``failure`` is the :class:`~hefl.errors.VerificationError` message, ``{count}`` the number of
    problems; the CLI prints it as its one error line and exits with 1.
    """
    print(f"{label}{report.summary()}")
    for problem in report.problems:
        print(f"  - {problem}")
    if not report.ok:
        raise VerificationError(failure.format(count=len(report.problems)))


def usage(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """The handler of a command group called without its sub-command: its help, exit status 2."""

    def show(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return show
