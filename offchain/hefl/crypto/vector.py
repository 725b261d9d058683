"""Encrypted fixed-point vectors with a tracked scale and a rigorous magnitude bound.

An :class:`EncryptedVector` holds Paillier ciphertexts c_k = E(x_k mod n) of integers x_k, a scale
exponent f (the real value is v_k = x_k / 2^f) and a public bound B with |x_k| ≤ B for every k.
B and f are functions of public data only (the operations and their plaintext operands), so
whoever replays the operations recomputes them. The safe band is |x| ≤ max_int = n//3 − 1 (phe's):
before doing any work, each operation computes the bound of its result and raises
:class:`~hefl.errors.EncodingOverflowError` — naming the operation, the bits needed and the bits
available — if it would exceed max_int. Results therefore never wrap around modulo n.

Operations (g = 1 + n, all mod n², all deterministic — no re-randomisation, so equal inputs give
byte-identical outputs; call :meth:`EncryptedVector.rerandomize` explicitly when unlinkability is
wanted):

- a + b (scales aligned first): c_a · c_b; scale f; bound B_a + B_b.
- a − b: c_a · c_b^(−1); scale f; bound B_a + B_b.
- align to f' > f: c^(2^(f'−f)); scale f'; bound B · 2^(f'−f).
- add_plain(v): c · (1 + n·X), X = round(v·2^f); scale f; bound B + max|X|.
- mul_int(k): c^k; scale f; bound B · max|k|.
- mul_fixed(s, p): c^K, K = round(s·2^p); scale f + p; bound B · max|K|.
- scale_by_pow2(e) (value · 2^e): ciphertexts unchanged while f ≥ e (only f − e); bound B.
- matvec(M, a, p), y_j = Σ_k M_jk a_k: Π_k c_k^K_jk, K = round(M·2^p); scale f + p;
  bound B · max_j Σ_k |K_jk|.
- weighted_sum(a_i, w_i, p) (Eq. 10): Π_i c_i^W_i, W = round(w·2^p); scale f + p;
  bound Σ_i |W_i| · B_i.

Eq. 10 of the paper, [[w]] = (Π_i [[w_i]]^|D_i|)^(1/|D|), is ``weighted_sum(ws, |D_i|/|D|, p)``
(one multi-exponentiation with p-bit weights), or exactly ``weighted_sum_int(ws, |D_i|)``
followed by ``mul_fixed(1/|D|, p)``.

Broadcasting: a length-1 vector combines with a length-d operand elementwise (e.g. the scalar
ciphertext [[wᵀx]] times the plaintext vector x in Eq. 8).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import gmpy2
import numpy as np
from gmpy2 import mpz

from hefl.canonical import keccak256
from hefl.crypto.encoding import decode_residue, encode_array, encode_residue, to_float
from hefl.crypto.interop import numbers_from_phe, phe_numbers, phe_scale_bits
from hefl.crypto.keys import PrivateKey, PublicKey, Randomizer
from hefl.crypto.multiexp import fixed_base_powers, multi_exp_rows
from hefl.crypto.serialize import decode_vector, encode_vector
from hefl.errors import (
    CryptoValueError,
    EncodingOverflowError,
    KeyMismatchError,
    ShapeMismatchError,
)

__all__ = [
    "DEFAULT_SCALE_BITS",
    "REPACK_MIN_SLOTS",
    "EncryptedVector",
    "ShapeMismatchError",  # defined in hefl.errors, re-exported for old imports
    "check_pack_layout",
    "decrypt_int_vectors",
    "decrypt_repacked",
    "decrypt_vectors",
    "encrypt",
    "matvec",
    "matvec_int",
    "matvec_stack",
    "pack_slot_bits",
    "pack_slots_per_ciphertext",
    "pack_vector",
    "repack_layout",
    "unpack_ints",
    "weighted_sum",
    "weighted_sum_int",
    "worth_repacking",
]

#: Default fixed-point scale exponent for fresh encryptions (value resolution 2^-32).
DEFAULT_SCALE_BITS = 32

ArrayLike = Sequence[float] | np.ndarray | float | int


def _bits(x: int) -> str:
    return f"{math.log2(x):.2f}" if x > 0 else "0"


#: An overflow within this many bits of the band suggests an operand that claimed the whole band.
_FULL_BAND_HINT_BITS = 64


def _check_bound(public_key: PublicKey, op: str, bound: int) -> int:
    """Return ``bound`` if it fits the safe band, else raise EncodingOverflowError."""
    if bound > public_key.max_int:
        hint = ""
        if bound <= public_key.max_int << _FULL_BAND_HINT_BITS:
            hint = (
                "; an operand that claims the whole band has no headroom — a vector from "
                "EncryptedVector.from_phe(...) without bound= does: pass bound= (the largest "
                "|integer| it encodes)"
            )
        raise EncodingOverflowError(
            f"{op}: the result needs {_bits(bound)} bits of magnitude (log2 of its bound) but a "
            f"{public_key.bits}-bit key has {_bits(public_key.max_int)} bits available "
            "(|x| ≤ n/3 − 1); lower the precision bits or scale, or decrypt and "
            f"re-encrypt to reset the scale{hint}"
        )
    return bound


def _as_1d(values: ArrayLike, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=object if _is_big_int_input(values) else None)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ShapeMismatchError(f"{what} must be a scalar or a 1-D array, got shape {arr.shape}")
    return arr


def _is_big_int_input(values: Any) -> bool:
    if isinstance(values, int):
        return True
    return isinstance(values, list | tuple) and any(isinstance(v, int) for v in values)


def _int_list(values: ArrayLike, what: str) -> list[int]:
    arr = _as_1d(values, what)
    out: list[int] = []
    for v in arr.tolist():
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            if isinstance(v, float) and v.is_integer():
                out.append(int(v))
                continue
            raise CryptoValueError(f"{what} must hold integers, got {v!r}; use mul_fixed for reals")
        out.append(int(v))
    return out


class EncryptedVector:
    """Paillier-encrypted fixed-point vector; see the module docstring for the algebra."""

    __slots__ = ("_c", "bound", "public_key", "scale_bits")

    def __init__(
        self,
        public_key: PublicKey,
        ciphertexts: Iterable[int],
        scale_bits: int,
        bound: int,
    ) -> None:
        self.public_key = public_key
        self._c: tuple[mpz, ...] = tuple(mpz(c) for c in ciphertexts)
        if not isinstance(scale_bits, int | np.integer) or scale_bits < 0:
            raise CryptoValueError(f"scale exponent must be an integer ≥ 0, got {scale_bits!r}")
        self.scale_bits = int(scale_bits)
        self.bound = _check_bound(public_key, "EncryptedVector", int(bound))
        if self.bound < 0:
            raise CryptoValueError(f"bound must be ≥ 0, got {bound}")

    # --- construction ----------------------------------------------------------------------------
    @classmethod
    def encrypt(
        cls,
        key: PublicKey | PrivateKey,
        values: ArrayLike,
        scale_bits: int = DEFAULT_SCALE_BITS,
        *,
        value_bound: float | None = None,
        randomizer: Randomizer = "djn",
    ) -> EncryptedVector:
        """Encrypt real values at scale 2^-scale_bits: x_k = round(v_k · 2^scale_bits).

        The public bound is ``round(value_bound·2^f)`` if ``value_bound`` is given (then every
        |v_k| must be ≤ value_bound), else the smallest 2^b − 1 ≥ max|x_k|, so the header reveals
        at most the bit length of the largest value. A :class:`PrivateKey` encrypts by CRT.
        """
        ints = encode_array(_as_1d(values, "values"), scale_bits)
        return cls.encrypt_ints(
            key,
            ints,
            scale_bits,
            bound=_fresh_bound(ints, scale_bits, value_bound),
            randomizer=randomizer,
        )

    @classmethod
    def encrypt_ints(
        cls,
        key: PublicKey | PrivateKey,
        ints: Iterable[int],
        scale_bits: int = 0,
        *,
        bound: int | None = None,
        randomizer: Randomizer = "djn",
    ) -> EncryptedVector:
        """Encrypt exact integers x_k (value x_k / 2^scale_bits); bound defaults to 2^b − 1."""
        pk = key.public_key if isinstance(key, PrivateKey) else key
        xs = [int(x) for x in ints]
        b = _fresh_bound(xs, scale_bits, None) if bound is None else int(bound)
        if any(abs(x) > b for x in xs):
            raise EncodingOverflowError(f"encrypt: a value exceeds the declared bound {b}")
        _check_bound(pk, "encrypt", b)
        residues = [encode_residue(x, pk.n) for x in xs]
        return cls(pk, key.encrypt_ints(residues, randomizer=randomizer), scale_bits, b)

    @classmethod
    def from_bytes(cls, data: bytes, public_key: PublicKey) -> EncryptedVector:
        """Parse the canonical form (see :mod:`hefl.crypto.serialize`), validating everything."""
        cts, scale_bits, bound = decode_vector(data, public_key)
        return cls(public_key, cts, scale_bits, bound)

    @classmethod
    def concat(cls, vectors: Sequence[EncryptedVector]) -> EncryptedVector:
        """Concatenate vectors of one key (scales aligned to the largest)."""
        if not vectors:
            raise ShapeMismatchError("concat needs at least one vector")
        aligned = _align_all(vectors, "concat")
        cts = [c for v in aligned for c in v._c]
        return cls(vectors[0].public_key, cts, aligned[0].scale_bits, max(v.bound for v in aligned))

    # --- basic protocol --------------------------------------------------------------------------
    @property
    def ciphertexts(self) -> tuple[mpz, ...]:
        return self._c

    def __len__(self) -> int:
        return len(self._c)

    def __getitem__(self, index: int | slice) -> EncryptedVector:
        cts = self._c[index] if isinstance(index, slice) else (self._c[index],)
        return EncryptedVector(self.public_key, cts, self.scale_bits, self.bound)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, EncryptedVector)
            and self.public_key == other.public_key
            and self.scale_bits == other.scale_bits
            and self.bound == other.bound
            and self._c == other._c
        )

    def __hash__(self) -> int:
        return hash(self.hash())

    def __repr__(self) -> str:
        return (
            f"EncryptedVector(len={len(self)}, scale=2^-{self.scale_bits}, "
            f"bound≈2^{_bits(self.bound)}, key={self.public_key.fingerprint_hex[:10]}…)"
        )

    @property
    def headroom_bits(self) -> float:
        """log2(max_int / bound): how many more bits of growth the safe band allows."""
        return math.log2(self.public_key.max_int) - math.log2(max(self.bound, 1))

    # --- serialisation ---------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Canonical bytes (fixed header + fixed-width big-endian ciphertexts)."""
        return encode_vector(self.public_key, self._c, self.scale_bits, self.bound)

    def hash(self) -> bytes:
        """keccak256 of :meth:`to_bytes` (32 bytes) — what the ledger records."""
        return keccak256(self.to_bytes())

    def hash_hex(self) -> str:
        return "0x" + self.hash().hex()

    # --- helpers ---------------------------------------------------------------------------------
    def _same_key(self, other: EncryptedVector, op: str) -> None:
        if self.public_key != other.public_key:
            raise KeyMismatchError(
                f"{op}: operands are encrypted under different keys "
                f"({self.public_key.fingerprint_hex[:10]}… vs "
                f"{other.public_key.fingerprint_hex[:10]}…)"
            )

    def _new(self, cts: Iterable[mpz], scale_bits: int, bound: int) -> EncryptedVector:
        return EncryptedVector(self.public_key, cts, scale_bits, bound)

    def _broadcast_len(self, other_len: int, op: str) -> int:
        if len(self) == other_len or other_len == 1:
            return len(self)
        if len(self) == 1:
            return other_len
        raise ShapeMismatchError(f"{op}: lengths {len(self)} and {other_len} do not broadcast")

    def align_to(self, scale_bits: int) -> EncryptedVector:
        """Raise the scale exponent to ``scale_bits`` ≥ f: c ↦ c^(2^Δ), bound ↦ bound·2^Δ."""
        delta = scale_bits - self.scale_bits
        if delta < 0:
            raise CryptoValueError(
                f"align_to: cannot lower the scale from {self.scale_bits} to {scale_bits} "
                "homomorphically (no division); decrypt and re-encrypt instead"
            )
        if delta == 0:
            return self
        bound = _check_bound(self.public_key, f"align scale +{delta} bits", self.bound << delta)
        nsq, e = self.public_key.nsquare, mpz(1) << delta
        return self._new((gmpy2.powmod(c, e, nsq) for c in self._c), scale_bits, bound)

    def scale_by_pow2(self, exponent: int) -> EncryptedVector:
        """Multiply the *value* by 2^exponent; free when it only moves f (f − exponent ≥ 0)."""
        new_f = self.scale_bits - int(exponent)
        if new_f >= 0:
            return self._new(self._c, new_f, self.bound)
        return self._new(self._c, 0, self.bound).align_to(-new_f)._relabel(0)

    def _relabel(self, scale_bits: int) -> EncryptedVector:
        return self._new(self._c, scale_bits, self.bound)

    # --- additive operations ---------------------------------------------------------------------
    def __add__(self, other: EncryptedVector | ArrayLike) -> EncryptedVector:
        if isinstance(other, EncryptedVector):
            return self._combine(other, subtract=False)
        return self.add_plain(other)

    def __radd__(self, other: ArrayLike) -> EncryptedVector:
        if isinstance(other, int) and other == 0:  # support sum()
            return self
        return self.add_plain(other)

    def __sub__(self, other: EncryptedVector | ArrayLike) -> EncryptedVector:
        if isinstance(other, EncryptedVector):
            return self._combine(other, subtract=True)
        return self.add_plain(-_as_1d(other, "operand"))

    def __rsub__(self, other: ArrayLike) -> EncryptedVector:
        return (-self).add_plain(other)

    def __neg__(self) -> EncryptedVector:
        nsq = self.public_key.nsquare
        return self._new((gmpy2.invert(c, nsq) for c in self._c), self.scale_bits, self.bound)

    def _combine(self, other: EncryptedVector, *, subtract: bool) -> EncryptedVector:
        op = "subtract" if subtract else "add"
        self._same_key(other, op)
        length = self._broadcast_len(len(other), op)
        f = max(self.scale_bits, other.scale_bits)
        pk = self.public_key
        # check the whole budget before any powmod
        bound_a = _check_bound(pk, f"{op} (align)", self.bound << (f - self.scale_bits))
        bound_b = _check_bound(pk, f"{op} (align)", other.bound << (f - other.scale_bits))
        bound = _check_bound(pk, op, bound_a + bound_b)
        a, b = self.align_to(f), other.align_to(f)
        nsq = pk.nsquare
        cb = [gmpy2.invert(c, nsq) for c in b._c] if subtract else list(b._c)
        ca = list(a._c)
        if len(ca) == 1:
            ca = ca * length
        if len(cb) == 1:
            cb = cb * length
        return self._new((x * y % nsq for x, y in zip(ca, cb, strict=True)), f, bound)

    def add_plain(self, values: ArrayLike) -> EncryptedVector:
        """Add plaintext reals encoded at this vector's scale: c · g^round(v·2^f)."""
        ints = encode_array(_as_1d(values, "add_plain operand"), self.scale_bits)
        return self._add_plain_ints(ints, "add_plain")

    def add_plain_ints(self, ints: ArrayLike) -> EncryptedVector:
        """Add exact integers (already at this vector's scale) to the encoded integers."""
        return self._add_plain_ints(_int_list(ints, "add_plain_ints operand"), "add_plain_ints")

    def _add_plain_ints(self, ints: list[int], op: str) -> EncryptedVector:
        length = self._broadcast_len(len(ints), op)
        pk = self.public_key
        bound = _check_bound(pk, op, self.bound + max((abs(x) for x in ints), default=0))
        if len(ints) == 1:
            ints = ints * length
        cts = list(self._c) * length if len(self) == 1 else list(self._c)
        n, nsq = pk.n, pk.nsquare
        out = [(c + n * (mpz(x % n) * c % n)) % nsq for c, x in zip(cts, ints, strict=True)]
        return self._new(out, self.scale_bits, bound)

    # --- multiplicative operations ---------------------------------------------------------------
    def mul_int(self, k: ArrayLike) -> EncryptedVector:
        """Multiply by integers (scalar or per element): c^k; scale unchanged."""
        return self._mul_ints(_int_list(k, "mul_int factor"), self.scale_bits, "mul_int")

    def mul_fixed(self, s: ArrayLike, precision_bits: int) -> EncryptedVector:
        """Multiply by reals encoded as K = round(s·2^p): c^K; scale grows by p."""
        if precision_bits < 0:
            raise CryptoValueError(f"precision_bits must be ≥ 0, got {precision_bits}")
        ks = encode_array(_as_1d(s, "mul_fixed factor"), precision_bits)
        return self._mul_ints(
            ks, self.scale_bits + precision_bits, f"mul_fixed(p={precision_bits})"
        )

    def __mul__(self, k: int) -> EncryptedVector:
        if isinstance(k, int | np.integer) and not isinstance(k, bool):
            return self.mul_int(int(k))
        return NotImplemented

    __rmul__ = __mul__

    def _mul_ints(self, ks: list[int], scale_bits: int, op: str) -> EncryptedVector:
        length = self._broadcast_len(len(ks), op)
        pk = self.public_key
        bound = _check_bound(pk, op, self.bound * max((abs(k) for k in ks), default=0))
        nsq = pk.nsquare
        if len(self) == 1 and length > 1:
            out = fixed_base_powers(self._c[0], ks, nsq)
        else:
            if len(ks) == 1:
                ks = ks * length
            out = [gmpy2.powmod(c, k, nsq) for c, k in zip(self._c, ks, strict=True)]
        return self._new(out, scale_bits, bound)

    def sum(self) -> EncryptedVector:
        """Σ_k x_k as a length-1 vector: Π_k c_k; bound·len."""
        pk = self.public_key
        bound = _check_bound(pk, "sum", self.bound * len(self))
        acc = mpz(1)
        for c in self._c:
            acc = acc * c % pk.nsquare
        return self._new([acc], self.scale_bits, bound)

    def dot(self, plain: ArrayLike, precision_bits: int) -> EncryptedVector:
        """Σ_k plain_k·x_k as a length-1 vector (a one-row :func:`matvec`)."""
        return matvec(np.asarray(plain, dtype=float).reshape(1, -1), self, precision_bits)

    # --- randomness and decryption ---------------------------------------------------------------
    def rerandomize(self, *, randomizer: Randomizer = "djn") -> EncryptedVector:
        """Multiply every ciphertext by a fresh encryption of 0 (same plaintexts, unlinkable)."""
        pk = self.public_key
        if randomizer == "djn":
            rs = [pk.randomizer_djn() for _ in self._c]
        else:
            rs = [pk.randomizer_full() for _ in self._c]
        return self._new(
            (c * r % pk.nsquare for c, r in zip(self._c, rs, strict=True)),
            self.scale_bits,
            self.bound,
        )

    def decrypt_ints(self, private_key: PrivateKey, *, workers: int | None = None) -> list[int]:
        """Exact signed integers x_k (value · 2^f); checks |x_k| ≤ bound."""
        return _decrypt_ints(private_key, [self], workers)[0]

    def decrypt(self, private_key: PrivateKey, *, workers: int | None = None) -> np.ndarray:
        """Decrypt to float64: x_k / 2^f, correctly rounded."""
        return decrypt_vectors(private_key, [self], workers=workers)[0]

    # --- phe interop -----------------------------------------------------------------------------
    def to_phe(self) -> list[Any]:
        """phe ``EncryptedNumber`` list (phe uses base 16: f is aligned up to a multiple of 4)."""
        v = self.align_to(phe_scale_bits(self.scale_bits))
        return phe_numbers(int(self.public_key.n), v._c, v.scale_bits)

    @classmethod
    def from_phe(
        cls, numbers: Sequence[Any], public_key: PublicKey, *, bound: int | None = None
    ) -> EncryptedVector:
        """Wrap phe ``EncryptedNumber`` s. Exponents are aligned to the smallest one (base 16).

        phe tracks no magnitude, so the bound defaults to max_int (no headroom) unless given:
        without ``bound=`` every later operation overflows (the error says to pass ``bound=``).
        """
        if not numbers:
            raise ShapeMismatchError("from_phe needs at least one number")
        cts, e_min = numbers_from_phe(numbers, int(public_key.n))
        b = public_key.max_int if bound is None else int(bound)
        v = cls(public_key, cts, 0, b)
        if e_min <= 0:
            return v._relabel(-4 * e_min)
        return v.mul_int(16**e_min)


