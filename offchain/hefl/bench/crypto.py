"""``hefl bench crypto``: the Paillier engine against python-paillier (phe, on gmpy2).

One run at 2048 bits times, for hefl and for phe on the *same* key: key generation, encryption,
decryption (single, and batches on one and on two cores), ciphertext addition, scalar
multiplication by 16- and 53-bit integers, a 14×14 plaintext matrix × encrypted vector and a 5×14
weighted sum (Eq. 10) — as ms per operation and the ratio phe/hefl — and the raw gmpy2 powmods the
operations are built from (the arithmetic floor):

- ``powmod448``: a 448-bit exponent modulo n² (what a DJN encryption costs without tables);
- ``comb448``: the same with hefl's fixed-base comb table (what hefl's encryption does);
- ``crt_halves``: c^(p−1) mod p² plus c^(q−1) mod q² (the CRT decryption floor per core);
- ``powmod_n``: r^n mod n² (textbook randomiser, what phe's encryption pays);
- ``powmod16`` / ``powmod53``: one ciphertext to a 16- / 53-bit exponent (the floor of a scalar
  multiplication; matvec and weighted sums need 14·14 resp. 5·14 of the 53-bit ones when done
  naively).

Times are the minimum over repeats of the mean over a batch (timeit's convention: the minimum is
the least disturbed by other processes on the shared cores). Targets (issue 3) are checked
against ratios measured in this same run, never against absolute times.
"""

from __future__ import annotations

import platform
import secrets
import time
from collections.abc import Callable
from typing import Any

import gmpy2
import numpy as np

from hefl.bench import BenchResult
from hefl.crypto import EncryptedVector, generate_keypair, matvec, weighted_sum
from hefl.crypto.pool import DEFAULT_WORKERS
from hefl.errors import ConfigError

__all__ = ["TARGETS", "render", "run"]

KEY_BITS = 2048
#: Fixed-point precision of the real scalars in matvec / weighted sums / mul_fixed.
PRECISION_BITS = 53
SCALE_BITS = 32
MATVEC_SHAPE = (14, 14)
WSUM_SHAPE = (5, 14)

#: (name, description, kind, threshold): kind "min" means value ≥ threshold, "max" value ≤.
TARGETS: tuple[tuple[str, str, str, float], ...] = (
    ("encrypt_speedup", "encrypt: phe / hefl (public key, DJN)", "min", 25.0),
    ("decrypt_vs_floor", "decrypt per core: hefl / CRT floor", "max", 1.1),
    ("batch_decrypt_speedup", "batch decrypt, 2 cores: phe / hefl throughput", "min", 1.8),
    ("mul16_vs_floor", "scalar × 16-bit: hefl / raw powmod", "max", 1.2),
    ("mul53_vs_floor", "scalar × 53-bit: hefl / raw powmod", "max", 1.2),
    ("matvec_vs_floor", "14×14 matvec: hefl / 196 raw 53-bit powmods", "max", 1.2),
    ("wsum_vs_floor", "5×14 weighted sum: hefl / 70 raw 53-bit powmods", "max", 1.2),
)


