"""``hefl bench round``: one encrypted round of the main paper, piece by piece, against two floors.

Data: Boston (d = 14 with the bias) by default, or ``--features D``: a synthetic regression
problem with D − 1 features and 2,000 rows (as the issue's measurements: 80 % train, split over
``--participants`` N, default 5 on Boston and 3 on synthetic data), τ = ``--tau`` (25), 2048-bit
keys. In one run it times:

- ``phe literal`` — the literal update (Eqs. 6–9) written the way a newcomer would with
  python-paillier. Its cost per sample and per step is constant, so it is timed on a few samples
  of one step and extrapolated to |D_i| samples and τ steps (the output says how many it timed);
- ``hefl literal`` — the same algebra on hefl's engine, timed for min(τ, 2) steps of one
  participant and extrapolated to τ when fewer than τ were run (said in the output);
- ``fused`` — every participant's update as a participant runs it (:mod:`hefl.learning.fused`
  picks the dense or the low-rank form and the gradients' precision; the plans are reported);
- the computing party's aggregation (Eq. 10), decryptions and re-encryption, and the rounds of
  the in-process job on the embedded chain (participants on the job's two worker processes;
  ``JOB_ROUNDS`` rounds, 2 when quick), each with what it cost the ledger: the gas of every
  transaction it mined, by contract function (from the receipts, :func:`hefl.chain.gas.
  transactions_gas`), and the JSON-RPC requests that reached the node, by method (counted by
  the chain wrapper, :attr:`hefl.chain.Chain.requests`), for the first round (which reads the
  deployment's constants and writes round 0's fresh slots) and the later rounds apart;
- two floors for the same serial round, each a sum of operation counts × per-operation times
  measured in this run:

  * the **kernel floor** (honest: the algorithm hefl runs): each multi-exponentiation of the
    participants' plans run standalone by :func:`hefl.crypto.multiexp.multi_exp_rows` on
    random ciphertexts and exponents of the same shape and bit length, 3·d re-randomisations per
    participant by the comb (``randomizer_djn``), Eq. 10 as d multi-exponentiations of N
    ciphertexts, and the party's decryptions as it runs them: the plain vectors (the aggregate,
    the global and the local models) packed by the party itself, ``decrypt_shifted_sums`` (Horner
    modulo p² and q², one full CRT per group; :func:`hefl.crypto.vector.decrypt_repacked`) on
    random groups of the same sizes and digit bits, any plain vector too short to pack by the
    p-half of CRT (``decrypt_small``), and the packed gradients by full CRT, on both threads;
  * the **naive floor**: the same round with one raw gmpy2 powmod per plaintext-matrix entry of
    three d × d products (what a round costs without multi-exponentiation), a full r^n powmod per
    re-randomisation, one per Eq. 10 term, and both CRT halves per decryption on one core.

  ``round / kernel floor`` near 1 says the round is its kernels and nothing else; ``round /
  naive floor`` below 1 is what the multi-exponentiation saves;
- packing (issue 17): each participant packs its two gradients k values per ciphertext
  ([[Σ_j (x_j + B)·2^{j·b}]], :mod:`hefl.learning.packed`) so the party decrypts 2·⌈d/k⌉ for them
  instead of 2·d; the party packs the plain vectors itself, ⌈d/k⌉ decryptions each plus its
  Horner (:func:`party_decryptions`). Both sides of that trade are reported: the party's
  decryptions per round with packing and with one per value ("was"), the participant's packing
  time and the party's decryption time saved.

Every serial piece and both floors are timed in this process's CPU time (all its threads: the
party's two decryption threads are charged their total work on both sides of a ratio), so other
work on the cores does not move the ratios; the in-process job's round is wall time (it spans
processes) and carries the 1-minute load average beside it. Ratios, not absolute times, are
what to read: they come from the same run on the same machine.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import gmpy2
import numpy as np

from hefl.bench import BenchResult, machine_info
from hefl.chain.gas import gas_by_function, transactions_gas
from hefl.costs.work import repacked_work
from hefl.crypto import EncryptedVector, generate_keypair, pool
from hefl.crypto.multiexp import multi_exp_rows
from hefl.crypto.vector import decrypt_repacked, pack_vector, repack_layout
from hefl.data import SplitConfig, load_dataset, prepare
from hefl.data.datasets import Dataset
from hefl.data.prepare import PreparedData
from hefl.errors import ConfigError
from hefl.learning.blobs import unpack_bundle
from hefl.learning.fused import Product, plan_update
from hefl.learning.packed import PackedVector, is_packed, parse_packed
from hefl.learning.paillier import FixedPointConfig, PaillierStrategy
from hefl.learning.parsed import parse_vector
from hefl.learning.strategy import LearningConfig, LocalUpdate

if TYPE_CHECKING:
    from hefl.agents.job import InProcessJob
    from hefl.control import Controller

__all__ = [
    "TARGETS",
    "PartyDecryptions",
    "job_round_costs",
    "kernel_floor_ms",
    "packed_layouts",
    "party_decryptions",
    "party_vectors",
    "render",
    "render_round_costs",
    "round_cost_summary",
    "run",
    "synthetic_data",
]

KEY_BITS = 2048
PARTICIPANTS = 5
SYNTHETIC_PARTICIPANTS = 3
SYNTHETIC_ROWS = 2000
TAU = 25
#: Rounds of the in-process job (quick: 2): the first reads the deployment's constants and
#: writes round 0's storage fresh, the later ones show the steady state.
JOB_ROUNDS = 3
QUICK_JOB_ROUNDS = 2
#: Samples of one step the phe literal update is timed on before extrapolating.
PHE_SAMPLES = 40
#: Random groups per (group size, digit bits) the kernel floor times the party's packing on.
REPACK_SAMPLE_GROUPS = 4
#: (name, description, kind, threshold): "min" means value ≥ threshold, "max" value ≤.
TARGETS: tuple[tuple[str, str, str, float], ...] = (
    ("fused_vs_phe_literal", "participant update: phe literal / hefl fused", "min", 100.0),
    ("round_vs_kernel_floor", "fused round (serial) / hefl's kernels standalone", "max", 1.5),
)


def _seconds(fn: Callable[[], Any]) -> tuple[float, Any]:
    """CPU seconds of this process (all its threads) spent in ``fn``, and its value."""
    start = time.process_time()
    value = fn()
    return time.process_time() - start, value


def synthetic_data(features: int, participants: int, seed: int = 0) -> PreparedData:
    """A linear problem with ``features`` − 1 Gaussian features (+ the bias) and 2,000 rows."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(SYNTHETIC_ROWS, features - 1))
    y = X @ rng.normal(size=features - 1) + 0.1 * rng.normal(size=SYNTHETIC_ROWS)
    names = tuple(f"x{i}" for i in range(features - 1))
    dataset = Dataset(name=f"synthetic-{features}", X=X, y=y, feature_names=names, target_name="y")
    return prepare(dataset, SplitConfig(participants=participants, n_samples=SYNTHETIC_ROWS))