# --- module-level operations ---------------------------------------------------------------------
def encrypt(
    key: PublicKey | PrivateKey,
    values: ArrayLike,
    scale_bits: int = DEFAULT_SCALE_BITS,
    *,
    value_bound: float | None = None,
    randomizer: Randomizer = "djn",
) -> EncryptedVector:
    """Shorthand for :meth:`EncryptedVector.encrypt`."""
    return EncryptedVector.encrypt(
        key, values, scale_bits, value_bound=value_bound, randomizer=randomizer
    )


def decrypt_vectors(
    private_key: PrivateKey, vectors: Sequence[EncryptedVector], *, workers: int | None = None
) -> list[np.ndarray]:
    """Decrypt several vectors as one batch (one round of parallel CRT halves for all)."""
    return [
        np.array([to_float(x, v.scale_bits) for x in xs], dtype=np.float64)
        for v, xs in zip(vectors, _decrypt_ints(private_key, vectors, workers), strict=True)
    ]


def _beyond_bound(index: int, x: int, bound: int) -> EncodingOverflowError:
    """A decrypted element above its vector's declared bound: the vector is inconsistent."""
    return EncodingOverflowError(
        f"decrypt: element {index} has {abs(x).bit_length()} bits, above the declared bound of "
        f"{bound.bit_length()} bits; the vector is inconsistent (forged header or foreign "
        "ciphertext)"
    )