def _time(fn: Callable[[], Any], ops_per_call: int, calls: int, repeat: int) -> float:
    """Milliseconds per operation: min over ``repeat`` of (time of ``calls`` calls) / ops."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / (calls * ops_per_call))
    return best * 1e3


def _time_interleaved(
    fns: dict[str, Callable[[], Any]], ops_per_call: int, repeat: int
) -> dict[str, float]:
    """Like :func:`_time` for several functions, alternating them within each repeat.

    Alternating keeps a burst of load from other processes from favouring one side of a ratio.
    """
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], (time.perf_counter() - t0) / ops_per_call)
    return {name: v * 1e3 for name, v in best.items()}


def run(*, quick: bool = False) -> BenchResult:
    """Measure everything; ``quick`` finishes within ~30 s on the reference machine."""
    try:
        from phe import paillier  # GPL, bench/test only: imported lazily
    except ImportError as exc:
        raise ConfigError(
            "hefl bench crypto compares against python-paillier, which is not installed; "
            "install the test extra (pip install -e '.[test]') or phe==1.5.0"
        ) from exc

    t_start = time.perf_counter()
    reps = 2 if quick else 5
    keygens = 2 if quick else 6
    batch = 32 if quick else 128
    rng = np.random.default_rng(2026)

    rows: dict[str, dict[str, float]] = {}

    def row(name: str, hefl: float, phe: float | None = None, floor: float | None = None) -> None:
        entry: dict[str, float] = {"hefl_ms": hefl}
        if phe is not None:
            entry["phe_ms"] = phe
            entry["phe_over_hefl"] = phe / hefl
        if floor is not None:
            entry["floor_ms"] = floor
            entry["hefl_over_floor"] = hefl / floor
        rows[name] = entry

    # --- key generation ------------------------------------------------------------------------
    hefl_kg = _time(lambda: generate_keypair(KEY_BITS), 1, 1, keygens)
    phe_kg = _time(lambda: paillier.generate_paillier_keypair(n_length=KEY_BITS), 1, 1, keygens)
    row("keygen", hefl_kg, phe_kg)

    pk, sk = generate_keypair(KEY_BITS)
    phe_pk, phe_sk = pk.to_phe(), sk.to_phe()
    n, nsq = pk.n, pk.nsquare
    t0 = time.perf_counter()
    pk.precompute()
    table_ms = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    sk.precompute()
    owner_table_ms = (time.perf_counter() - t0) * 1e3

    d = MATVEC_SHAPE[1]
    x = rng.uniform(-1, 1, d)
    xf = [float(v) for v in x]

    # --- raw powmods (the floor) ---------------------------------------------------------------
    c = pk.encrypt_int(12345)
    e448 = gmpy2.mpz(secrets.randbits(448) | (1 << 447))
    e16 = gmpy2.mpz(secrets.randbits(16) | (1 << 15))
    e53 = gmpy2.mpz(secrets.randbits(53) | (1 << 52))
    r = gmpy2.mpz(secrets.randbelow(int(n)))
    raw = {
        "powmod448": _time(lambda: gmpy2.powmod(c, e448, nsq), 1, 20, reps),
        "comb448": _time(lambda: pk.randomizer_djn(int(e448)), 1, 50, reps),
        "crt_halves": _time(
            lambda: (gmpy2.powmod(c, sk.p - 1, sk.psquare), gmpy2.powmod(c, sk.q - 1, sk.qsquare)),
            1,
            20,
            reps,
        ),
        "powmod_n": _time(lambda: gmpy2.powmod(r, n, nsq), 1, 5 if quick else 10, reps),
        "powmod16": _time(lambda: gmpy2.powmod(c, e16, nsq), 1, 100, reps),
        "powmod53": _time(lambda: gmpy2.powmod(c, e53, nsq), 1, 100, reps),
    }

    # --- encryption ----------------------------------------------------------------------------
    enc_pub = _time(lambda: EncryptedVector.encrypt(pk, x, SCALE_BITS), d, 3, reps)
    enc_own = _time(lambda: EncryptedVector.encrypt(sk, x, SCALE_BITS), d, 3, reps)
    enc_full = _time(
        lambda: EncryptedVector.encrypt(pk, x[:2], SCALE_BITS, randomizer="full"), 2, 1, reps
    )
    phe_enc = _time(lambda: [phe_pk.encrypt(v) for v in xf[:4]], 4, 1 if quick else 3, reps)
    row("encrypt (public key, DJN)", enc_pub, phe_enc, raw["comb448"])
    row("encrypt (owner, CRT DJN)", enc_own, phe_enc)
    row("encrypt (public key, full r^n)", enc_full, phe_enc, raw["powmod_n"])

    # --- decryption ----------------------------------------------------------------------------
    xb = rng.uniform(-1, 1, batch)
    evb = EncryptedVector.encrypt(pk, xb, SCALE_BITS)
    cts = list(evb.ciphertexts)
    phe_nums = [paillier.EncryptedNumber(phe_pk, int(ct), -8) for ct in cts]
    single = cts[:8]
    evb.decrypt(sk, workers=2)  # warm the worker threads
    t = _time_interleaved(
        {
            "floor": lambda: [
                (gmpy2.powmod(ct, sk.p - 1, sk.psquare), gmpy2.powmod(ct, sk.q - 1, sk.qsquare))
                for ct in single
            ],
            "hefl": lambda: [sk.decrypt_int(ct) for ct in single],
            "phe": lambda: [phe_sk.decrypt(v) for v in phe_nums[: len(single)]],
        },
        len(single),
        reps + 2,
    )
    row("decrypt (single, 1 core)", t["hefl"], t["phe"], t["floor"])
    t = _time_interleaved(
        {
            "w1": lambda: evb.decrypt(sk, workers=1),
            "w2": lambda: evb.decrypt(sk, workers=2),
            "phe": lambda: [phe_sk.decrypt(v) for v in phe_nums],
        },
        batch,
        reps + 1,
    )
    row(f"decrypt batch of {batch} (1 core)", t["w1"], t["phe"], raw["crt_halves"])
    row(f"decrypt batch of {batch} (2 threads)", t["w2"], t["phe"], raw["crt_halves"] / 2)

    # --- addition and scalar multiplication ----------------------------------------------------
    ev_a = EncryptedVector.encrypt(pk, x, SCALE_BITS)
    ev_b = EncryptedVector.encrypt(pk, rng.uniform(-1, 1, d), SCALE_BITS)
    pa = [phe_pk.encrypt(v, precision=2.0**-SCALE_BITS) for v in xf]
    pb = [phe_pk.encrypt(float(v), precision=2.0**-SCALE_BITS) for v in rng.uniform(-1, 1, d)]
    add = _time(lambda: ev_a + ev_b, d, 20, reps)
    phe_add = _time(lambda: [u + v for u, v in zip(pa, pb, strict=True)], d, 20, reps)
    row("add", add, phe_add)
    for bits, e, key in ((16, e16, "powmod16"), (53, e53, "powmod53")):
        k = int(e)
        mul = _time(lambda k=k: ev_a.mul_int(k), d, 2, reps)
        phe_mul = _time(lambda k=k: [u * k for u in pa], d, 2, reps)
        row(f"scalar multiply ({bits}-bit int)", mul, phe_mul, raw[key])
    s = float(rng.uniform(-1, 1))
    mulf = _time(lambda: ev_a.mul_fixed(s, PRECISION_BITS), d, 2, reps)
    phe_mulf = _time(lambda: [u * s for u in pa], d, 2, reps)
    row(f"scalar multiply (real, p={PRECISION_BITS})", mulf, phe_mulf, raw["powmod53"])

    # --- matvec and weighted sum ---------------------------------------------------------------
    m = rng.uniform(-1, 1, MATVEC_SHAPE)
    mv = _time(lambda: matvec(m, ev_a, PRECISION_BITS), 1, 1, reps)
    mf = m.tolist()

    def phe_matvec() -> list[Any]:
        return [
            sum((pa[k] * mf[j][k] for k in range(1, d)), pa[0] * mf[j][0]) for j in range(len(mf))
        ]

    phe_mv = _time(phe_matvec, 1, 1, 1 if quick else 2)
    row(
        f"matvec {MATVEC_SHAPE[0]}×{MATVEC_SHAPE[1]} (p={PRECISION_BITS})",
        mv,
        phe_mv,
        raw["powmod53"] * MATVEC_SHAPE[0] * MATVEC_SHAPE[1],
    )
    n_vec, dim = WSUM_SHAPE
    evs = [EncryptedVector.encrypt(pk, rng.uniform(-1, 1, dim), SCALE_BITS) for _ in range(n_vec)]
    pvs = [
        [phe_pk.encrypt(float(v), precision=2.0**-SCALE_BITS) for v in rng.uniform(-1, 1, dim)]
        for _ in range(n_vec)
    ]
    w = rng.uniform(0, 1, n_vec)
    w /= w.sum()
    wl = [float(v) for v in w]
    ws = _time(lambda: weighted_sum(evs, w, PRECISION_BITS), 1, 1, reps)

    def phe_wsum() -> list[Any]:
        return [
            sum((pvs[i][k] * wl[i] for i in range(1, n_vec)), pvs[0][k] * wl[0]) for k in range(dim)
        ]

    phe_ws = _time(phe_wsum, 1, 1, 1 if quick else 2)
    row(
        f"weighted sum {n_vec}×{dim} (p={PRECISION_BITS})",
        ws,
        phe_ws,
        raw["powmod53"] * n_vec * dim,
    )

    measured = {
        "encrypt_speedup": rows["encrypt (public key, DJN)"]["phe_over_hefl"],
        "decrypt_vs_floor": rows["decrypt (single, 1 core)"]["hefl_over_floor"],
        "batch_decrypt_speedup": rows[f"decrypt batch of {batch} (2 threads)"]["phe_over_hefl"],
        "mul16_vs_floor": rows["scalar multiply (16-bit int)"]["hefl_over_floor"],
        "mul53_vs_floor": rows["scalar multiply (53-bit int)"]["hefl_over_floor"],
        "matvec_vs_floor": rows[f"matvec {MATVEC_SHAPE[0]}×{MATVEC_SHAPE[1]} (p={PRECISION_BITS})"][
            "hefl_over_floor"
        ],
        "wsum_vs_floor": rows[f"weighted sum {n_vec}×{dim} (p={PRECISION_BITS})"][
            "hefl_over_floor"
        ],
    }
    targets = [
        {
            "name": name,
            "description": desc,
            "value": measured[name],
            "target": f"{'≥' if kind == 'min' else '≤'} {threshold:g}",
            "met": measured[name] >= threshold if kind == "min" else measured[name] <= threshold,
        }
        for name, desc, kind, threshold in TARGETS
    ]
    return {
        "bench": "crypto",
        "quick": quick,
        "key_bits": KEY_BITS,
        "workers": DEFAULT_WORKERS,
        "machine": {
            "python": platform.python_version(),
            "gmpy2": gmpy2.version(),
            "gmp": gmpy2.mp_version(),
            "cpu_count": __import__("os").cpu_count(),
        },
        "precompute_ms": {"public_comb_table": table_ms, "owner_crt_comb_tables": owner_table_ms},
        "operations": rows,
        "raw_powmod_ms": raw,
        "targets": targets,
        "elapsed_s": time.perf_counter() - t_start,
    }


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if v < 100 else f"{v:.1f}"


def render(result: BenchResult) -> str:
    """Plain-text tables of a :func:`run` result."""
    lines = [
        f"hefl bench crypto — {result['key_bits']}-bit keys, {result['workers']} decryption "
        f"threads, {'quick' if result['quick'] else 'full'} run in {result['elapsed_s']:.1f} s "
        f"({result['machine']['gmp']}, gmpy2 {result['machine']['gmpy2']})",
        "",
        f"{'operation':<38}{'hefl ms/op':>12}{'phe ms/op':>12}{'phe/hefl':>10}"
        f"{'floor ms':>11}{'hefl/floor':>12}",
    ]
    for name, e in result["operations"].items():
        lines.append(
            f"{name:<38}{_fmt(e['hefl_ms']):>12}{_fmt(e.get('phe_ms')):>12}"
            f"{_fmt(e.get('phe_over_hefl')):>10}{_fmt(e.get('floor_ms')):>11}"
            f"{_fmt(e.get('hefl_over_floor')):>12}"
        )
    lines += ["", "raw gmpy2 costs (ms):"]
    lines += [f"  {k:<12}{_fmt(v):>10}" for k, v in result["raw_powmod_ms"].items()]
    pre = result["precompute_ms"]
    lines.append(
        f"  (one-off comb tables: public {pre['public_comb_table']:.0f} ms, "
        f"owner CRT {pre['owner_crt_comb_tables']:.0f} ms)"
    )
    lines += ["", "targets (issue 3):"]
    for t in result["targets"]:
        mark = "met" if t["met"] else "MISSED"
        lines.append(f"  {t['description']:<52}{t['value']:>8.2f}  {t['target']:<7} {mark}")
    return "\n".join(lines)