def _phe_literal_steps(
    enc_w: list[Any], X: np.ndarray, y: np.ndarray, eta: float, steps: int
) -> list[Any]:
    """The newcomer's literal update on phe: Eqs. 6–9 with EncryptedNumber arithmetic."""
    n, d = X.shape
    for _ in range(steps):
        grads: list[Any] = [None] * d
        for j in range(n):
            dot = enc_w[0] * float(X[j, 0])
            for k in range(1, d):
                dot = dot + enc_w[k] * float(X[j, k])
            residual = dot - float(y[j])
            for k in range(d):
                term = residual * float(X[j, k])
                grads[k] = term if grads[k] is None else grads[k] + term
        enc_w = [enc_w[k] - grads[k] * (eta / n) for k in range(d)]
    return enc_w


def _powmod_ms(modulus: Any, exponent_bits: int, repeat: int = 20) -> float:
    base = gmpy2.mpz(secrets.randbits(int(modulus.bit_length()) - 1))
    exponent = gmpy2.mpz(secrets.randbits(exponent_bits) | 1 << (exponent_bits - 1))
    start = time.process_time()
    for _ in range(repeat):
        gmpy2.powmod(base, exponent, modulus)
    return (time.process_time() - start) / repeat * 1e3


def _random_ciphertexts(public: Any, count: int) -> list[Any]:
    return [gmpy2.mpz(secrets.randbelow(int(public.nsquare))) | 1 for _ in range(count)]


