"""hefl.bench — performance measurements, reported as ratios against references run alongside.

Every benchmark is a module exposing

    run(*, quick: bool = False) -> BenchResult     measure (``quick`` must finish within ~30 s)
    render(result: BenchResult) -> str              human-readable table

where ``BenchResult`` is a JSON-serialisable dict. Register a new one by adding its name and
module path to :data:`BENCHES`; ``hefl bench NAME [--json] [--quick]`` picks it up (the CLI
builds one sub-command per entry). Modules are imported lazily, so a bench's optional
dependencies (e.g. phe for ``crypto``) load only when it runs.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["BENCHES", "BenchResult", "load_bench"]

BenchResult = dict[str, Any]

#: Benchmark name → (module path, one-line help).
BENCHES: dict[str, tuple[str, str]] = {
    "crypto": ("hefl.bench.crypto", "Paillier engine vs python-paillier (phe) at 2048 bits"),
    "round": ("hefl.bench.round", "One encrypted round: phe literal vs hefl literal vs fused"),
    "secagg": ("hefl.bench.secagg", "Secure aggregation: multi-key vs Paillier, 10k-40k params"),
    "dso": ("hefl.bench.dso", "Decentralised mode: seconds per iteration vs its Paillier floor"),
}


def load_bench(name: str) -> ModuleType:
    """Import the module of benchmark ``name`` (KeyError if unknown)."""
    module_path, _ = BENCHES[name]
    return importlib.import_module(module_path)