def _decrypt_ints(
    private_key: PrivateKey, vectors: Sequence[EncryptedVector], workers: int | None
) -> list[list[int]]:
    """The decode loop: one batch decryption for all vectors, then per vector the signed
    integers x_k checked against the vector's declared bound. When every bound is below p/2 the
    batch runs the p-half of CRT only (:meth:`PrivateKey.decrypt_small`, half the work; an
    out-of-bound plaintext then escapes the check with probability ≈ 2·bound/p), else the full
    CRT with the middle band refused."""
    for v in vectors:
        if v.public_key != private_key.public_key:
            raise KeyMismatchError("decrypt: the private key does not match the vector's key")
    flat = [c for v in vectors for c in v.ciphertexts]
    n = int(private_key.public_key.n)
    if all(private_key.small_bound_fits(v.bound) for v in vectors):
        signed = private_key.decrypt_small(flat, workers=workers)  # the p-half of CRT only
    else:
        residues = private_key.decrypt_ints(flat, workers=workers)
        signed = [decode_residue(int(r), n) for r in residues]
    out: list[list[int]] = []
    offset = 0
    for v in vectors:
        xs = signed[offset : offset + len(v)]
        offset += len(v)
        for i, x in enumerate(xs):
            if abs(x) > v.bound:
                raise _beyond_bound(i, x, v.bound)
        out.append(xs)
    return out