def _signed(bits: int) -> int:
    value = secrets.randbits(bits - 1)
    return -value if secrets.randbits(1) else value


def _multi_exp_s(public: Any, product: Product) -> float:
    """One product of this shape run standalone on random ciphertexts and exponents."""
    bases = _random_ciphertexts(public, product.terms)
    rows = [[_signed(product.exp_bits) for _ in range(product.terms)] for _ in range(product.rows)]
    return _seconds(lambda: multi_exp_rows(bases, rows, public.nsquare))[0]


def packed_layouts(updates: list[LocalUpdate], public: Any) -> list[PackedVector]:
    """The packed gradients of the participants' updates (two per update)."""
    return [parse_packed(b, public) for u in updates for b in unpack_bundle(u.extra, 2)]


def party_vectors(
    public: Any, global_model: bytes, aggregate: bytes, updates: Sequence[LocalUpdate]
) -> list[EncryptedVector | PackedVector]:
    """What the party decrypts in a round, in ``PaillierStrategy.conclude``'s order: the
    aggregate, the global model, then per participant its local model and two gradients."""
    vectors: list[EncryptedVector | PackedVector] = [
        parse_vector(aggregate, public),
        parse_vector(global_model, public),
    ]
    for update in updates:
        vectors.append(parse_vector(update.model, public))
        vectors += [
            parse_packed(blob, public) if is_packed(blob) else parse_vector(blob, public)
            for blob in unpack_bundle(update.extra, 2)
        ]
    return vectors


@dataclass(frozen=True)
class PartyDecryptions:
    """The party's decryptions in a round (``PaillierStrategy.decrypt_mixed``).

    Attributes:
        small: one value each by the p-half of CRT (plain vectors it does not pack).
        repacked: full decryptions of the groups of the plain vectors it packs itself.
        packed: full decryptions of the participants' packed gradients.
        horner: half-size multiplications of its packing, 2·(L − ⌈L/k⌉)·(b + 1) per vector.
        unpacked: one per value of every vector, what the party spent before any packing.
    """

    small: int
    repacked: int
    packed: int
    horner: int
    unpacked: int

    @property
    def total(self) -> int:
        return self.small + self.repacked + self.packed

    def describe(self) -> dict[str, int]:
        return {**asdict(self), "total": self.total}


def _read_layouts(
    vectors: Sequence[EncryptedVector | PackedVector],
) -> list[tuple[tuple[int, int], bool] | None]:
    """How the party reads each of ``vectors`` (:func:`party_vectors`' order: aggregate, global
    model, then per participant its local model and two gradients): a plain vector's (k, b) and
    whether it is forced into groups — the local models, in the aggregate's layout
    (``PaillierStrategy.conclude``) — ``None`` for a participant-packed one."""
    aggregate = vectors[0] if vectors else None
    shift = None
    if isinstance(aggregate, EncryptedVector):
        shift = repack_layout(aggregate.public_key, aggregate.bound)[1]
    out: list[tuple[tuple[int, int], bool] | None] = []
    for i, v in enumerate(vectors):
        if isinstance(v, PackedVector):
            out.append(None)
            continue
        model = i >= 2 and (i - 2) % 3 == 0
        out.append((repack_layout(v.public_key, v.bound, shift if model else None), model))
    return out


def party_decryptions(vectors: Sequence[EncryptedVector | PackedVector]) -> PartyDecryptions:
    """Count the party's decryptions of ``vectors`` (:func:`party_vectors`): a plain vector
    of L values packed k = :func:`~hefl.crypto.vector.repack_layout` digits per group when L and k
    reach REPACK_MIN_SLOTS, a local model always, in the aggregate's layout
    (:func:`hefl.costs.work.repacked_work`), a packed one by its ciphertexts."""
    small = repacked = packed = horner = unpacked = 0
    for v, read in zip(vectors, _read_layouts(vectors), strict=True):
        if read is None:
            assert isinstance(v, PackedVector)
            packed += len(v.packed)
            unpacked += v.count
            continue
        s, f, h = repacked_work(len(v), read[0], forced=read[1])
        small, repacked, horner, unpacked = small + s, repacked + f, horner + h, unpacked + len(v)
    return PartyDecryptions(small, repacked, packed, horner, unpacked)


