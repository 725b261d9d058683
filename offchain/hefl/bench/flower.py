"""``hefl bench flower``: seconds per round on Flower's simulation engine vs ``hefl run``.

The same job both ways — the diabetes set split over N participants (seed 0), fused updates,
τ = 5, a fixed number of rounds, 2048-bit keys (1024 with ``--quick``), each on its own Anvil on
127.0.0.1 — once as ``hefl flower simulate`` runs it (the ServerApp as the computing party,
ClientApps in Ray workers sending their own transactions, messages through Flower) and once as
``hefl run`` runs it (:class:`hefl.agents.job.InProcessJob`, the same Paillier arithmetic and
ledger transactions, updates in ``workers`` processes). A round is timed from its opening on chain
to its finalisation, both ways; Ray's start and the job's preparation are outside the rounds and
reported apart. The ratio of the medians is what to read (target ≤ 1.5×): what Flower's transport
costs on top of hefl's own round.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from hefl.agents.job import InProcessJob, JobConfig
from hefl.bench import BenchResult
from hefl.chain import LocalBlobStore, connect_rpc
from hefl.control import FixedTauController
from hefl.data import SplitConfig
from hefl.learning.paillier import FixedPointConfig
from hefl.learning.strategy import LearningConfig

__all__ = ["TARGET_RATIO", "render", "run"]

#: Flower's seconds per round over hefl run's, at most.
TARGET_RATIO = 1.5
TAU, ETA, WORKERS = 5, 0.05, 2


def run(*, quick: bool = False) -> BenchResult:
    from hefl.flower import require_flower

    require_flower()
    from hefl.flower.setup import FlowerJobSpec
    from hefl.flower.simulate import loopback_chain, simulate

    participants, rounds, key_bits = (3, 3, 1024) if quick else (5, 4, 2048)
    split = SplitConfig(participants=participants, n_samples=None, seed=0)
    learning = LearningConfig(eta=ETA)
    spec = FlowerJobSpec(
        split=split,
        learning=learning,
        key_bits=key_bits,
        allow_insecure_keys=key_bits < 2048,
        tau=TAU,
        rounds=rounds,
    )
    with tempfile.TemporaryDirectory(prefix="hefl-bench-flower-") as tmp:
        began = time.perf_counter()
        flower = simulate(spec, Path(tmp) / "flower")
        flower_total = time.perf_counter() - began
        if flower.error is not None:
            raise RuntimeError(f"the Flower job stopped: {flower.error}")
        with loopback_chain(None) as url:
            began = time.perf_counter()
            job = InProcessJob(
                JobConfig(
                    split=split,
                    learning=learning,
                    fixed_point=FixedPointConfig(workers=WORKERS),
                    key_bits=key_bits,
                    allow_insecure_keys=key_bits < 2048,
                    workers=WORKERS,
                ),
                connect_rpc(url),
                LocalBlobStore(Path(tmp) / "reference"),
            )
            reference = job.run(FixedTauController(TAU, rounds))
            reference_total = time.perf_counter() - began
    flower_round = statistics.median(r.seconds for r in flower.rounds)
    reference_round = statistics.median(r.seconds for r in reference.rounds)
    ratio = flower_round / reference_round
    return {
        "quick": quick,
        "participants": participants,
        "rounds": rounds,
        "tau": TAU,
        "key_bits": key_bits,
        "flower_seconds_per_round": flower_round,
        "hefl_run_seconds_per_round": reference_round,
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio <= TARGET_RATIO,
        "flower_seconds_total": flower_total,
        "hefl_run_seconds_total": reference_total,
        "flower_rounds_seconds": [r.seconds for r in flower.rounds],
        "hefl_run_rounds_seconds": [r.seconds for r in reference.rounds],
    }


def render(result: BenchResult) -> str:
    verdict = "meets" if result["meets_target"] else "MISSES"
    return "\n".join(
        [
            f"hefl bench flower — N={result['participants']}, {result['rounds']} rounds, "
            f"τ={result['tau']}, {result['key_bits']}-bit keys"
            f"{' (quick)' if result['quick'] else ''}",
            f"  Flower simulation, s/round   {result['flower_seconds_per_round']:.3f}",
            f"  hefl run in process, s/round {result['hefl_run_seconds_per_round']:.3f}",
            f"  ratio                        {result['ratio']:.2f}×  ({verdict} the target ≤ "
            f"{result['target_ratio']}×)",
            f"  whole job incl. set-up (s)   Flower {result['flower_seconds_total']:.1f}, "
            f"hefl run {result['hefl_run_seconds_total']:.1f}",
        ]
    )