def matvec(matrix: np.ndarray, vector: EncryptedVector, precision_bits: int) -> EncryptedVector:
    """Plaintext real matrix M (m×d) times encrypted vector: y_j = Π_k c_k^K_jk, K = round(M·2^p).

    Scale f + p; bound B·max_j Σ_k |K_jk|. One Straus multi-exponentiation per row with power
    tables shared by all rows (:mod:`hefl.crypto.multiexp`).
    """
    m = np.asarray(matrix)
    if m.ndim != 2 or m.shape[1] != len(vector):
        raise ShapeMismatchError(
            f"matvec: matrix of shape {m.shape} cannot multiply a vector of length {len(vector)}"
        )
    if precision_bits < 0:
        raise CryptoValueError(f"precision_bits must be ≥ 0, got {precision_bits}")
    k_rows = [encode_array(row, precision_bits) for row in m]
    return _matvec_ints(
        k_rows, vector, vector.scale_bits + precision_bits, f"matvec(p={precision_bits})"
    )


def matvec_stack(
    matrices: Sequence[np.ndarray], vector: EncryptedVector, precision_bits: Sequence[int]
) -> list[EncryptedVector]:
    """Several plaintext matrices times one encrypted vector, sharing one set of power tables.

    ``matvec_stack([M_1, …], a, [p_1, …])[i] == matvec(M_i, a, p_i)`` byte for byte: the rows of
    every M_i are one Straus multi-exponentiation over the same bases, so the tables of the c_k
    are built once for all of them (and their window is chosen for the total row count).
    """
    if len(matrices) != len(precision_bits):
        raise ShapeMismatchError(
            f"matvec_stack: {len(matrices)} matrices for {len(precision_bits)} precisions"
        )
    blocks: list[list[list[int]]] = []
    for matrix, p in zip(matrices, precision_bits, strict=True):
        m = np.asarray(matrix)
        if m.ndim != 2 or m.shape[1] != len(vector):
            raise ShapeMismatchError(
                f"matvec: matrix of shape {m.shape} cannot multiply a vector of length "
                f"{len(vector)}"
            )
        if p < 0:
            raise CryptoValueError(f"precision_bits must be ≥ 0, got {p}")
        blocks.append([encode_array(row, p) for row in m])
    pk = vector.public_key
    bounds = [
        _check_bound(
            pk,
            f"matvec(p={p})",
            vector.bound * max((sum(abs(k) for k in row) for row in rows), default=0),
        )
        for rows, p in zip(blocks, precision_bits, strict=True)
    ]
    flat = multi_exp_rows(vector.ciphertexts, [row for rows in blocks for row in rows], pk.nsquare)
    out: list[EncryptedVector] = []
    offset = 0
    for rows, p, bound in zip(blocks, precision_bits, bounds, strict=True):
        out.append(
            EncryptedVector(pk, flat[offset : offset + len(rows)], vector.scale_bits + p, bound)
        )
        offset += len(rows)
    return out