def _repack_floor_ms(
    public: Any, private: Any, vectors: Sequence[EncryptedVector | PackedVector]
) -> float:
    """The party's packing of its plain vectors, ``decrypt_shifted_sums`` standalone on random
    groups of each (size, digit bits) it runs (a few timed, times how many it runs)."""
    shapes: Counter[tuple[int, int]] = Counter()
    for v, read in zip(vectors, _read_layouts(vectors), strict=True):
        if read is not None:
            (k, b), forced = read
            if repacked_work(len(v), (k, b), forced=forced)[1]:
                for i in range(0, len(v), k):
                    shapes[(min(k, len(v) - i), b)] += 1
    ms = 0.0
    for (size, bits), count in shapes.items():
        groups = [
            _random_ciphertexts(public, size) for _ in range(min(count, REPACK_SAMPLE_GROUPS))
        ]
        seconds, _ = _seconds(partial(private.decrypt_shifted_sums, groups, bits))
        ms += seconds / len(groups) * count * 1e3
    return ms


def kernel_floor_ms(
    public: Any,
    private: Any,
    plans: list[Any],
    d: int,
    sizes: tuple[int, ...],
    vectors: Sequence[EncryptedVector | PackedVector],
) -> dict[str, float]:
    """hefl's own kernels standalone for a fused round with packed gradients (module docstring);
    ``vectors``: what the party decrypts (:func:`party_vectors`)."""
    counts = party_decryptions(vectors)
    layouts = [v for v in vectors if isinstance(v, PackedVector)]
    timed: dict[Product, float] = {}
    updates_s = 0.0
    for plan in plans:
        for product in plan.products:
            if product not in timed:
                timed[product] = _multi_exp_s(public, product)
            updates_s += timed[product]
    comb_s, _ = _seconds(lambda: [public.randomizer_djn() for _ in range(20)])
    n = len(sizes)
    pack_powmods = {p.slot_bits: 0 for p in layouts}
    for p in layouts:  # Horner: one b-bit powmod per value that is not a packed ciphertext's top
        pack_powmods[p.slot_bits] += p.count - len(p.packed)
    pack_ms = sum(
        count * _powmod_ms(public.nsquare, bits, repeat=5) for bits, count in pack_powmods.items()
    )
    bases = _random_ciphertexts(public, n)
    agg_s, _ = _seconds(
        lambda: [multi_exp_rows(bases, [list(sizes)], public.nsquare) for _ in range(d)]
    )
    batch = [public.encrypt_int(secrets.randbelow(1000)) for _ in range(64)]
    floor = {
        "updates (the plans' multi-exponentiations, standalone)": updates_s * 1e3,
        "pack gradients (b-bit powmods, Horner)": pack_ms,
        "re-randomise (model + packed gradients, comb)": comb_s
        / 20
        * (d * n + counts.packed)
        * 1e3,
        "aggregate (d multi-exponentiations of N)": agg_s * 1e3,
        "decrypt models (own packing: Horner, a full CRT per group)": _repack_floor_ms(
            public, private, vectors
        ),
    }
    if counts.small:  # plain vectors too short (or too wide) to pack
        small = batch[: min(len(batch), counts.small)]
        small_s, _ = _seconds(lambda: private.decrypt_small(small))
        floor["decrypt short models (p-half of CRT, batch on both threads)"] = (
            small_s / len(small) * counts.small * 1e3
        )
    if counts.packed:
        full = batch[: min(len(batch), counts.packed)]
        full_s, _ = _seconds(lambda: private.decrypt_ints(full))
        floor["decrypt packed gradients (full CRT, both threads)"] = (
            full_s / len(full) * counts.packed * 1e3
        )
    return floor


