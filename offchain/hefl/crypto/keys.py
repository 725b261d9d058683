"""Paillier keys: generation, fast encryption, CRT decryption (the key math).

Paillier (1999) with g = n + 1. For n = p·q, a plaintext m ∈ Z_n is encrypted as

    c = (1 + n)^m · r^n = (1 + m·n) · r^n   (mod n²),  r ∈ Z_n^*,

and decrypted with λ = lcm(p − 1, q − 1), or — as here and in phe — by CRT over p² and q²:

    m_p = L_p(c^(p−1) mod p²) · h_p mod p,   L_p(u) = (u − 1) / p,
    h_p = L_p((1 + n)^(p−1) mod p²)^(−1) mod p,

likewise for q, then m = m_p + p·((m_q − m_p)·p^(−1) mod q). Each half is one powmod with a
(|n|/2)-bit exponent modulo a |n|-bit modulus; the two halves are independent, and gmpy2's
``powmod_base_list`` releases the GIL, so :meth:`PrivateKey.decrypt_ints` runs them on two threads
(see :mod:`hefl.crypto.pool`). A plaintext known to be small, |x| < p/2 (every fixed-point
vector's bound is far below), is its m_p alone: :meth:`PrivateKey.decrypt_small` runs the p-half
only, half the work.

Key files (:mod:`hefl.crypto.keyfile`) and phe interop (:mod:`hefl.crypto.interop`) live in their
own modules; the ``save`` / ``load`` / ``to_json`` / ``from_json`` and ``to_phe`` / ``from_phe``
methods here are thin front doors to them.

Encryption for holders of the public key (Damgård–Jurik–Nielsen short-exponent randomiser)
----------------------------------------------------------------------------------------------
The randomiser r^n is replaced by h^α, where

    x = SHAKE-256("hefl/paillier/djn-h/v1" ‖ n) read as a (|n| + 128)-bit integer, reduced mod n,
    h = (−x²)^n mod n²          (a fixed, public n-th residue derived from n alone),
    α uniform in [0, 2^a),      a = 4 · security bits of n   (448 bits for 2048-bit n),

so c = (1 + m·n) · h^α = (1 + m·n) · ((−x²)^α)^n mod n², a valid Paillier ciphertext with
r = (−x²)^α mod n. phe and any Paillier implementation decrypt it unchanged.

h^α is computed with a fixed-base comb (:func:`hefl.crypto.multiexp.fixed_base_pow`): with
window w = 8 the table holds h^(d·2^(8i)) for every byte position i < a/8 and digit d < 256
(56 × 255 entries, ≈7 MB at 2048 bits, built once per key and cached), so one encryption costs
a/8 = 56 modular multiplications instead of an a-bit powmod. The table is built at the
:data:`~hefl.crypto.multiexp.COMB_AFTER_USES`-th encryption of the process (or by
:meth:`PublicKey.precompute`): before, powmods are cheaper than building it.

Security assumption: IND-CPA under the Decisional Composite Residuosity assumption (DCR) plus a
short-exponent assumption: h^α for a uniform a-bit α is computationally indistinguishable from a
uniform element of the subgroup ⟨h⟩ of n-th residues. Damgård–Jurik–Nielsen ("A generalization of
Paillier's public-key system with applications to electronic voting", IJIS 2010) use h = −x² and
take α of ⌈|n|/2⌉ bits; hefl shortens α to 4·λ bits for security level λ (448 bits at 2048-bit
n, 512 at 3072), the usual short-exponent trade (cf. Koshiba–Kurosawa, "Short exponent
Diffie–Hellman problems", PKC 2004). The best known attacks on the short exponent are generic
(Pollard λ / baby-step giant-step) and cost 2^(a/2) = 2^224 group operations at a = 448, above the
2^112 of factoring a 2048-bit n; α has ≥ 2·λ bits as required. h is derived from n by a hash, so
nobody — the key owner included — chooses it. Callers who want nothing beyond DCR pass
``randomizer="full"`` for the textbook r^n (≈30× slower).

The key owner encrypts by CRT: the same h^α computed with comb tables modulo p² and q² (half-size
multiplications), recombined mod n²; the ciphertexts have exactly the same distribution.

Fingerprint: keccak256 of n as a big-endian byte string of length ⌈|n|/8⌉. It identifies the key in
serialised vectors and on the ledger.
"""