def matvec_int(
    matrix: np.ndarray | Sequence[Sequence[int]], vector: EncryptedVector
) -> EncryptedVector:
    """Exact integer matrix times encrypted vector (scale unchanged)."""
    rows = [_int_list(row, "matvec_int row") for row in matrix]
    if any(len(r) != len(vector) for r in rows):
        raise ShapeMismatchError(f"matvec_int: rows must have length {len(vector)}")
    return _matvec_ints(rows, vector, vector.scale_bits, "matvec_int")


def _matvec_ints(
    rows: list[list[int]], vector: EncryptedVector, scale_bits: int, op: str
) -> EncryptedVector:
    pk = vector.public_key
    growth = max((sum(abs(k) for k in row) for row in rows), default=0)
    bound = _check_bound(pk, op, vector.bound * growth)
    out = multi_exp_rows(vector.ciphertexts, rows, pk.nsquare)
    return EncryptedVector(pk, out, scale_bits, bound)


def weighted_sum(
    vectors: Sequence[EncryptedVector], weights: ArrayLike, precision_bits: int
) -> EncryptedVector:
    """Σ_i w_i·a_i with real weights (Eq. 10): Π_i c_i^W_i, W_i = round(w_i·2^p).

    Scales are first aligned to the largest f; result scale f + p, bound Σ_i |W_i|·B_i.
    """
    if precision_bits < 0:
        raise CryptoValueError(f"precision_bits must be ≥ 0, got {precision_bits}")
    ws = encode_array(_as_1d(weights, "weights"), precision_bits)
    return _weighted_sum_ints(vectors, ws, precision_bits, f"weighted_sum(p={precision_bits})")