def _naive_floor_ms(
    public: Any, private: Any, d: int, sizes: tuple[int, ...], matvec_bits: int, ciphertexts: int
) -> dict[str, float]:
    n = len(sizes)
    crt_ms = _powmod_ms(private.psquare, KEY_BITS // 2) + _powmod_ms(private.qsquare, KEY_BITS // 2)
    return {
        "updates (3 d×d products, one powmod per entry)": 3
        * d
        * d
        * n
        * _powmod_ms(public.nsquare, matvec_bits),
        "re-randomise (3·d per participant, full powmod r^n)": 3
        * d
        * n
        * _powmod_ms(public.nsquare, KEY_BITS),
        "aggregate (N·d powmods, |D_i| exponents)": n
        * d
        * _powmod_ms(public.nsquare, max(sizes).bit_length()),
        "decrypt (CRT halves, one core)": ciphertexts * crt_ms,
    }


def job_round_costs(job: InProcessJob, controller: Controller) -> list[dict[str, Any]]:
    """Run ``job`` under ``controller`` and return, per round in order: its wall seconds, its
    blocks, the gas of its transactions by function (and their number) and the node requests
    by method, with the totals.

    A round spans from the end of the previous one (the job's set-up excluded) to its progress
    report; requests after the last report (none, normally) are the last round's. The block
    number read at each boundary is taken out of the counts, and the receipts are read after
    the job, so the measuring adds no request to any round."""
    chain = job.chain
    marks: list[tuple[float, int, Counter[str], Counter[str]]] = []  # (t, block, end, next start)
    began = (time.perf_counter(), chain.block_number)
    opening = Counter(chain.requests)

    def boundary(_: Any) -> None:
        end = Counter(chain.requests)
        block = chain.block_number
        marks.append((time.perf_counter(), block, end, Counter(chain.requests)))

    job.run(controller, boundary)
    if marks:  # requests after the last report (not the boundary's own) are the last round's
        t, block, end, next_start = marks[-1]
        tail = Counter(chain.requests)
        tail.subtract(next_start)
        marks[-1] = (t, block, end + tail, Counter())
    rounds: list[dict[str, Any]] = []
    previous_t, previous_block = began
    for t, block, end, next_start in marks:
        spent = Counter(end)
        spent.subtract(opening)
        requests = {k: v for k, v in sorted(spent.items()) if v}
        txs = transactions_gas(chain, previous_block + 1, block, job.ledger.artifact.abi_list)
        rounds.append(
            {
                "wall_s": t - previous_t,
                "blocks": [previous_block + 1, block],
                "gas_by_function": gas_by_function(txs),
                "transactions_by_function": dict(Counter(tx.function for tx in txs)),
                "gas": sum(tx.gas for tx in txs),
                "requests_by_method": requests,
                "requests": sum(requests.values()),
            }
        )
        opening, previous_t, previous_block = next_start, t, block
    return rounds


def _mean_round(rounds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The mean of some rounds' costs (a function or method missing from a round counts 0)."""
    mean: dict[str, Any] = {}
    for key in ("wall_s", "gas", "requests"):
        mean[key] = sum(r[key] for r in rounds) / len(rounds)
    for key in ("gas_by_function", "transactions_by_function", "requests_by_method"):
        names = list(dict.fromkeys(name for r in rounds for name in r[key]))
        mean[key] = {n: sum(r[key].get(n, 0) for r in rounds) / len(rounds) for n in names}
    return mean


def round_cost_summary(rounds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per-round costs of a job: the first round, the mean of the later ones (None with one
    round) and the mean of all."""
    if not rounds:
        raise ConfigError("no rounds to summarise: run the job for at least one round")
    return {
        "rounds": len(rounds),
        "first": _mean_round(rounds[:1]),
        "later_mean": _mean_round(rounds[1:]) if len(rounds) > 1 else None,
        "mean": _mean_round(rounds),
    }


def run(
    *,
    quick: bool = False,
    features: int | None = None,
    participants: int | None = None,
    tau: int = TAU,
) -> BenchResult:
    """The bench, its products on one process: the CPU seconds it reports (``time.process_time``)
    are then each operation's whole cost (:func:`hefl.crypto.pool.products_on`)."""
    with pool.products_on(1):
        return _run(quick=quick, features=features, participants=participants, tau=tau)


def _run(
    *,
    quick: bool,
    features: int | None,
    participants: int | None,
    tau: int,
) -> BenchResult:
    from hefl.agents.job import InProcessJob, JobConfig
    from hefl.chain import LocalBlobStore, connect_embedded
    from hefl.control import FixedTauController

    if features is None:
        n_parts = participants or PARTICIPANTS
        data = prepare(load_dataset("boston"), SplitConfig(participants=n_parts))
        split = SplitConfig(participants=n_parts)
    else:
        n_parts = participants or SYNTHETIC_PARTICIPANTS
        data = synthetic_data(features, n_parts)
        split = SplitConfig(participants=n_parts, n_samples=SYNTHETIC_ROWS)
    public, private = generate_keypair(KEY_BITS)
    eta = LearningConfig().eta
    party = PaillierStrategy(public, LearningConfig(mode="fused"), private_key=private)
    fused = PaillierStrategy(public, LearningConfig(mode="fused"))
    literal = PaillierStrategy(public, LearningConfig(mode="literal"))
    bits = party.fixed_point.significant_bits
    start = party.initial_model(data.model_size)
    d = data.model_size
    result: dict[str, Any] = {
        "bench": "round",
        "data": data.name,
        "features": d,
        "key_bits": KEY_BITS,
        "participants": n_parts,
        "tau": tau,
        "samples_per_participant": list(data.sizes),
        "quick": quick,
        "machine": machine_info(),
    }
    t_start = time.perf_counter()

    # --- participants' updates -------------------------------------------------------------------
    plans = [plan_update(part, 0.0, bits) for part in data.parts]
    result["plans"] = [
        {
            "model": p.model_form,
            "gradients": p.gradient_form,
            "gradient_bits": p.gradient_bits,
            "estimated_multiplications": p.estimated_multiplications,
        }
        for p in plans
    ]
    fused_times: list[float] = []
    updates: list[LocalUpdate] = []
    for part in data.parts:
        began = time.process_time()
        updates.append(fused.local_update(start, part, tau))
        fused_times.append(time.process_time() - began)
    part0 = data.parts[0]
    literal_steps = min(tau, 1 if quick or d > 14 else tau)
    literal_s, _ = _seconds(lambda: literal.local_update(start, part0, literal_steps))
    hefl_literal = literal_s
    if literal_steps < tau:  # add the missing steps at the measured cost of one
        vector = EncryptedVector.from_bytes(start, public)
        step_s, _ = _seconds(lambda: literal._literal_steps(vector, part0, literal_steps))
        hefl_literal += step_s * (tau - literal_steps) / literal_steps
    phe_rows = min(part0.size, PHE_SAMPLES // (2 if quick else 1))
    phe_public = public.to_phe()
    encrypt_s, enc_w = _seconds(lambda: [phe_public.encrypt(0.0) for _ in range(d)])
    phe_s, _ = _seconds(
        lambda: _phe_literal_steps(enc_w, part0.X[:phe_rows], part0.y[:phe_rows], eta, 1)
    )
    phe_update = encrypt_s + phe_s * (part0.size / phe_rows) * tau
    result["update_s"] = {
        "phe_literal_extrapolated": phe_update,
        "phe_literal_samples_timed": phe_rows,
        "hefl_literal": hefl_literal,
        "hefl_literal_steps_timed": literal_steps,
        "fused": float(np.mean(fused_times)),
    }

    # --- the computing party ---------------------------------------------------------------------
    aggregate_s, aggregate = _seconds(
        lambda: party.aggregate([u.model for u in updates], data.sizes)
    )
    conclude_s, _ = _seconds(lambda: party.conclude(start, aggregate, updates, data.sizes))
    layouts = packed_layouts(updates, public)
    vectors = party_vectors(public, start, aggregate, updates)
    counts = party_decryptions(vectors)
    unpacked_total = counts.unpacked
    result["party_s"] = {
        "aggregate": aggregate_s,
        "decrypt_estimate_refresh": conclude_s,
        "decrypted_ciphertexts": counts.total,
        "decrypted_ciphertexts_unpacked": unpacked_total,
    }
    result["party_decryptions"] = counts.describe()

    # --- the ledger: a whole fused round of the in-process job on the embedded chain -----------
    with tempfile.TemporaryDirectory() as tmp:
        job = InProcessJob(
            JobConfig(dataset=data.name, split=split, workers=2),
            connect_embedded(),
            LocalBlobStore(tmp),
            data=data,
        )
        # wall clock: the job spreads over processes
        job_rounds = job_round_costs(
            job, FixedTauController(tau, QUICK_JOB_ROUNDS if quick else JOB_ROUNDS)
        )
        result["job_rounds"] = job_rounds
        result["job_round_s"] = job_rounds[0]["wall_s"]  # the first round, as a one-round job
        result["job_chain"] = round_cost_summary(job_rounds)

    # --- the two floors of the serial fused round ------------------------------------------------
    kernel = kernel_floor_ms(public, private, plans, d, data.sizes, vectors)
    naive = _naive_floor_ms(public, private, d, data.sizes, bits + 1, unpacked_total)
    serial_round = sum(fused_times) + aggregate_s + conclude_s
    result["kernel_floor_ms"] = kernel
    result["naive_floor_ms"] = naive
    result["fused_round_serial_s"] = serial_round

    # --- packing: participant cost vs the party's saving ----------------------------------------
    gradient = EncryptedVector.from_bytes(
        unpack_bundle(
            PaillierStrategy(
                public, LearningConfig(mode="fused"), FixedPointConfig(pack_gradients=False)
            )
            .local_update(start, part0, tau)
            .extra,
            2,
        )[0],
        public,
    )
    pack_s, _ = _seconds(lambda: pack_vector(gradient))
    small_s, _ = _seconds(lambda: private.decrypt_small(list(gradient.ciphertexts)))
    repacked_s, _ = _seconds(lambda: decrypt_repacked(private, gradient))
    first = layouts[0]
    full_s, _ = _seconds(lambda: private.decrypt_ints(list(first.packed.ciphertexts)))
    result["packing"] = {
        "slot_bits": first.slot_bits,
        "values_per_ciphertext": first.per_ciphertext,
        "pack_one_gradient_s": pack_s,
        "decrypt_one_gradient_unpacked_s": small_s,
        "decrypt_one_gradient_repacked_s": repacked_s,
        "decrypt_one_gradient_packed_s": full_s,
        "party_decryptions_unpacked": unpacked_total,
        "party_decryptions_packed": counts.total,
    }
    result["ratios"] = {
        "fused_vs_phe_literal": phe_update / float(np.mean(fused_times)),
        "hefl_literal_vs_phe_literal": phe_update / hefl_literal,
        "fused_vs_hefl_literal": hefl_literal / float(np.mean(fused_times)),
        "round_vs_kernel_floor": serial_round / (sum(kernel.values()) / 1e3),
        "round_vs_naive_floor": serial_round / (sum(naive.values()) / 1e3),
    }
    result["targets"] = [
        {
            "name": name,
            "description": text,
            "value": result["ratios"][name],
            "threshold": threshold,
            "kind": kind,
            "met": (result["ratios"][name] >= threshold)
            if kind == "min"
            else (result["ratios"][name] <= threshold),
        }
        for name, text, kind, threshold in TARGETS
    ]
    result["elapsed_s"] = time.perf_counter() - t_start
    return result


def _later_rounds(result: BenchResult) -> str:
    """ ", the later rounds' mean wall time" when the job ran more than one round."""
    later = result.get("job_chain", {}).get("later_mean")
    return f" (first round; later rounds {later['wall_s']:.2f} s)" if later else ""


def render_round_costs(summary: Mapping[str, Any]) -> list[str]:
    """The ledger's cost per round of the in-process job, as table lines (first round, mean of
    the later rounds, mean of all)."""
    columns = [("round 1", summary["first"])]
    if summary["later_mean"] is not None:
        columns.append(("later (mean)", summary["later_mean"]))
    columns.append((f"all {summary['rounds']} (mean)", summary["mean"]))

    def rows(label: str, key: str, total: str, count: str | None) -> list[str]:
        names = list(dict.fromkeys(n for _, c in columns for n in c[key]))
        out = []
        for name in names:
            times = ""
            if count is not None:
                per = {c[count].get(name, 0) for _, c in columns}
                times = (
                    f" ×{per.pop():g}"
                    if len(per) == 1
                    else " ×" + "/".join(f"{c[count].get(name, 0):g}" for _, c in columns)
                )
            cells = "".join(f"{c[key].get(name, 0):>15,.0f}" for _, c in columns)
            out.append(f"  {label} {name + times:<34}{cells}")
        cells = "".join(f"{c[total]:>15,.0f}" for _, c in columns)
        out.append(f"  {label} {'total':<34}{cells}")
        return out

    header = "".join(f"{name:>15}" for name, _ in columns)
    return [
        f"ledger per round of the in-process job ({summary['rounds']} rounds): gas from the "
        "receipts by function (× transactions),",
        "  node requests by JSON-RPC method as the chain wrapper counts them",
        f"  {'':<38}{header}",
        *rows("gas", "gas_by_function", "gas", "transactions_by_function"),
        *rows("req", "requests_by_method", "requests", None),
    ]


def _render_party_decryptions(result: BenchResult) -> list[str]:
    c = result.get("party_decryptions")
    if c is None:  # a result written before the party packed its plain vectors
        return []
    return [
        f"  of which {c['repacked']} for the aggregate, the global and the local models the party "
        f"packs itself (+ {c['horner']:,} half-size multiplications of its Horner), "
        f"{c['packed']} for the packed gradients, {c['small']} one value at a time"
    ]


def render(result: BenchResult) -> str:
    u, p, r = result["update_s"], result["party_s"], result["ratios"]
    m = result["machine"]
    lines = [
        f"hefl bench round — {result['data']} (d={result['features']}), "
        f"N={result['participants']}, τ={result['tau']}, {result['key_bits']}-bit keys"
        f"{' (quick)' if result['quick'] else ''}",
        f"{m['date']}, {m['cpu_count']} cores, 1-min load {m['load_average_1min']:.1f}",
        "",
        "participant update (s)",
        f"  phe literal        {u['phe_literal_extrapolated']:10.3f}   (timed "
        f"{u['phe_literal_samples_timed']} samples of one step, × |D_i| × τ)",
        f"  hefl literal       {u['hefl_literal']:10.3f}   (timed {u['hefl_literal_steps_timed']} "
        f"step(s)) ratio phe/hefl {r['hefl_literal_vs_phe_literal']:.1f}×",
        f"  hefl fused         {u['fused']:10.3f}   ratio phe/fused "
        f"{r['fused_vs_phe_literal']:.0f}×, literal/fused {r['fused_vs_hefl_literal']:.1f}×",
    ]
    lines += [
        f"  plan of participant {i}: model {plan['model']}, gradients {plan['gradients']} at "
        f"{plan['gradient_bits']} bits"
        for i, plan in enumerate(result["plans"])
    ]
    lines += [
        "",
        "computing party (s)",
        f"  aggregate (Eq. 10) {p['aggregate']:10.3f}",
        f"  decrypt+estimates  {p['decrypt_estimate_refresh']:10.3f}   "
        f"({p['decrypted_ciphertexts']} ciphertexts)",
        f"whole fused round of the in-process job on the embedded chain: "
        f"{result['job_round_s']:.2f} s wall{_later_rounds(result)}",
        f"fused round, serial: {result['fused_round_serial_s']:.2f} s CPU",
        "",
    ]
    if "job_chain" in result:
        lines += [*render_round_costs(result["job_chain"]), ""]
    lines += [
        "kernel floor (hefl's own kernels standalone, ms)",
    ]
    lines += [f"  {name:<58} {ms:10.1f}" for name, ms in result["kernel_floor_ms"].items()]
    lines += ["naive floor (one raw powmod per operation, ms)"]
    lines += [f"  {name:<58} {ms:10.1f}" for name, ms in result["naive_floor_ms"].items()]
    pk = result["packing"]
    lines += [
        f"  serial round / kernel floor: {r['round_vs_kernel_floor']:.2f}   "
        f"serial round / naive floor: {r['round_vs_naive_floor']:.2f}",
        "",
        f"packed gradients ({pk['values_per_ciphertext']} slots of {pk['slot_bits']} bits per "
        f"ciphertext): the party decrypts {pk['party_decryptions_packed']} ciphertexts per round "
        f"instead of {pk['party_decryptions_unpacked']} (one per value)",
        *_render_party_decryptions(result),
        f"  one gradient: participant packs in {pk['pack_one_gradient_s'] * 1e3:.1f} ms; party "
        f"decrypts in {pk['decrypt_one_gradient_packed_s'] * 1e3:.1f} ms instead of "
        f"{pk.get('decrypt_one_gradient_repacked_s', float('nan')) * 1e3:.1f} ms packing it "
        f"itself ({pk['decrypt_one_gradient_unpacked_s'] * 1e3:.1f} ms one value at a time)",
        "",
        "targets",
    ]
    lines += [
        f"  {'met ' if t['met'] else 'MISS'} {t['description']}: {t['value']:.2f} "
        f"({'≥' if t['kind'] == 'min' else '≤'} {t['threshold']})"
        for t in result["targets"]
    ]
    return "\n".join(lines)
