"""Exponentiation modulo n² (or p²) by precomputed tables: multi-exponentiation and fixed-base comb.

``multi_exp_rows(bases, E, m)`` returns y_j = Π_k bases[k]^(E[j][k]) mod m for every row j, with
signed exponents — the arithmetic under matvec and weighted sums. It is Straus' interleaving with
signed sliding windows (w-NAF): one running product per row that is squared once per exponent bit
(B = longest exponent in bits) and multiplied by precomputed powers of the bases, instead of B
squarings *per base* for separate powmods. Every exponent is rewritten with odd digits
|δ| < 2^(w−1) and at least w − 1 zeros between non-zero digits,

    e = Σ_i δ_i·2^(p_i),     b^e = Π_i (b^|δ_i| or (b^−1)^|δ_i|)^(2^(p_i)),

so a row costs B + t·B/(w + 1) multiplications (t = non-zero terms per row), with tables of the
odd powers b, b³, …, b^(2^(w−1) − 1) of each base and of its inverse (2^(w−2) each + one
inversion) built once and shared by all rows (matvec: every row uses the same c_k).

The rows run in C (``hefl.crypto._multiexp``, built with the package, linked to GMP) with the
GIL released: the tables and the running products are held in Montgomery form ã = a·R mod m and
multiplied as ã·b̃·R^−1, which needs no division by m. On a CPU with AVX-512 IFMA
(:data:`KERNEL` ``"avx512-ifma"``) a product is Gueron–Krasnov's almost-Montgomery
multiplication on 52-bit digits in vector registers, ≈ 1.3 µs at 4096 bits (n² of a 2048-bit
key); elsewhere (``"mpn"``) it is GMP's mpn_mul_n and a word-by-word REDC, ≈ 4.9 µs, against
≈ 7 µs for gmpy2's ``a * b % m`` in the Python loop the kernel replaced. Measured on the 2-core
reference machine (shared, loaded) for a block of 392 rows of 784 terms of 24–40 bits: 9.6–13 s
in Python, 7.5–8.2 s on mpn, 2.2 s on IFMA. A base that a row uses must be invertible modulo m
(a :class:`~hefl.errors.CryptoValueError` otherwise), as every ciphertext is; the modulus must be
odd (n², p², q² are).

A single row of non-negative exponents with few distinct values (Eq. 10's |D_i|) goes to
:func:`multi_exp_sorted` (buckets by value) when that is cheaper. ``multi_exp_rows`` picks the
window w with the lowest estimated count; :func:`multi_exp_cost` returns that count, so callers
can choose between algebraically equal forms of a product (e.g. the dense and the low-rank fused
update of :mod:`hefl.learning.paillier`) before doing any work.

Pippenger's bucket method (:func:`multi_exp_pippenger`) is the other classic: per row and per
c-bit window, each base is multiplied into the bucket of its digit and the buckets are summed by
a running product, so a row costs ⌈B/c⌉·(t + 2^(c+1)) + B multiplications and needs no table.
It wins when tables cannot be shared, i.e. few rows with very many terms. Every product hefl
runs shares its bases across ≥ d rows (matvec: the d ciphertexts of the model), so the tables'
cost is paid once for all rows and Straus' t·B/(w + 1) per row is below Pippenger's for every
shape hefl meets: measured at 2048 bits with 31-bit exponents and both in Python, Pippenger took
1.6× (d = 50) to 1.3× (d = 200) Straus' time (``hefl bench crypto`` reports the current ratio,
Straus now in C), so ``multi_exp_rows`` keeps Straus and Pippenger stays, in Python, as the
measured alternative.

Fixed-base comb (one base, many exponents): the table's row i holds (base^(2^(w·i)))^d for every
digit d < 2^w, so base^e = Π_i row_i[digit_i(e)] costs one multiplication per non-zero w-bit digit
of e and no squaring at all. :func:`fixed_base_powers` builds a table for one call and picks w by
cost (e.g. [[r_j]]^{x_jk} of Eq. 8, the multi-key scheme's blinds z̃^{−α_j});
:func:`cached_comb_table` keeps the table of a fixed base (the DJN element h of a key, see
:mod:`hefl.crypto.keys`) at the largest window :data:`COMB_WINDOW`, because it is built once and
then serves every encryption.

Everything is deterministic: the same inputs give the same residues, so anyone can recompute an
aggregate byte for byte.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import gmpy2
from gmpy2 import mpz

import hefl.crypto._multiexp as _multiexp
import hefl.crypto.pool as pool
from hefl.errors import CryptoValueError, ShapeMismatchError

__all__ = [
    "COMB_AFTER_USES",
    "COMB_WINDOW",
    "KERNEL",
    "WNAF_MAX_WINDOW",
    "CombTable",
    "build_fixed_base",
    "cached_comb_table",
    "comb_pow",
    "comb_table",
    "fixed_base_pow",
    "fixed_base_powers",
    "multi_exp_cost",
    "multi_exp_pippenger",
    "multi_exp_rows",
    "multi_exp_sorted",
    "powers_table",
]

#: The kernel of the row products on this CPU: ``"avx512-ifma"`` or ``"mpn"`` (module docstring).
KERNEL = "avx512-ifma" if _multiexp.VECTOR else "mpn"
#: A used base's set-up beyond its table (the inversion and the conversions to and from Montgomery
#: form), in multiplications: measured ≈ 50 µs per base at 4096 bits, ≈ 40 IFMA products or ≈ 10
#: mpn ones.
INVERSION_COST = 40 if _multiexp.VECTOR else 10

#: Largest window (bits per digit) of a comb table: rows of 2^8 entries. Tables of a fixed base
#: that are cached for a key use it outright (then the digits of an exponent are its bytes);
#: per-call tables choose w ≤ COMB_WINDOW by estimated cost.
COMB_WINDOW = 8
#: Largest w-NAF window: tables of 2^(w−2) odd powers per base and sign. Wide windows pay off
#: only when many rows share the tables (d = 784: w = 10 is 11 % fewer multiplications than
#: w = 8, for 2·784·256 table entries, ≈ 0.2 GB at 2048 bits, 0.26 GB in the IFMA kernel's
#: 52-bit digits); the cost model picks w per product.
WNAF_MAX_WINDOW = 10

#: A fixed-base comb table: ``table[i][d] = base^(d·2^(w·i)) mod m`` for d < 2^w (``[i][0] = 1``).
CombTable = tuple[tuple[mpz, ...], ...]


def powers_table(base: mpz, window: int, modulus: mpz) -> list[mpz]:
    """[base^0, base^1, …, base^(2^window − 1)] mod modulus."""
    table = [mpz(1), base % modulus]
    for _ in range(2, 1 << window):
        table.append(table[-1] * table[1] % modulus)
    return table


def _wnaf_cost(rows: int, t: float, exp_bits: int, bases: int, w: int) -> float:
    return rows * (exp_bits + t * exp_bits / (w + 1)) + bases * (
        2 * (1 << (w - 2)) + INVERSION_COST
    )


def multi_exp_cost(rows: int, terms_per_row: float, exp_bits: int, bases: int) -> float:
    """Estimated modular multiplications of ``multi_exp_rows`` for ``rows`` rows of
    ``terms_per_row`` non-zero signed exponents of ``exp_bits`` bits over ``bases`` bases, at the
    best w-NAF window, tables included: rows·(B + t·B/(w + 1)) + bases·(2·2^(w−2) + inversion)."""
    if rows == 0 or exp_bits == 0 or terms_per_row == 0:
        return 0.0
    return _wnaf_cost(
        rows, terms_per_row, exp_bits, bases, _wnaf_window(rows, terms_per_row, exp_bits, bases)
    )


def _wnaf_window(rows: int, terms_per_row: float, exp_bits: int, bases: int) -> int:
    """The w-NAF window in [2, WNAF_MAX_WINDOW] with the lowest estimated count."""
    return min(
        range(2, WNAF_MAX_WINDOW + 1),
        key=lambda w: _wnaf_cost(rows, terms_per_row, exp_bits, bases, w),
    )


def _exponent_rows(d: int, exponents: Sequence[Sequence[int]]) -> tuple[list[list[int]], int]:
    """The exponent rows as Python ints, each checked to have one exponent per base, and the
    largest exponent's bit length (0: every product is 1)."""
    rows = [[int(e) for e in row] for row in exponents]
    for row in rows:
        if len(row) != d:
            raise ShapeMismatchError(f"exponent row of length {len(row)} for {d} bases")
    return rows, max((abs(e).bit_length() for row in rows for e in row), default=0)