from __future__ import annotations

import functools
import hashlib
import os
import secrets
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import gmpy2
from gmpy2 import mpz

from hefl.canonical import keccak256
from hefl.crypto.interop import (
    modulus_from_phe,
    phe_private_key,
    phe_public_key,
    primes_from_phe,
)
from hefl.crypto.keyfile import (
    JSON_PRIVATE_TYPE,
    JSON_PUBLIC_TYPE,
    JSON_VERSION,
    PRIVATE_KEY_FILE_MODE,
    PUBLIC_KEY_FILE_MODE,
    check_key_header,
    check_recorded_facts,
    dump_key_json,
    parse_key_int,
    parse_key_json,
    read_key_file,
    write_key_file,
)
from hefl.crypto.multiexp import build_fixed_base, fixed_base_pow
from hefl.crypto.pool import decrypt_batch, half_powers_batch
from hefl.errors import (
    CryptoValueError,
    InsecureKeyWarning,
    InsecureParameterError,
    KeyMismatchError,
    SerializationError,
)

__all__ = [
    "ALLOWED_KEY_BITS",
    "DEFAULT_KEY_BITS",
    "InsecureKeyWarning",
    "PrivateKey",
    "PublicKey",
    "Randomizer",
    "djn_exponent_bits",
    "generate_keypair",
    "security_bits",
]

#: Default modulus size (bits of n).
DEFAULT_KEY_BITS = 2048
#: Usual sizes; any even size ≥ 2048 is accepted without ``allow_insecure``.
ALLOWED_KEY_BITS: tuple[int, ...] = (2048, 3072, 4096)
#: Smallest modulus accepted even with ``allow_insecure`` (tests use 256–1024 bits).
MIN_INSECURE_KEY_BITS = 128
#: Domain separator of the hash that derives h from n.
DJN_H_DOMAIN = b"hefl/paillier/djn-h/v1"
#: Generated primes must differ in their top bits: |p − q| ≥ 2^(|p| − FERMAT_GAP_BITS).
FERMAT_GAP_BITS = 100
#: Miller–Rabin rounds (after GMP's BPSW) when validating primes of a loaded private key.
PRIME_CHECK_ROUNDS = 32

Randomizer = Literal["djn", "full"]


def security_bits(n_bits: int) -> int:
    """Symmetric-equivalent strength of an RSA/Paillier modulus (NIST SP 800-57 Part 1, Table 2)."""
    for limit, strength in ((15360, 256), (7680, 192), (3072, 128), (2048, 112)):
        if n_bits >= limit:
            return strength
    return 80


def djn_exponent_bits(n_bits: int) -> int:
    """Length a of the short DJN exponent α: 4·security bits (448 at 2048 bits, 512 at 3072)."""
    return 4 * security_bits(n_bits)


