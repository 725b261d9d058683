"""hefl.bench — performance measurements, reported as ratios against references run alongside.

Every benchmark is a module exposing

    run(*, quick: bool = False) -> BenchResult     measure (``quick`` must finish within ~30 s)
    render(result: BenchResult) -> str              human-readable table

where ``BenchResult`` is a JSON-serialisable dict. Register a new one by adding its name and
module path to :data:`BENCHES`; ``hefl bench NAME [--json] [--quick]`` picks it up (the CLI
builds one sub-command per entry). Modules are imported lazily, so a bench's optional
dependencies (e.g. phe for ``crypto``) load only when it runs. A bench taking options lists them
in :data:`BENCH_OPTIONS` (flag, type, help); the CLI passes them to ``run`` as keywords.
"""

from __future__ import annotations

import importlib
import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

__all__ = [
    "BENCHES",
    "BENCH_OPTIONS",
    "BenchOption",
    "BenchResult",
    "load_bench",
    "machine_info",
]

BenchResult = dict[str, Any]

#: Benchmark name → (module path, one-line help).
BENCHES: dict[str, tuple[str, str]] = {
    "crypto": ("hefl.bench.crypto", "Paillier engine vs python-paillier (phe) at 2048 bits"),
    "round": ("hefl.bench.round", "One encrypted round: phe literal vs hefl literal vs fused"),
    "secagg": ("hefl.bench.secagg", "Secure aggregation: multi-key vs Paillier, 10k-40k params"),
    "dso": ("hefl.bench.dso", "Decentralised mode: seconds per iteration vs its Paillier floor"),
    "flower": ("hefl.bench.flower", "Flower's simulation engine: seconds per round vs hefl run"),
    "scale": ("hefl.bench.scale", "Seconds per round across d and N vs hefl's kernel floor"),
}


@dataclass(frozen=True)
class BenchOption:
    """A ``--flag`` of ``hefl bench NAME``, passed to the bench's ``run`` as ``keyword``."""

    keyword: str
    type: type
    help: str
    minimum: int = 1

    @property
    def flag(self) -> str:
        return "--" + self.keyword.replace("_", "-")


#: Benchmark name → its options (benches not listed take only --json/--quick).
BENCH_OPTIONS: dict[str, tuple[BenchOption, ...]] = {
    "round": (
        BenchOption(
            "features",
            int,
            "synthetic data with this many features d incl. the bias (2,000 rows)",
            2,
        ),
        BenchOption("participants", int, "participants N (default 5 on Boston, 3 on synthetic)"),
        BenchOption("tau", int, "local steps τ (default 25)"),
    ),
}


def load_bench(name: str) -> ModuleType:
    """Import the module of benchmark ``name`` (KeyError if unknown)."""
    module_path, _ = BENCHES[name]
    return importlib.import_module(module_path)


def machine_info() -> dict[str, Any]:
    """Machine, load and date of a run (what the README's generated figures quote)."""
    import gmpy2

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "gmp": gmpy2.mp_version(),
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