def weighted_sum_int(vectors: Sequence[EncryptedVector], weights: ArrayLike) -> EncryptedVector:
    """Σ_i w_i·a_i with exact integer weights (e.g. |D_i|); scale = largest input scale."""
    return _weighted_sum_ints(vectors, _int_list(weights, "weights"), 0, "weighted_sum_int")


def _align_all(vectors: Sequence[EncryptedVector], op: str) -> list[EncryptedVector]:
    first = vectors[0]
    for v in vectors[1:]:
        first._same_key(v, op)
    f = max(v.scale_bits for v in vectors)
    for v in vectors:  # check every alignment before computing any
        _check_bound(first.public_key, f"{op} (align)", v.bound << (f - v.scale_bits))
    return [v.align_to(f) for v in vectors]


def _weighted_sum_ints(
    vectors: Sequence[EncryptedVector], ws: list[int], precision_bits: int, op: str
) -> EncryptedVector:
    if not vectors:
        raise ShapeMismatchError(f"{op}: needs at least one vector")
    if len(ws) != len(vectors):
        raise ShapeMismatchError(f"{op}: {len(ws)} weights for {len(vectors)} vectors")
    length = len(vectors[0])
    if any(len(v) != length for v in vectors):
        raise ShapeMismatchError(f"{op}: vectors of different lengths")
    pk = vectors[0].public_key
    f = max(v.scale_bits for v in vectors)
    for v in vectors:
        vectors[0]._same_key(v, op)
    bound = sum(abs(w) * (v.bound << (f - v.scale_bits)) for w, v in zip(ws, vectors, strict=True))
    _check_bound(pk, op, bound)
    aligned = _align_all(vectors, op)
    out: list[mpz] = []
    for k in range(length):
        out.extend(multi_exp_rows([v.ciphertexts[k] for v in aligned], [ws], pk.nsquare))
    return EncryptedVector(pk, out, f + precision_bits, bound)


def _fresh_bound(ints: Sequence[int], scale_bits: int, value_bound: float | None) -> int:
    if value_bound is not None:
        b = abs(encode_array([value_bound], scale_bits)[0])
        worst = max((abs(x) for x in ints), default=0)
        if worst > b:
            raise EncodingOverflowError(
                f"encrypt: a value of magnitude {worst / (1 << scale_bits):g} exceeds "
                f"value_bound={value_bound}"
            )
        return b
    worst = max((abs(x) for x in ints), default=0)
    return (1 << worst.bit_length()) - 1


# --- packing: several small values per ciphertext (issue 17) ------------------------------------
def pack_slot_bits(value_bound: int) -> int:
    """Bits of one slot holding x + B ∈ [0, 2B] for |x| ≤ B (at least 1)."""
    return max(1, (2 * int(value_bound)).bit_length())


def pack_slots_per_ciphertext(public_key: PublicKey, slot_bits: int) -> int:
    """k = ⌊(|max_int| − 1) / b⌋: k slots of b bits stay below 2^{k·b} ≤ max_int = n/3 − 1."""
    return (public_key.max_int.bit_length() - 1) // int(slot_bits)