class PublicKey:
    """A Paillier public key (n, g = n + 1) with the DJN element h derived from n.

    Attributes: ``n``, ``nsquare`` (mpz), ``bits`` = |n|, ``max_int`` = n//3 − 1 (the safe band),
    ``n_bytes`` / ``ciphertext_bytes`` (byte lengths of n and n²), ``fingerprint`` (32 bytes).
    """

    __slots__ = (
        "__weakref__",
        "_h",
        "alpha_bits",
        "bits",
        "ciphertext_bytes",
        "fingerprint",
        "max_int",
        "n",
        "n_bytes",
        "nsquare",
    )

    def __init__(self, n: int) -> None:
        n = mpz(n)
        if n < 15 or n % 2 == 0:
            raise CryptoValueError(
                f"n = {n} is not a valid Paillier modulus (odd composite expected)"
            )
        self.n: mpz = n
        self.nsquare: mpz = n * n
        self.bits: int = int(n.bit_length())
        self.n_bytes: int = (self.bits + 7) // 8
        self.ciphertext_bytes: int = (int(self.nsquare.bit_length()) + 7) // 8
        self.max_int: int = int(n // 3 - 1)
        self.alpha_bits: int = djn_exponent_bits(self.bits)
        self.fingerprint: bytes = keccak256(self.modulus_bytes())
        self._h: mpz | None = None

    # --- identity --------------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and self.n == other.n

    def __hash__(self) -> int:
        return hash(("hefl-paillier", int(self.n)))

    def __repr__(self) -> str:
        return f"PublicKey(bits={self.bits}, fingerprint=0x{self.fingerprint.hex()[:16]}…)"

    def modulus_bytes(self) -> bytes:
        """n big-endian in :attr:`n_bytes` bytes: the blob whose keccak256 is the
        :attr:`fingerprint` (kept in the blob store, so an auditor finds the key from the ledger's
        ``publicKeyHash`` alone)."""
        return int(self.n).to_bytes(self.n_bytes, "big")

    @property
    def fingerprint_hex(self) -> str:
        """``0x``-prefixed hex of :attr:`fingerprint`."""
        return "0x" + self.fingerprint.hex()

    # --- DJN element -----------------------------------------------------------------------------
    @property
    def h(self) -> mpz:
        """h = (−x²)^n mod n², x = SHAKE-256(domain ‖ n) mod n (see the module docstring)."""
        if self._h is None:
            digest = hashlib.shake_256(
                DJN_H_DOMAIN + int(self.n).to_bytes(self.n_bytes, "big")
            ).digest(self.n_bytes + 16)
            x = mpz(int.from_bytes(digest, "big")) % self.n
            if gmpy2.gcd(x, self.n) != 1:  # would reveal a factor; astronomically unlikely
                raise CryptoValueError(
                    "derived DJN base shares a factor with n; n is not a valid key"
                )
            self._h = gmpy2.powmod(self.n - x * x % self.n, self.n, self.nsquare)
        return self._h

    def precompute(self) -> None:
        """Build h's fixed-base table now (≈0.1 s at 2048 bits) instead of after the first
        :data:`~hefl.crypto.multiexp.COMB_AFTER_USES` encryptions."""
        build_fixed_base(self.h, self.nsquare, self.alpha_bits)

    # --- encryption ------------------------------------------------------------------------------
    def random_alpha(self) -> int:
        """A fresh uniform DJN exponent α ∈ [0, 2^alpha_bits)."""
        return secrets.randbits(self.alpha_bits)

    def randomizer_djn(self, alpha: int | None = None) -> mpz:
        """h^α mod n² (fresh α unless given)."""
        a = self.random_alpha() if alpha is None else int(alpha)
        if not 0 <= a < (1 << self.alpha_bits):
            raise CryptoValueError(f"DJN exponent must lie in [0, 2^{self.alpha_bits}), got {a}")
        return fixed_base_pow(self.h, a, self.nsquare, self.alpha_bits)

    def random_unit(self) -> mpz:
        """A uniform r ∈ Z_n^* (the textbook randomiser's base)."""
        while True:
            r = mpz(secrets.randbelow(int(self.n) - 1) + 1)
            if gmpy2.gcd(r, self.n) == 1:
                return r

    def randomizer_full(self) -> mpz:
        """r^n mod n² for a uniform r ∈ Z_n^* (textbook Paillier, no extra assumption)."""
        return gmpy2.powmod(self.random_unit(), self.n, self.nsquare)

    def is_ciphertext(self, c: int) -> bool:
        """Whether c is a unit of Z_{n²} (0 < c < n², gcd(c, n) = 1), as every ciphertext is."""
        return 0 < c < self.nsquare and gmpy2.gcd(c, self.n) == 1

    def opens(self, ciphertext: int, plaintext: int, nonce: int) -> bool:
        """Whether (m, r) = (``plaintext``, ``nonce``) opens ``ciphertext``: 0 ≤ m < n,
        0 < r < n and c = (1 + m·n)·r^n mod n².

        Paillier's encryption (m, r) ↦ (1 + n)^m·r^n is a bijection Z_n × Z_n^* → Z_{n²}^*, so an
        opening proves the plaintext to anyone holding the public key: the key holder's
        evidence that a ciphertext holds what it says (:meth:`PrivateKey.open`)."""
        m, r, c = mpz(plaintext), mpz(nonce), mpz(ciphertext)
        if not (0 <= m < self.n and 0 < r < self.n and self.is_ciphertext(c)):
            return False
        return self.raw_from_randomizer(m, gmpy2.powmod(r, self.n, self.nsquare)) == c

    def raw_from_randomizer(self, m: int, rn: mpz) -> mpz:
        """(1 + m·n) · rn mod n², computed as rn + n·(m·rn mod n) (no big multiplication)."""
        return (rn + self.n * (mpz(m) * rn % self.n)) % self.nsquare

    def encrypt_int(self, m: int, *, randomizer: Randomizer = "djn") -> mpz:
        """Encrypt a residue m ∈ [0, n) (already encoded; see :mod:`hefl.crypto.encoding`)."""
        m = self._check_residue(m)
        rn = self.randomizer_djn() if randomizer == "djn" else self._full_or_fail(randomizer)
        return self.raw_from_randomizer(m, rn)

    def encrypt_ints(self, residues: Iterable[int], *, randomizer: Randomizer = "djn") -> list[mpz]:
        """Encrypt many residues; same construction as :meth:`encrypt_int`."""
        return [self.encrypt_int(m, randomizer=randomizer) for m in residues]

    def _full_or_fail(self, randomizer: str) -> mpz:
        if randomizer != "full":
            raise CryptoValueError(f"unknown randomizer {randomizer!r}; use 'djn' or 'full'")
        return self.randomizer_full()

    def _check_residue(self, m: int) -> mpz:
        m = mpz(m)
        if not 0 <= m < self.n:
            raise CryptoValueError(f"plaintext residue {m} is outside [0, n); encode it first")
        return m

    # --- JSON ------------------------------------------------------------------------------------
    def to_json_dict(self) -> dict[str, Any]:
        return {
            "type": JSON_PUBLIC_TYPE,
            "version": JSON_VERSION,
            "bits": self.bits,
            "n": hex(self.n),
            "fingerprint": self.fingerprint_hex,
        }

    def to_json(self) -> str:
        return dump_key_json(self.to_json_dict())

    @classmethod
    def from_json_dict(cls, data: dict[str, Any], *, allow_insecure: bool = False) -> PublicKey:
        check_key_header(data, JSON_PUBLIC_TYPE)
        key = cls(parse_key_int(data.get("n"), "n"))
        _check_loaded_key(key, data, allow_insecure)
        return key

    @classmethod
    def from_json(cls, text: str, *, allow_insecure: bool = False) -> PublicKey:
        return cls.from_json_dict(parse_key_json(text), allow_insecure=allow_insecure)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the public key as JSON (mode 0644)."""
        return write_key_file(path, self.to_json(), PUBLIC_KEY_FILE_MODE)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, allow_insecure: bool = False) -> PublicKey:
        return cls.from_json(read_key_file(path), allow_insecure=allow_insecure)

    # --- phe interop (:mod:`hefl.crypto.interop`; phe is GPL and test-only) ----------------------
    @classmethod
    def from_phe(cls, phe_public_key: Any) -> PublicKey:
        """Build from a ``phe.paillier.PaillierPublicKey`` (only n is taken; g = n + 1 in both)."""
        return cls(modulus_from_phe(phe_public_key))

    def to_phe(self) -> Any:
        """Return the equivalent ``phe.paillier.PaillierPublicKey`` (needs phe installed)."""
        return phe_public_key(int(self.n))


class PrivateKey:
    """A Paillier private key (p, q) with CRT precomputation; p < q as in phe."""

    __slots__ = (
        "_crt_p_inv_q",
        "_p_minus_1",
        "_q_minus_1",
        "hp",
        "hq",
        "p",
        "psquare",
        "public_key",
        "q",
        "qsquare",
    )

    def __init__(self, public_key: PublicKey, p: int, q: int) -> None:
        p, q = mpz(p), mpz(q)
        if p * q != public_key.n:
            raise KeyMismatchError(f"p·q does not equal n of {public_key!r}")
        if p == q:
            raise CryptoValueError("p and q must differ")
        if q < p:
            p, q = q, p
        self.public_key = public_key
        self.p, self.q = p, q
        self.psquare, self.qsquare = p * p, q * q
        self._p_minus_1, self._q_minus_1 = p - 1, q - 1
        self._crt_p_inv_q = gmpy2.invert(p, q)
        self.hp = self._h_function(p, self.psquare)
        self.hq = self._h_function(q, self.qsquare)

    def _h_function(self, x: mpz, xsquare: mpz) -> mpz:
        """h_x = L_x((1 + n)^(x−1) mod x²)^(−1) mod x."""
        u = gmpy2.powmod(self.public_key.n + 1, x - 1, xsquare)
        return gmpy2.invert((u - 1) // x, x)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrivateKey) and (self.p, self.q) == (other.p, other.q)

    def __hash__(self) -> int:
        return hash(("hefl-paillier-private", int(self.p), int(self.q)))

    def __repr__(self) -> str:
        return f"PrivateKey(for {self.public_key!r})"

    # --- decryption ------------------------------------------------------------------------------
    def crt_combine(self, u_p: mpz, u_q: mpz) -> mpz:
        """From u_p = c^(p−1) mod p² and u_q = c^(q−1) mod q² to the plaintext residue m ∈ Z_n."""
        mp = (u_p - 1) // self.p * self.hp % self.p
        mq = (u_q - 1) // self.q * self.hq % self.q
        return mp + ((mq - mp) * self._crt_p_inv_q % self.q) * self.p

    def decrypt_int(self, ciphertext: int) -> mpz:
        """Plaintext residue m ∈ [0, n) of one ciphertext, by CRT (two half-size powmods)."""
        c = mpz(ciphertext)
        return self.crt_combine(
            gmpy2.powmod(c, self._p_minus_1, self.psquare),
            gmpy2.powmod(c, self._q_minus_1, self.qsquare),
        )

    def open(self, ciphertext: int) -> tuple[mpz, mpz]:
        """The opening (m, r) of a ciphertext c = (1 + n)^m·r^n mod n² (:meth:`PublicKey.opens`).

        m by CRT decryption; r from c ≡ r^n (mod n): r = (c mod n)^(n⁻¹ mod φ(n)) mod n
        (gcd(n, φ(n)) = 1 for primes of equal length). Whatever randomiser made c (DJN's
        h^α or a textbook r^n), this r satisfies the equation, since r^n mod n² depends on r
        mod n only."""
        c = mpz(ciphertext)
        if not self.public_key.is_ciphertext(c):
            raise CryptoValueError("open: not a ciphertext of this key (outside Z_{n²}^*)")
        n = self.public_key.n
        phi = self._p_minus_1 * self._q_minus_1
        return self.decrypt_int(c), gmpy2.powmod(c % n, gmpy2.invert(n, phi), n)

    def decrypt_ints(self, ciphertexts: Sequence[int], *, workers: int | None = None) -> list[mpz]:
        """Decrypt many ciphertexts; the p- and q-halves run on parallel threads (GIL released)."""
        return decrypt_batch(self, ciphertexts, workers=workers)

    def decrypt_shifted_sums(
        self, groups: Sequence[Sequence[int]], shift_bits: int, *, workers: int | None = None
    ) -> list[mpz]:
        """Plaintext residues of Π_j c_j^(2^(j·b)) for each group [c_0, c_1, …], b = shift_bits:
        Σ_j m_j·2^(j·b) mod n, the key holder's own packing of k ciphertexts into one.

        Built by Horner from the top, acc ← acc^(2^b)·c_j, modulo p² and q² apart (half-size
        squarings), then u_p = acc_p^(p−1) mod p² and u_q likewise, combined by CRT: a group of
        k costs ≈ 2·(k − 1)·b half-size squarings plus one decryption, against k decryptions of
        2·|p| each, so it pays from k ≈ 4 (:func:`hefl.crypto.vector.decrypt_repacked`)."""
        shift = mpz(1) << shift_bits
        halves: list[list[mpz]] = [[], []]
        for group in groups:
            if not group:
                raise CryptoValueError("decrypt_shifted_sums: an empty group")
            for out, square in zip(halves, (self.psquare, self.qsquare), strict=True):
                acc = mpz(group[-1]) % square
                for c in reversed(group[:-1]):
                    acc = gmpy2.powmod(acc, shift, square) * c % square
                out.append(acc)
        up = half_powers_batch(halves[0], self._p_minus_1, self.psquare, workers=workers)
        uq = half_powers_batch(halves[1], self._q_minus_1, self.qsquare, workers=workers)
        return [self.crt_combine(a, b) for a, b in zip(up, uq, strict=True)]

    def small_bound_fits(self, bound: int) -> bool:
        """Whether |x| ≤ ``bound`` leaves x determined by x mod p (2·bound < p)."""
        return 2 * int(bound) < self.p

    def decrypt_small(self, ciphertexts: Sequence[int], *, workers: int | None = None) -> list[int]:
        """Signed plaintexts x with |x| < p/2 from the p-half of CRT alone: half the work.

        x ≡ m (mod n) and |x| < p/2 make x the signed residue of m_p = L_p(c^(p−1) mod p²)·h_p
        mod p, so the q-half is not needed. Callers check |x| against the bound they expect (see
        :func:`hefl.crypto.vector.decrypt_vectors`): a ciphertext of some m outside the bound
        passes that check only if m mod p happens to land within it, with probability
        ≈ 2·bound/p over the secret p (< 2^−800 for hefl's vectors at 2048 bits), where the full
        CRT would have refused it for certain.
        """
        half = self.p // 2
        out: list[int] = []
        for u in half_powers_batch(ciphertexts, self._p_minus_1, self.psquare, workers=workers):
            mp = int((u - 1) // self.p * self.hp % self.p)
            out.append(mp - int(self.p) if mp > half else mp)
        return out

    # --- CRT encryption for the key owner --------------------------------------------------------
    def _crt_bases(self) -> tuple[tuple[mpz, mpz], tuple[mpz, mpz]]:
        """(h mod p², p²) and (h mod q², q²): the owner's two fixed bases."""
        h = self.public_key.h
        return (h % self.psquare, self.psquare), (h % self.qsquare, self.qsquare)

    def precompute(self) -> None:
        """Build the owner's CRT comb tables now."""
        for base, square in self._crt_bases():
            build_fixed_base(base, square, self.public_key.alpha_bits)

    def encrypt_int(self, m: int, *, randomizer: Randomizer = "djn") -> mpz:
        """Encrypt a residue by CRT: (1 + m·n)·h^α computed mod p² and q², then recombined.

        With ``randomizer="full"``, r^n is computed by CRT as r^(n mod p(p−1)) mod p² etc.
        """
        pk = self.public_key
        m = pk._check_residue(m)
        if randomizer == "djn":
            alpha = pk.random_alpha()
            (hp, psq), (hq, qsq) = self._crt_bases()
            rp = fixed_base_pow(hp, alpha, psq, pk.alpha_bits)
            rq = fixed_base_pow(hq, alpha, qsq, pk.alpha_bits)
        elif randomizer == "full":
            r = pk.random_unit()
            rp = gmpy2.powmod(r, pk.n % (self.p * self._p_minus_1), self.psquare)
            rq = gmpy2.powmod(r, pk.n % (self.q * self._q_minus_1), self.qsquare)
        else:
            raise CryptoValueError(f"unknown randomizer {randomizer!r}; use 'djn' or 'full'")
        # CRT mod p², q²: r = rp + p²·((rq − rp)·(p²)^(−1) mod q²)
        rn = rp + self.psquare * ((rq - rp) * self._psq_inv_qsq() % self.qsquare)
        return pk.raw_from_randomizer(m, rn)

    def encrypt_ints(self, residues: Iterable[int], *, randomizer: Randomizer = "djn") -> list[mpz]:
        return [self.encrypt_int(m, randomizer=randomizer) for m in residues]

    def _psq_inv_qsq(self) -> mpz:
        return _inverse_cached(self.psquare, self.qsquare)

    # --- JSON ------------------------------------------------------------------------------------
    def to_json_dict(self) -> dict[str, Any]:
        data = self.public_key.to_json_dict()
        data.update({"type": JSON_PRIVATE_TYPE, "p": hex(self.p), "q": hex(self.q)})
        return data

    def to_json(self) -> str:
        return dump_key_json(self.to_json_dict())

    @classmethod
    def from_json_dict(cls, data: dict[str, Any], *, allow_insecure: bool = False) -> PrivateKey:
        check_key_header(data, JSON_PRIVATE_TYPE)
        pk = PublicKey(parse_key_int(data.get("n"), "n"))
        _check_loaded_key(pk, data, allow_insecure)
        p, q = mpz(parse_key_int(data.get("p"), "p")), mpz(parse_key_int(data.get("q"), "q"))
        if p * q != pk.n:
            raise SerializationError("private key file: p·q ≠ n; the file is corrupt")
        for name, prime in (("p", p), ("q", q)):
            if not gmpy2.is_prime(prime, PRIME_CHECK_ROUNDS):
                raise SerializationError(f"private key file: {name} is not prime")
        return cls(pk, p, q)

    @classmethod
    def from_json(cls, text: str, *, allow_insecure: bool = False) -> PrivateKey:
        return cls.from_json_dict(parse_key_json(text), allow_insecure=allow_insecure)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the private key as JSON, readable by the owner only (mode 0600)."""
        return write_key_file(path, self.to_json(), PRIVATE_KEY_FILE_MODE)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, allow_insecure: bool = False) -> PrivateKey:
        return cls.from_json(read_key_file(path), allow_insecure=allow_insecure)

    # --- phe interop -----------------------------------------------------------------------------
    @classmethod
    def from_phe(cls, phe_private_key: Any) -> PrivateKey:
        """Build from a ``phe.paillier.PaillierPrivateKey``."""
        n, p, q = primes_from_phe(phe_private_key)
        return cls(PublicKey(n), p, q)

    def to_phe(self) -> Any:
        """Return the equivalent ``phe.paillier.PaillierPrivateKey`` (needs phe installed)."""
        return phe_private_key(int(self.public_key.n), int(self.p), int(self.q))


@functools.lru_cache(maxsize=8)
def _inverse_cached(a: mpz, m: mpz) -> mpz:
    return gmpy2.invert(a, m)


# --- key generation ------------------------------------------------------------------------------
def _check_bits(bits: int, allow_insecure: bool) -> None:
    if not isinstance(bits, int) or bits % 2:
        raise InsecureParameterError(f"key size must be an even number of bits, got {bits!r}")
    if bits >= DEFAULT_KEY_BITS:
        return
    if bits < MIN_INSECURE_KEY_BITS:
        raise InsecureParameterError(
            f"{bits}-bit keys are too small even for tests; use ≥ {MIN_INSECURE_KEY_BITS}"
        )
    if not allow_insecure:
        raise InsecureParameterError(
            f"{bits}-bit Paillier keys are insecure; use {DEFAULT_KEY_BITS} or "
            f"{ALLOWED_KEY_BITS[1]} bits, or pass allow_insecure=True for tests"
        )
    warnings.warn(
        f"using an insecure {bits}-bit Paillier key (allow_insecure=True)",
        InsecureKeyWarning,
        stacklevel=3,
    )


def _random_prime(bits: int) -> mpz:
    """A uniform-ish prime with exactly ``bits`` bits and its top two bits set."""
    while True:
        candidate = mpz(secrets.randbits(bits)) | (mpz(3) << (bits - 2)) | 1
        p = gmpy2.next_prime(candidate)
        if p.bit_length() == bits and gmpy2.is_prime(p, PRIME_CHECK_ROUNDS):
            return p


def generate_keypair(
    bits: int = DEFAULT_KEY_BITS, *, allow_insecure: bool = False
) -> tuple[PublicKey, PrivateKey]:
    """Generate a Paillier key pair with a ``bits``-bit modulus n = p·q, |p| = |q| = bits/2.

    2048 bits by default; any even size ≥ 2048 (e.g. 3072) is accepted; smaller keys raise
    :class:`~hefl.errors.InsecureParameterError` unless ``allow_insecure=True`` (then an
    :class:`InsecureKeyWarning` is emitted). Both primes have their top two bits set, so n has
    exactly ``bits`` bits; gcd(n, (p−1)(q−1)) = 1 is checked (it holds for equal-size primes),
    and |p − q| ≥ 2^(bits/2 − 100) so that Fermat's method cannot factor n.
    """
    _check_bits(bits, allow_insecure)
    half = bits // 2
    while True:
        p = _random_prime(half)
        q = _random_prime(half)
        n = p * q
        if (
            abs(p - q)
            >> (half - min(FERMAT_GAP_BITS, half // 2))  # |p − q| large: Fermat factoring fails
            and n.bit_length() == bits
            and gmpy2.gcd(n, (p - 1) * (q - 1)) == 1
        ):
            break
    public = PublicKey(n)
    return public, PrivateKey(public, p, q)


# --- loading --------------------------------------------------------------------------------------
def _check_loaded_key(key: PublicKey, data: dict[str, Any], allow_insecure: bool) -> None:
    check_recorded_facts(data, key.fingerprint_hex, key.bits)
    try:
        _check_bits(key.bits, allow_insecure)
    except InsecureParameterError as exc:
        raise InsecureParameterError(f"loaded key: {exc}") from None
