"""``hefl bench dso``: seconds per iteration of the decentralised mode against its Paillier floor.

The ring example of issue 14 (N = 5, d = 3) with 2048-bit keys, agents in process. One iteration
needs, through :mod:`hefl.crypto`'s public API: N encryptions of d-coordinate requests, 2|E|
responses (add the plaintext X_j, raise each coordinate to its 12-bit weight, pack, re-randomise
⌈d/m⌉ ciphertexts) and N batch decryptions of deg·⌈d/m⌉ ciphertexts. The floor is the time of
exactly those operations alone, on the same keys and ciphertexts, measured in the same run (the
engine's speed on this machine now); everything else an iteration does — serialising, validating
and hashing messages, transcripts, random draws, the update — is overhead. Target: ≤ 1.5× floor.
Each figure is the minimum over repeats of the mean over a batch (timeit's convention).
"""

from __future__ import annotations

import platform

from hefl.bench import BenchResult
from hefl.crypto import EncryptedVector
from hefl.dso import DsoConfig, EstimationProblem, generate_keys, packing_layout, ring
from hefl.dso.protocol import pack
from hefl.dso.runner import build_agents, run_iteration
from hefl.dso.transport import InProcessTransport
from hefl.timing import best_of

#: Target of issue 14: an iteration within 1.5× the floor of its Paillier operations.
TARGET_RATIO = 1.5
KEY_BITS = 2048


def run(*, quick: bool = False) -> BenchResult:
    iterations, repeats = (1, 10) if quick else (2, 30)
    graph, problem = ring(5), EstimationProblem()
    config = DsoConfig(iterations=10**6, key_bits=KEY_BITS, seed=0, checkpoint_interval=10**6)
    keys = generate_keys(graph.n, config)
    agents = build_agents(problem, graph, config, keys)
    transport = InProcessTransport()
    k = 0
    for _ in range(2):  # warm-up: fixed-base tables
        run_iteration(agents, transport, k)
        k += 1

    def iterations_batch() -> None:
        nonlocal k
        for _ in range(iterations):
            run_iteration(agents, transport, k)
            k += 1

    layout = packing_layout(config, problem.d)
    bound = config.state_int_bound
    xs = [123456789, -987654321, 55555]
    weights = [config.weight_max] * problem.d
    requests = {
        i: EncryptedVector.encrypt_ints(sk.public_key, xs, bound=bound) for i, sk in enumerate(keys)
    }
    responses = {
        i: pack(requests[i].add_plain_ints(xs).mul_int(weights), layout).rerandomize()
        for i in range(graph.n)
    }

    def floor_batch() -> None:
        for _ in range(iterations):
            for sk in keys:
                EncryptedVector.encrypt_ints(sk.public_key, xs, bound=bound)
            for i in range(graph.n):
                for _j in graph.neighbours(i):
                    pack(requests[i].add_plain_ints(xs).mul_int(weights), layout).rerandomize()
            for i, sk in enumerate(keys):
                batch = EncryptedVector.concat([responses[i]] * graph.degree(i))
                batch.decrypt_ints(sk)

    per_iteration, floor = float("inf"), float("inf")
    for _ in range(repeats):  # alternate, so outside load does not favour one side of the ratio
        per_iteration = min(
            per_iteration, best_of(iterations_batch, 1, warm_up=False)[0] / iterations
        )
        floor = min(floor, best_of(floor_batch, 1, warm_up=False)[0] / iterations)
    counts = agents[0].counts
    return {
        "bench": "dso",
        "quick": quick,
        "key_bits": KEY_BITS,
        "agents": graph.n,
        "edges": len(graph.edges),
        "d": problem.d,
        "slots_per_ciphertext": layout.slots,
        "seconds_per_iteration": per_iteration,
        "floor_seconds_per_iteration": floor,
        "ratio": per_iteration / floor,
        "target_ratio": TARGET_RATIO,
        "meets_target": per_iteration / floor <= TARGET_RATIO,
        "agent0_counts": counts.to_json(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


def render(result: BenchResult) -> str:
    verdict = "meets" if result["meets_target"] else "MISSES"
    return "\n".join(
        [
            f"hefl bench dso — ring N={result['agents']}, d={result['d']}, "
            f"{result['key_bits']}-bit keys, {result['slots_per_ciphertext']} slots per response"
            f"{' (quick)' if result['quick'] else ''}",
            f"  seconds per iteration      {result['seconds_per_iteration']:.4f}",
            f"  Paillier floor             {result['floor_seconds_per_iteration']:.4f}",
            f"  ratio                      {result['ratio']:.2f}×  ({verdict} the target ≤ "
            f"{result['target_ratio']}×)",
        ]
    )