def multi_exp_rows(
    bases: Sequence[mpz],
    exponents: Sequence[Sequence[int]],
    modulus: mpz,
    *,
    workers: int | None = None,
) -> list[mpz]:
    """y_j = Π_k bases[k]^exponents[j][k] mod modulus (signed exponents; bases invertible).

    A product estimated at :data:`hefl.crypto.pool.PARALLEL_MIN_MULTIPLICATIONS` or more has its
    rows split over ``workers`` threads (:func:`hefl.crypto.pool.product_workers`; 1: the
    calling thread alone); the residues are the same either way."""
    d = len(bases)
    rows, exp_bits = _exponent_rows(d, exponents)
    if exp_bits == 0:
        return [mpz(1)] * len(rows)
    if len(rows) == 1 and min(rows[0]) >= 0:
        t_row = sum(1 for e in rows[0] if e)
        if _sorted_cost(rows[0]) < multi_exp_cost(1, t_row, exp_bits, t_row):
            return [multi_exp_sorted(bases, rows[0], modulus)]
    used = sum(1 for column in zip(*rows, strict=True) if any(column))
    t = sum(1 for row in rows for e in row if e) / len(rows)
    w = _wnaf_window(len(rows), t, exp_bits, used)
    threads = pool.product_workers(workers)
    if (
        threads > 1
        and len(rows) >= 2 * threads
        and _wnaf_cost(len(rows), t, exp_bits, used, w) >= pool.PARALLEL_MIN_MULTIPLICATIONS
    ):
        size = -(-len(rows) // threads)
        chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
        parts = pool.run_on_threads(
            [functools.partial(_straus_rows, bases, chunk, modulus, w) for chunk in chunks]
        )
        return [y for part in parts for y in part]
    return _straus_rows(bases, rows, modulus, w)


def _straus_rows(bases: Sequence[mpz], rows: list[list[int]], modulus: mpz, w: int) -> list[mpz]:
    """The rows' products by the C kernel (``_multiexp.wnaf_rows``, window w), as mpz."""
    if modulus < 3 or modulus % 2 == 0:
        raise CryptoValueError(f"multi-exponentiation needs an odd modulus > 1, got {modulus}")
    try:
        products = _multiexp.wnaf_rows(bases, rows, modulus, w)
    except ZeroDivisionError as exc:  # a used base shares a factor with the modulus
        raise CryptoValueError(f"multi-exponentiation: {exc}") from exc
    return [mpz(y) for y in products]


def _sorted_cost(exponents: Sequence[int]) -> float:
    values = sorted({e for e in exponents if e})
    gaps = [b - a for a, b in zip([0, *values], values, strict=False)]
    return sum(1 for e in exponents if e) + len(values) + sum(1.5 * g.bit_length() for g in gaps)


def multi_exp_sorted(bases: Sequence[mpz], exponents: Sequence[int], modulus: mpz) -> mpz:
    """Π_k bases[k]^exponents[k] mod modulus for one row of non-negative exponents with few
    distinct values — Eq. 10's Π_i [[w_i]]^{|D_i|}, where the |D_i| repeat across participants.

    Bucket by exponent value: B_v = Π_{k: e_k = v} bases[k]; with the distinct values
    v_1 < … < v_m and suffix products S_j = Π_{l ≥ j} B_{v_l},

        Π_v B_v^v = Π_j S_j^(v_j − v_(j−1))     (v_0 = 0),

    so a row costs one multiplication per term, m for the suffixes and m small powmods of the
    gaps — e.g. N + 2 multiplications and one powmod when every participant holds as many
    samples (vs N·B/(w+1) plus tables for Straus). ``multi_exp_rows`` uses it for a single row
    whenever its estimated count is lower; the residue is the same either way.
    """
    buckets: dict[int, mpz] = {}
    for base, e in zip(bases, exponents, strict=True):
        if e < 0:
            raise CryptoValueError("multi_exp_sorted takes non-negative exponents")
        if e:
            held = buckets.get(e)
            buckets[e] = mpz(base) % modulus if held is None else held * base % modulus
    acc = mpz(1)
    suffix: mpz | None = None
    previous = 0
    steps: list[tuple[mpz, int]] = []
    for value in sorted(buckets, reverse=True):
        suffix = buckets[value] if suffix is None else suffix * buckets[value] % modulus
        steps.append((suffix, value))
    for suffix_j, value in reversed(steps):  # ascending values: S_j^(v_j − v_(j−1))
        acc = acc * gmpy2.powmod(suffix_j, value - previous, modulus) % modulus
        previous = value
    return acc


def multi_exp_pippenger(
    bases: Sequence[mpz], exponents: Sequence[Sequence[int]], modulus: mpz, window: int = 0
) -> list[mpz]:
    """The same y_j as :func:`multi_exp_rows` by Pippenger's bucket method (signed exponents).

    For each c-bit window from the top: square the row's accumulator c times, drop every base
    (its inverse for a negative exponent) into the bucket of its digit, and add Σ_d d·bucket_d
    with two running products (2·2^c multiplications). ``window`` 0 picks c minimising
    ⌈B/c⌉·(t + 2^(c+1)). Kept as the measured alternative to Straus (module docstring).
    """
    d = len(bases)
    rows, exp_bits = _exponent_rows(d, exponents)
    if exp_bits == 0:
        return [mpz(1)] * len(rows)
    inverses: dict[int, mpz] = {}
    if window <= 0:
        t = max(1, max(sum(1 for e in row if e) for row in rows))
        window = min(
            range(1, 13), key=lambda c: -(-exp_bits // c) * (t + (1 << (c + 1))) + exp_bits
        )
    mask = (1 << window) - 1
    n_windows = -(-exp_bits // window)
    out: list[mpz] = []
    for row in rows:
        terms: list[tuple[mpz, int]] = []
        for k, e in enumerate(row):
            if e > 0:
                terms.append((bases[k], e))
            elif e < 0:
                if k not in inverses:
                    inverses[k] = gmpy2.invert(bases[k], modulus)
                terms.append((inverses[k], -e))
        acc = mpz(1)
        for i in range(n_windows - 1, -1, -1):
            for _ in range(window):
                acc = acc * acc % modulus
            shift = i * window
            buckets: dict[int, mpz] = {}
            for base, a in terms:
                digit = (a >> shift) & mask
                if digit:
                    held = buckets.get(digit)
                    buckets[digit] = base if held is None else held * base % modulus
            if not buckets:
                continue
            running: mpz | None = None  # Σ_d d·B_d = Σ_d (Π_{d' ≥ d} B_d')
            total: mpz | None = None
            for digit in range(max(buckets), 0, -1):
                bucket = buckets.get(digit)
                if bucket is not None:
                    running = bucket if running is None else running * bucket % modulus
                if running is not None:
                    total = running if total is None else total * running % modulus
            acc = acc * total % modulus
        out.append(acc)
    return out


#: Cost of one modular multiplication inside GMP's powmod relative to one at Python level
#: (measured ≈ 3.8 µs vs ≈ 4.9 µs at 4096 bits); used to decide between comb and powmod.
POWMOD_STEP_RELATIVE_COST = 0.8


def comb_table(base: mpz, modulus: mpz, exp_bits: int, window: int = COMB_WINDOW) -> CombTable:
    """The comb table of ``base`` for exponents below 2^exp_bits: ⌈exp_bits/w⌉ rows of 2^w powers.

    Row i is ``powers_table(base^(2^(w·i)), w)``; the next row's base is the last entry times the
    current base, so the table costs R·(2^w − 1) multiplications for R rows.
    """
    if not 1 <= window <= COMB_WINDOW:
        raise CryptoValueError(f"comb window must lie in [1, {COMB_WINDOW}], got {window}")
    rows: list[tuple[mpz, ...]] = []
    g = mpz(base) % modulus
    for _ in range(max(1, -(-exp_bits // window))):
        row = powers_table(g, window, modulus)
        rows.append(tuple(row))
        g = row[-1] * g % modulus  # base^(2^(w·(i + 1))): the next row's base
    return tuple(rows)


@functools.lru_cache(maxsize=8)
def cached_comb_table(base: mpz, modulus: mpz, exp_bits: int) -> CombTable:
    """:func:`comb_table` at window :data:`COMB_WINDOW`, kept for the last eight (base, modulus).

    For fixed bases such as a key's DJN element h: built once (≈0.1 s at 2048 bits), then every
    exponent costs ⌈exp_bits/8⌉ multiplications at most.
    """
    return comb_table(base, modulus, exp_bits, COMB_WINDOW)


#: Exponentiations of one fixed base before its comb table is built (:func:`fixed_base_pow`).
#: The table costs ⌈B/8⌉·255 multiplications (≈ 0.1 s for the 448-bit DJN exponent at 2048
#: bits), a comb exponentiation ⌈B/8⌉ and a powmod ≈ 1.2·B, so the table pays for itself after
#: ≈ 60 exponentiations: an agent that encrypts a few dozen values (a participant at small d,
#: over a short job) never builds it, a party encrypting a model of hundreds does at once.
COMB_AFTER_USES = 64
_fixed_uses: dict[tuple[mpz, mpz, int], int] = {}


def fixed_base_pow(base: mpz, exponent: int, modulus: mpz, exp_bits: int) -> mpz:
    """base^exponent mod modulus (0 ≤ exponent < 2^exp_bits) for a base used again and again:
    by powmod for its first :data:`COMB_AFTER_USES` exponentiations in this process, then from
    its cached comb table (:func:`cached_comb_table`). The same residue either way."""
    key = (base, modulus, exp_bits)
    uses = _fixed_uses.get(key, 0)
    if uses < COMB_AFTER_USES:
        _fixed_uses[key] = uses + 1
        return gmpy2.powmod(base, exponent, modulus)
    return comb_pow(cached_comb_table(base, modulus, exp_bits), exponent, modulus)


def build_fixed_base(base: mpz, modulus: mpz, exp_bits: int) -> None:
    """Build ``base``'s comb table now; :func:`fixed_base_pow` uses it from the next call."""
    cached_comb_table(base, modulus, exp_bits)
    _fixed_uses[(base, modulus, exp_bits)] = COMB_AFTER_USES


def comb_pow(table: CombTable, exponent: int, modulus: mpz) -> mpz:
    """base^exponent mod modulus from ``table``, for 0 ≤ exponent < 2^(w·rows).

    One multiplication per non-zero w-bit digit of the exponent, no squarings.
    """
    window = len(table[0]).bit_length() - 1
    e = int(exponent)
    if not 0 <= e < 1 << (window * len(table)):
        raise CryptoValueError(
            f"exponent of {e.bit_length()} bits is outside the comb table's "
            f"{window * len(table)} bits (or negative)"
        )
    if window == 8:  # digits are the bytes of e: let int.to_bytes cut them
        digits: Sequence[int] = e.to_bytes(len(table), "little")
    else:
        mask = (1 << window) - 1
        digits = [(e >> (window * i)) & mask for i in range(len(table))]
    acc: mpz | None = None
    for row, d in zip(table, digits, strict=True):
        if d:
            acc = row[d] if acc is None else acc * row[d] % modulus
    return mpz(1) if acc is None else acc


def fixed_base_powers(
    base: mpz, exponents: Sequence[int], modulus: mpz, exp_bits: int | None = None
) -> list[mpz]:
    """[base^e mod modulus for e in exponents] (signed e) sharing one comb table.

    ``exp_bits`` bounds |e| (default: the longest exponent given). With window w and R = ⌈B/w⌉
    rows the table costs R·(2^w − 1) multiplications; each exponent then costs one
    multiplication per non-zero digit and no squarings (a negative exponent also costs one
    inversion). The w with the lowest estimated count is used, or separate powmods (≈1.2·B steps
    each) when they are cheaper, e.g. for a single exponent.
    """
    es = [int(e) for e in exponents]
    longest = max((abs(e).bit_length() for e in es), default=0)
    if exp_bits is not None and longest > exp_bits:
        raise CryptoValueError(f"an exponent of {longest} bits exceeds the bound of {exp_bits}")
    bits = longest if exp_bits is None else exp_bits
    count = sum(1 for e in es if e)
    if longest == 0:
        return [mpz(1)] * len(es)
    best_w, best_cost = 0, count * 1.2 * bits * POWMOD_STEP_RELATIVE_COST
    for w in range(2, COMB_WINDOW + 1):
        rows = -(-bits // w)
        cost = rows * ((1 << w) - 1) + count * rows * (1 - 2.0**-w)
        if cost < best_cost:
            best_w, best_cost = w, cost
    if best_w == 0:
        return [gmpy2.powmod(base, e, modulus) for e in es]
    table = comb_table(base, modulus, bits, best_w)
    out: list[mpz] = []
    for e in es:
        res = comb_pow(table, abs(e), modulus)
        out.append(gmpy2.invert(res, modulus) if e < 0 else res)
    return out