def check_pack_layout(
    public_key: PublicKey, count: int, per_ciphertext: int, slot_bits: int, value_bound: int
) -> None:
    """Refuse a layout that cannot hold ``count`` values with |x| ≤ ``value_bound``.

    Exactly the layout :func:`pack_vector` builds is accepted: b = :func:`pack_slot_bits` (B)
    and k = :func:`pack_slots_per_ciphertext` (b), so k·b fits the safe band and every slot
    holds its value plus the offset. Raises :class:`~hefl.errors.EncodingOverflowError` otherwise.
    """
    if count < 1 or value_bound < 0:
        raise EncodingOverflowError(
            f"pack layout: {count} values with bound {value_bound}; need ≥ 1 value and bound ≥ 0"
        )
    want_bits = pack_slot_bits(value_bound)
    if slot_bits != want_bits:
        raise EncodingOverflowError(
            f"pack layout: slots of {slot_bits} bits for values of {int(value_bound).bit_length()}"
            f" bits (with the offset a slot takes {want_bits})"
        )
    want_k = pack_slots_per_ciphertext(public_key, slot_bits)
    if want_k < 1 or per_ciphertext != want_k:
        raise EncodingOverflowError(
            f"pack layout: {per_ciphertext} slots of {slot_bits} bits per ciphertext; a "
            f"{public_key.bits}-bit key holds {want_k}"
        )


def pack_vector(vector: EncryptedVector) -> tuple[EncryptedVector, int, int]:
    """Shift-and-add k values into one ciphertext: [[Σ_j (x_j + B)·2^{j·b}]].

    B is the vector's bound, b = :func:`pack_slot_bits` (B), k =
    :func:`pack_slots_per_ciphertext` (b). Per packed ciphertext, Horner from the top slot:
    acc ← acc^{2^b} · [[x_j + B]], (k − 1) powmods of b-bit exponents. The result has
    ⌈len/k⌉ ciphertexts, scale 0 and bound 2^{k·b} − 1 (< max_int by the choice of k); the
    layout is checked before any powmod. Returns (packed, k, b); :func:`unpack_ints` inverts it.
    """
    pk = vector.public_key
    b = pack_slot_bits(vector.bound)
    k = pack_slots_per_ciphertext(pk, b)
    check_pack_layout(pk, len(vector), k, b, vector.bound)
    shifted = vector.add_plain_ints([vector.bound]).ciphertexts
    out = [shifted_product(shifted[i : i + k], b, pk.nsquare) for i in range(0, len(shifted), k)]
    return EncryptedVector(pk, out, 0, (1 << (k * b)) - 1), k, b


def shifted_product(ciphertexts: Sequence[mpz], shift_bits: int, nsquare: mpz) -> mpz:
    """Π_j c_j^(2^(j·b)) mod n² for [c_0, c_1, …], b = ``shift_bits``: the ciphertext of
    Σ_j m_j·2^(j·b), by Horner from the top (acc ← acc^(2^b)·c_j), (k − 1) powmods of b-bit
    exponents. Anyone can compute it from public ciphertexts (packing, and checking evidence)."""
    if not ciphertexts:
        raise CryptoValueError("shifted_product: no ciphertexts")
    shift = mpz(1) << shift_bits
    acc = mpz(ciphertexts[-1])
    for c in reversed(ciphertexts[:-1]):
        acc = gmpy2.powmod(acc, shift, nsquare) * c % nsquare
    return acc


