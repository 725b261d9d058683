"""``hefl bench scale``: seconds per round as the features d and the participants N grow (issue 17).

For each (d, N) of the grid — d ∈ {10, 50, 200, 784} × N ∈ {3, 10, 30, 60} (``--quick``:
d ∈ {10, 50}, N = 3) — a synthetic linear problem with d − 1 Gaussian features plus the bias and
2,000 rows (80 % train, split over N; :func:`hefl.bench.round.synthetic_data`), the fused update
(each participant picks the dense or the low-rank form, :mod:`hefl.learning.fused`), τ = 5, one
2048-bit key. One round is timed in three parts, each in this process's CPU time (all threads;
products on the calling thread alone, :func:`hefl.crypto.pool.products_on`):

- **participants**: every participant's ``local_update`` (its fused map, its two gradients, their
  packing and re-randomisation), summed (the serial cost) and the slowest one; that one is run
  again with its products split over this machine's cores and timed by the wall clock — what a
  deployment whose participants run in parallel, each on a machine like this one, waits for;
- **party**: Eq. 10's aggregation, the decryptions (the aggregate, the global and the local
  models packed by the party itself, :func:`hefl.crypto.vector.decrypt_repacked`; the gradients
  packed by the participants, :mod:`hefl.learning.packed`), φ̂/ω̂ and the re-encrypted next
  global model;
- **replicas**: as the in-process job runs them, N replicas in one process, each validating all N
  submissions against the round's rules and recomputing Eq. 10 (blobs parsed once per process;
  the first replica, on a fresh parse cache, is what a replica in its own process pays).

Against the **kernel floor** of the same round, as :mod:`hefl.bench.round` measures it: the
participants' multi-exponentiations run standalone on random operands of the same shapes, the
packing powmods, re-randomisations by the comb, Eq. 10 as d multi-exponentiations of N (once for
the party and once per replica) and the party's decryptions as it runs them (its own packing's
Horner and one full CRT per group on random groups of the same sizes and digit bits, the packed
gradients' full CRT). ``round / floor`` near 1 means the round is its kernels; the party's
decryptions per round are reported with packing and with one per value ("was"), beside the
half-size multiplications of its own packing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from hefl.bench import BenchResult, machine_info
from hefl.bench.round import kernel_floor_ms, party_decryptions, party_vectors, synthetic_data
from hefl.crypto import generate_keypair, pool
from hefl.errors import LearningError
from hefl.learning import parsed
from hefl.learning.fused import plan_update
from hefl.learning.paillier import PaillierStrategy
from hefl.learning.strategy import LearningConfig, LocalUpdate, SubmissionRules

__all__ = ["FULL_GRID", "QUICK_GRID", "render", "run"]

KEY_BITS = 2048
TAU = 5
#: (d, N) of the full run and of ``--quick``.
FULL_GRID: tuple[tuple[int, int], ...] = tuple(
    (d, n) for d in (10, 50, 200, 784) for n in (3, 10, 30, 60)
)
QUICK_GRID: tuple[tuple[int, int], ...] = ((10, 3), (50, 3))


def _seconds(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.process_time()
    value = fn()
    return time.process_time() - start, value


def _one(public: Any, private: Any, d: int, n: int, tau: int) -> dict[str, Any]:
    """One fused round at (d, N), timed in parts, with its kernel floor."""
    data = synthetic_data(d, n)
    config = LearningConfig(mode="fused")
    party = PaillierStrategy(public, config, private_key=private)
    participant = party.for_participant(0)
    start = party.initial_model(data.model_size)
    bits = party.fixed_point.significant_bits
    plans = [plan_update(part, config.ridge, bits) for part in data.parts]

    participant_s: list[float] = []
    updates: list[LocalUpdate] = []
    for part in data.parts:
        began = time.process_time()
        updates.append(participant.local_update(start, part, tau))
        participant_s.append(time.process_time() - began)
    slowest = data.parts[participant_s.index(max(participant_s))]
    with pool.products_on(pool.DEFAULT_WORKERS):
        began = time.perf_counter()
        participant.local_update(start, slowest, tau)
        participant_wall_s = time.perf_counter() - began

    parsed.clear()
    aggregate_s, aggregate = _seconds(
        lambda: party.aggregate([u.model for u in updates], data.sizes)
    )
    conclude_s, _ = _seconds(lambda: party.conclude(start, aggregate, updates, data.sizes))

    rules = SubmissionRules(tau=tau, total_data_size=sum(data.sizes))
    replica = party.for_participant(1)

    def check() -> None:
        for update in updates:
            replica.validate_update(start, update, rules)
        verdict = replica.check_aggregate(start, [u.model for u in updates], data.sizes, aggregate)
        if verdict is not None:  # an honest round: every replica attests
            raise LearningError(f"bench scale: a replica disputes an honest round at d={d}, N={n}")

    parsed.clear()
    replica_s = [_seconds(check)[0] for _ in range(n)]

    vectors = party_vectors(public, start, aggregate, updates)
    counts = party_decryptions(vectors)
    kernel = kernel_floor_ms(public, private, plans, data.model_size, data.sizes, vectors)
    replica_floor_ms = n * kernel["aggregate (d multi-exponentiations of N)"]
    floor_s = (sum(kernel.values()) + replica_floor_ms) / 1e3
    round_s = sum(participant_s) + aggregate_s + conclude_s + sum(replica_s)
    return {
        "features": data.model_size,
        "participants": n,
        "samples_per_participant": min(data.sizes),
        "plans": sorted({f"{p.model_form}/{p.gradient_form}" for p in plans}),
        "participants_total_s": sum(participant_s),
        "participant_max_s": max(participant_s),
        "participant_max_wall_s": participant_wall_s,
        "participant_cores": pool.DEFAULT_WORKERS,
        "party_s": aggregate_s + conclude_s,
        "replicas_total_s": sum(replica_s),
        "replica_first_s": replica_s[0],
        "round_serial_s": round_s,
        "round_parallel_participants_s": participant_wall_s
        + aggregate_s
        + conclude_s
        + sum(replica_s),
        "kernel_floor_s": floor_s,
        "round_vs_kernel_floor": round_s / floor_s,
        "party_decryptions": counts.total,
        "party_decryptions_unpacked": counts.unpacked,
        "party_repack_multiplications": counts.horner,
    }


def run(
    *, quick: bool = False, tau: int = TAU, grid: Sequence[tuple[int, int]] | None = None
) -> BenchResult:
    """Time one fused round per (d, N) of ``grid`` (default: the full or the quick grid)."""
    cells = tuple(grid) if grid is not None else QUICK_GRID if quick else FULL_GRID
    public, private = generate_keypair(KEY_BITS)
    began = time.perf_counter()
    with pool.products_on(1):
        rows = [_one(public, private, d, n, tau) for d, n in cells]
    return {
        "bench": "scale",
        "key_bits": KEY_BITS,
        "tau": tau,
        "mode": "fused",
        "quick": quick,
        "machine": machine_info(),
        "rows": rows,
        "elapsed_s": time.perf_counter() - began,
    }


def render(result: BenchResult) -> str:
    m = result["machine"]
    lines = [
        f"hefl bench scale — synthetic data (2,000 rows), fused, τ={result['tau']}, "
        f"{result['key_bits']}-bit keys{' (quick)' if result['quick'] else ''}",
        f"{m['date']}, {m['cpu_count']} cores, 1-min load {m['load_average_1min']:.1f}; "
        "CPU seconds per round",
        "",
        f"{'d':>4} {'N':>3} {'|D_i|':>5}  {'participants':>12} {'(slowest)':>9} "
        f"{'(wall)':>7} {'party':>7} {'replicas':>8} {'(one)':>6}  {'round':>7} {'floor':>7} "
        f"{'ratio':>5} {'parallel':>8}  {'party decryptions':>19}  plans",
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['features']:>4} {r['participants']:>3} {r['samples_per_participant']:>5}  "
            f"{r['participants_total_s']:>12.2f} {r['participant_max_s']:>9.2f} "
            f"{r['participant_max_wall_s']:>7.2f} "
            f"{r['party_s']:>7.2f} {r['replicas_total_s']:>8.2f} {r['replica_first_s']:>6.2f}  "
            f"{r['round_serial_s']:>7.2f} {r['kernel_floor_s']:>7.2f} "
            f"{r['round_vs_kernel_floor']:>5.2f} {r['round_parallel_participants_s']:>8.2f}  "
            f"{r['party_decryptions']:>7} (was {r['party_decryptions_unpacked']:>6})  "
            f"{', '.join(r['plans'])}"
        )
    lines += [
        "",
        "participants: all N updates in series (slowest: one participant; wall: the slowest "
        "again, its products over this machine's cores);",
        "replicas: N in one process as the in-process job runs them (one: the first, on a fresh "
        "parse cache);",
        "floor: hefl's own kernels standalone for the same round (hefl bench round's kernel "
        "floor plus Eq. 10 once per replica);",
        "parallel: the round when participants run at once, each on its own machine like this "
        "one (wall + party + replicas);",
        "party decryptions: ciphertexts per round, the gradients packed by the participants and "
        "the models by the party itself (was: one per value).",
    ]
    return "\n".join(lines)