def unpack_ints(
    packed: Sequence[int], count: int, per_ciphertext: int, slot_bits: int, value_bound: int
) -> list[int]:
    """The ``count`` signed integers x_j of decrypted packed plaintexts (inverse of
    :func:`pack_vector`). A negative plaintext, a slot above 2B, a non-empty slot past ``count``
    or the wrong number of plaintexts means a forged ciphertext: EncodingOverflowError."""
    need = -(-count // per_ciphertext) if per_ciphertext > 0 else -1
    if len(packed) != need:
        raise EncodingOverflowError(
            f"unpack: {len(packed)} packed plaintexts for {count} values of {per_ciphertext} per "
            "ciphertext"
        )
    out: list[int] = []
    for index, value in enumerate(packed):
        slots = min(per_ciphertext, count - index * per_ciphertext)
        out += unpack_plaintext(index, value, slots, slot_bits, value_bound)
    return out


def unpack_plaintext(
    index: int, value: int, slots: int, slot_bits: int, value_bound: int
) -> list[int]:
    """The ``slots`` signed integers of packed plaintext ``index`` (:func:`unpack_ints`): each
    slot holds x + B ∈ [0, 2B]; a negative plaintext, a slot above 2B or bits past the last
    slot raise EncodingOverflowError. A residue in [0, n) reads the same as its signed form."""
    v, mask, top = int(value), (1 << slot_bits) - 1, 2 * int(value_bound)
    if v < 0 or v >> (slots * slot_bits):
        raise EncodingOverflowError(
            f"unpack: packed plaintext {index} is outside its {slots} slots of {slot_bits} bits"
        )
    out: list[int] = []
    for _ in range(slots):
        slot = v & mask
        if slot > top:
            raise EncodingOverflowError(
                f"unpack: a slot of packed plaintext {index} holds {slot.bit_length()} bits, "
                f"above the offset range 0..2·B ({top.bit_length()} bits)"
            )
        out.append(slot - int(value_bound))
        v >>= slot_bits
    return out


#: Fewest values per group for which the key holder's packing beats separate decryptions.
REPACK_MIN_SLOTS = 6


def worth_repacking(length: int, per_group: int) -> bool:
    """Whether the key holder's packing (:func:`decrypt_repacked`, groups of ``per_group``)
    beats one decryption per value for a vector of ``length``: both reach REPACK_MIN_SLOTS."""
    return length >= REPACK_MIN_SLOTS and per_group >= REPACK_MIN_SLOTS


def repack_layout(
    public_key: PublicKey, bound: int, shift_bits: int | None = None
) -> tuple[int, int]:
    """(k, b) of :func:`decrypt_repacked` for values |x| ≤ ``bound``: signed digits of b =
    bits(B) + 1 bits (|x| < 2^(b−1)), or the wider ``shift_bits`` given, and k = ⌊(|max_int| −
    1)/b⌋ of them per group (at least 1), so that |Σ_j x_j·2^(j·b)| < 2^(k·b − 1) stays in the
    safe band of Z_n. A wider b than its own bound needs is how the party reads local models in
    the aggregate's layout (:meth:`hefl.learning.paillier.PaillierStrategy.screen`)."""
    need = int(bound).bit_length() + 1
    b = need if shift_bits is None else int(shift_bits)
    if b < need:
        raise EncodingOverflowError(
            f"repack: digits of {b} bits cannot hold values of {need - 1} bits with their sign"
        )
    return max(1, (public_key.max_int.bit_length() - 1) // b), b


def check_repack_group(public_key: PublicKey, count: int, shift_bits: int, bound: int) -> None:
    """Refuse a group of ``count`` digits of ``shift_bits`` bits that could not hold every
    |x_j| ≤ ``bound`` exactly: 2^(b−1) > B, and k·b within the safe band unless k = 1 (a single
    plaintext of |x| ≤ B is its own digit). Within these, a group whose sum does not decode
    proves a value beyond the bound (:func:`decode_shifted_sum`)."""
    if count < 1 or int(bound).bit_length() + 1 > shift_bits:
        raise EncodingOverflowError(
            f"repack: a group of {count} digits of {shift_bits} bits cannot hold values of "
            f"{int(bound).bit_length()} bits with their sign"
        )
    if count > 1 and count * shift_bits > public_key.max_int.bit_length() - 1:
        raise EncodingOverflowError(
            f"repack: {count} digits of {shift_bits} bits overflow the safe band of a "
            f"{public_key.bits}-bit key"
        )


def decode_shifted_sum(
    residue: int, count: int, shift_bits: int, bound: int, n: int, first: int = 0
) -> list[int]:
    """The ``count`` signed base-2^b digits x_j, lowest first, of S = Σ_j x_j·2^(j·b) given as
    its residue mod n (x_0 = S mods 2^b, S ← (S − x_0)/2^b, …), each |x_j| ≤ ``bound``.

    A residue outside the safe band, a digit beyond the bound, or a sum with more digits than
    its group means some plaintext of the group lies outside the declared bound:
    :class:`~hefl.errors.EncodingOverflowError` (``first`` numbers the digits in messages)."""
    full, half = 1 << shift_bits, 1 << (shift_bits - 1)
    s = decode_residue(int(residue), n)
    out: list[int] = []
    for j in range(count):
        digit = s & (full - 1)
        if digit >= half:
            digit -= full
        if abs(digit) > bound:
            raise _beyond_bound(first + j, digit, bound)
        out.append(digit)
        s = (s - digit) >> shift_bits
    if s:
        raise EncodingOverflowError(
            f"decrypt: the group from element {first} holds more than its {count} values of "
            f"{int(bound).bit_length()} bits; the vector is inconsistent"
        )
    return out


def decrypt_repacked(
    private_key: PrivateKey,
    vector: EncryptedVector,
    *,
    shift_bits: int | None = None,
    workers: int | None = None,
) -> list[int]:
    """The signed integers x_j of ``vector``, decrypted k at a time by the key holder's packing.

    With (k, b) = :func:`repack_layout` (B, ``shift_bits``), each group of k ciphertexts becomes
    [[Σ_j x_j·2^(j·b)]] (:meth:`PrivateKey.decrypt_shifted_sums`, at half size by CRT) and one
    decryption gives S, whose digits (:func:`decode_shifted_sum`) are the x_j. The same
    integers as :func:`decrypt_int_vectors` for a vector within its bound, in ≈ 1/3 of the work
    at k ≈ 18 (a 110-bit bound, 2048-bit key). A group that does not decode means a plaintext
    outside the declared bound: :class:`~hefl.errors.EncodingOverflowError`, as there. (Values
    far out of bound may carry into their neighbours and decode as other in-bound digits: the
    group then reads as some in-bound vector, which is why the party reads every local model
    in the aggregate's layout — Eq. 10 of the digits is then exactly the aggregate's digits.)"""
    if vector.public_key != private_key.public_key:
        raise KeyMismatchError("decrypt: the private key does not match the vector's key")
    pk = vector.public_key
    k, b = repack_layout(pk, vector.bound, shift_bits)
    cts = vector.ciphertexts
    groups = [cts[i : i + k] for i in range(0, len(cts), k)]
    sums = private_key.decrypt_shifted_sums(groups, b, workers=workers)
    n = int(pk.n)
    out: list[int] = []
    for group, residue in zip(groups, sums, strict=True):
        out += decode_shifted_sum(int(residue), len(group), b, vector.bound, n, len(out))
    return out


def decrypt_int_vectors(
    private_key: PrivateKey, vectors: Sequence[EncryptedVector], *, workers: int | None = None
) -> list[list[int]]:
    """Exact signed integers of several vectors in one batch (each checked against its bound)."""
    return _decrypt_ints(private_key, vectors, workers)
