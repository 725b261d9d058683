"""Multi-private-key secure aggregation (Yang, Liu, Tang, Lu, Liu), every step of §3.

Roles: a server and clients C_1 … C_N. The server alone learns the sum of the online clients'
gradients; every client encrypts under a key pair it chose itself; no trusted dealer.

Steps (paper names, section) and where they live here:

- SysGen(κ1, κ2) → (p, q, G, g, β, a, H), §3.1: :meth:`MultiKeyServer.sys_gen`
- KeyGen(p, q, G, g, β, a) → (pk_i, sk_i), §3.1: :meth:`MultiKeyClient.key_gen`
- AggPKGen(pk_i, S) → pk_S = Π_{C_i∈S} pk_i = g^{Σ sk_i}, §3.2: :meth:`MultiKeyServer.agg_pk_gen`
- SE(pk_i, α, H, W) → W_i* (AES-GCM, key_i = H(pk_i^α)), §3.2: :meth:`MultiKeyServer.se`
- lone-client check pk_S = pk_i → stop, §3.2: :meth:`MultiKeyClient.begin_round`
- DSE(β, H, sk_i, W_i*) → W (key_i = H(β^{sk_i})), §3.2: :meth:`MultiKeyClient.dse`
- Enc(∇_i, pk_S, SysPara) → (E_i1, E_i2), Eq. (2), §3.2, §3.4: :meth:`MultiKeyClient.enc`
- ChelGen → R = Π_{C_i∈S} g^{r_i2}, §3.3: :meth:`MultiKeyServer.chel_gen`
- ResGen(R) → T_i = R^{sk_i}, §3.3: :meth:`MultiKeyClient.res_gen`
- Agg → (E_Agg, d, T), §3.3: :meth:`MultiKeyServer.agg`
- Dec(E_Agg, d, T, α) → ∇̂ = Σ ∇̂_i, §3.3: :meth:`MultiKeyServer.dec`
- Algorithm 2 (unpack ∇̂ into ∇_1 … ∇_n), §3.3: :meth:`SuperIncreasingVector.unpack`
- segments with one server key (α_j, β_j) each, §3.4: :class:`SysPara`

The algebra, worked through
===========================
Group. p is a κ1-bit prime with p − 1 = γ·q, q prime; G is the order-q subgroup of Z_p^*,
g a generator of G. Every client value that is "mod p" (pk_i, g^{r_i2}, g^{r_i1}·pk_S^{r_i2}, R,
T_i) lives in G.

Encryption (§3.2). With ∇̂_i = Σ_j a_j ∇_ij (Eq. 2) and r_i1, r_i2 ∈ Z_q::

    E_i1 = (p+1)^{∇̂_i} · β^{r_i1}           mod p²
    E_i2 = (A_i, B_i) = (g^{r_i2}, g^{r_i1} · pk_S^{r_i2})   mod p

By the binomial theorem (p+1)^m = 1 + m·p (mod p²), so the first factor costs one multiplication,
and m ↦ (p+1)^m is injective on 0 ≤ m < p: the plaintext space is Z_p, hence the bound
Σ_j a_j·N·∇_max < p of §3.1.

Aggregation (§3.3). E_Agg = Π E_i1 = (p+1)^{Σ∇̂_i} · β^{Σ r_i1};  d = Π B_i = g^{Σ r_i1} ·
pk_S^{Σ r_i2};  R = Π A_i = g^{Σ r_i2};  T = Π R^{sk_i} = g^{(Σ r_i2)(Σ sk_i)} = pk_S^{Σ r_i2}.
So d/T = g^{Σ r_i1} (mod p) and E_Agg·(d/T)^{−α} = (p+1)^{Σ∇̂_i}, L(x) = (x−1)/p gives Σ∇̂_i.

**Correction (the paper's Dec is wrong as printed).** d/T is known only modulo p, while the
blinding β^{Σ r_i1} lives modulo p². Any integer x ∈ Z_{p²}^* with x mod p ∈ G splits uniquely
as x = x̃ · (1+p)^t with x̃ in the order-q subgroup G̃ of Z_{p²}^* (Z_{p²}^* ≅ Z_{p−1} × Z_p and
q ∤ p). Raising the printed residue (g^{Σr_i1} mod p) to −α therefore carries a stray factor
(1+p)^{−αt}, and L returns Σ∇̂_i − α·t (mod p): garbage. Likewise β = g^α computed mod p and then
raised mod p² by each client carries its own (1+p)^{t_β·r_i1}. Two changes make the scheme
correct, and are what this module implements:

1. β_j is published as the *lifted* element β̃_j = g̃^{α_j} mod p² of G̃, where g̃ is the lift
   of g; every client's β_j^{r_i1} then lies in G̃ exactly.
2. The server lifts d/T before exponentiating: with e = p·(p^{−1} mod q) (e ≡ 1 mod q,
   e ≡ 0 mod p), lift(x) = x^e mod p² kills the (1+p)^t part (order p) and keeps x̃ (order q).
   Then E_Agg · lift(d/T)^{−α} = (p+1)^{Σ∇̂_i} exactly. One extra exponentiation per round.

Segments (§3.4). When n·log2(N·∇_max) exceeds the plaintext space, the vector is cut into
u = ⌈n/k⌉ segments of k coordinates (segment j holds coordinates (j−1)k+1 … jk) and each segment
gets its own server key (α_j, β_j = g^{α_j}); one E_i2 serves them all:
E(∇̂_ij) = (p+1)^{∇̂_ij} · β_j^{r_i1}, so a client sends u + 2 ciphertexts. The separate β_j are
necessary: with one β the ratio of two segments' ciphertexts would be (p+1)^{∇̂_ij − ∇̂_il},
revealing the difference of the plaintexts to anyone. The printed condition "if ∇̂_i > p"
should read "if Σ_j a_j·N·∇_max ≥ p" (the bound must hold for the sum over N clients).

Other reading fixes. §3.2 writes H : G → {0,1}^{κ1}; the symmetric key has κ2 bits (SysGen and
Table 1), so H outputs κ2 bits (SHA-256, truncated to κ2 ∈ {128, 192, 256}, AES-GCM).
Algorithm 2's "Data" line and Remark 1 mix indices (Σ_{i=1}^n a_j, "S∇_max"); the conditions
are Σ_{j<i} a_j·N·∇_max < a_i and Σ_{j=1}^{k} a_j·N·∇_max < p, with |S| ≤ N. With segments
(§3.4) the key of the symmetric model encryption is H(pk_i^{α_1}).

Parameters (deviation from the paper, documented). The paper asks for "a specified small
integer γ" (p close to a safe prime, q ≈ κ1 bits). We pick q of ``q_bits`` = 256 bits and
p = γ·q + 1 with γ ≈ 2^{κ1−256} (a Schnorr group, FIPS 186-4's (L, N) = (2048, 256)). The best
attacks are Pollard's rho in G (≈ 2^128 work) and the number field sieve in Z_p^* (≈ 2^112 at
2048 bits), the same as with a safe prime, while each exponent r_i1, r_i2, sk_i, α is 256-bit
instead of 2048-bit (about 8× cheaper exponentiations). Because γ has small factors, every
received pk_i, pk_S, A_i, B_i, R and T_i is checked to lie in G (x^q ≡ 1 mod p) to rule out
small-subgroup elements; the u elements E(∇̂_ij) are checked only when the aggregate fails to
decrypt (a valid decryption, x_j ≡ 1 mod p for all j, proves the aggregate is well formed), and
then the failing sender is named. κ1 = 2048 by default; the paper's κ1 = 512 only with
``allow_insecure=True`` (warns).

Dropouts (§4.2, Theorem 4). S is fixed when pk_S is computed. A client of S that sends no
ciphertext or does not answer R cannot be cancelled (its sk_i is inside pk_S and T), so the
server raises :class:`~hefl.secagg.errors.RoundRestartRequired` and the round restarts over the
clients that did everything, who encrypt afresh with new coins under the new pk_S
(:func:`hefl.secagg.base.run_round`). Up to N − 2 dropouts complete; one remaining client is the
lone-client case and aborts.

Threat model. Honest-but-curious server and clients, as in the paper. A *malicious* server could
use ResGen as a Diffie–Hellman oracle (send R = A_j of one client) or replay a round over nested
sets to difference two sums; clients here refuse to answer twice in one attempt and check
R ∈ G \\ {1}, but fully defending against a malicious server is outside the paper's model.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import warnings
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import gmpy2
import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from gmpy2 import mpz

from hefl.canonical import canonical_json, keccak256
from hefl.crypto.multiexp import fixed_base_powers
from hefl.errors import (
    ConfigError,
    DecryptionError,
    InsecureParameterError,
    LoneClientError,
    ProtocolError,
    RoundRestartRequired,
    SerializationError,
)
from hefl.secagg.quantise import Quantiser
from hefl.secagg.wire import decode_frame, encode_frame, frame_size, int_width

#: Default security parameter κ1 (bits of p).
DEFAULT_KAPPA1 = 2048
#: Default bits of the subgroup order q.
DEFAULT_Q_BITS = 256
#: Default κ2, bits of the symmetric key (AES-256-GCM).
DEFAULT_KAPPA2 = 256
#: Smallest κ1 / q bits accepted without ``allow_insecure=True``.
MIN_SECURE_KAPPA1 = 2048
MIN_SECURE_Q_BITS = 256
#: Hard floor, even with ``allow_insecure`` (tests use 512, the paper's choice).
MIN_KAPPA1 = 256
MIN_Q_BITS = 64
#: Miller–Rabin rounds for the primes of SysGen and for validating received parameters.
PRIMALITY_ROUNDS = 40
MAGIC = b"HFMK"
SYSPARA_JSON_TYPE = "hefl-secagg-multikey-syspara"
SYSPARA_JSON_VERSION = 1
_NONCE_BYTES = 12
_H_TAG = b"hefl/secagg/multikey/H"
_AAD_TAG = b"hefl/secagg/multikey/model"


class RandomSource(Protocol):
    """What SysGen and KeyGen use of :class:`random.Random` (default ``secrets.SystemRandom``)."""

    def getrandbits(self, k: int, /) -> int: ...

    def randrange(self, start: int, stop: int, /) -> int: ...


def _system_random() -> RandomSource:
    return secrets.SystemRandom()


def _check_sizes(kappa1: int, q_bits: int, allow_insecure: bool) -> None:
    if not isinstance(kappa1, int) or not isinstance(q_bits, int):
        raise ConfigError(f"kappa1 and q_bits must be integers, got {kappa1!r}, {q_bits!r}")
    if kappa1 < MIN_KAPPA1 or q_bits < MIN_Q_BITS or q_bits > kappa1 - 64:
        raise ConfigError(
            f"κ1 = {kappa1}, |q| = {q_bits} is not a usable group: need κ1 ≥ {MIN_KAPPA1}, "
            f"{MIN_Q_BITS} ≤ |q| ≤ κ1 − 64"
        )
    if kappa1 < MIN_SECURE_KAPPA1 or q_bits < MIN_SECURE_Q_BITS:
        if not allow_insecure:
            raise InsecureParameterError(
                f"κ1 = {kappa1} bits with |q| = {q_bits} is below hefl's floor "
                f"(κ1 ≥ {MIN_SECURE_KAPPA1}, |q| ≥ {MIN_SECURE_Q_BITS}); pass "
                "allow_insecure=True only for tests and benchmarks"
            )
        warnings.warn(
            f"multi-key secure aggregation with κ1 = {kappa1}, |q| = {q_bits}: insecure, "
            "for tests and benchmarks only",
            stacklevel=3,
        )


# --- the group (p, q, G, g) ---------------------------------------------------------------------
@dataclass(frozen=True)
class GroupParams:
    """(p, q, g): p prime, p − 1 = γ·q, g generates the order-q subgroup G of Z_p^* (§3.1)."""

    p: int
    q: int
    g: int

    @property
    def kappa1(self) -> int:
        """κ1 = |p| in bits."""
        return self.p.bit_length()

    @property
    def gamma(self) -> int:
        """γ = (p − 1)/q."""
        return (self.p - 1) // self.q

    @cached_property
    def p2(self) -> mpz:
        """p², the modulus of E_i1."""
        return mpz(self.p) ** 2

    @cached_property
    def lift_exponent(self) -> mpz:
        """e = p·(p^{−1} mod q): e ≡ 1 (mod q), e ≡ 0 (mod p). x ↦ x^e mod p² lifts G to G̃."""
        return mpz(self.p) * gmpy2.invert(mpz(self.p), mpz(self.q))

    @cached_property
    def g_lift(self) -> mpz:
        """g̃, the unique element of the order-q subgroup G̃ of Z_{p²}^* with g̃ ≡ g (mod p)."""
        return self.lift(self.g)

    def lift(self, x: int) -> mpz:
        """The lift x̃ ∈ G̃ ⊂ Z_{p²}^* of x ∈ G (see the module docstring, correction 2)."""
        return gmpy2.powmod(mpz(x), self.lift_exponent, self.p2)

    def contains(self, x: int) -> bool:
        """x ∈ G: 1 ≤ x < p and x^q ≡ 1 (mod p)."""
        return 0 < x < self.p and gmpy2.powmod(mpz(x), mpz(self.q), mpz(self.p)) == 1

    def contains_lifted(self, x: int) -> bool:
        """x ∈ G̃: 1 ≤ x < p² and x^q ≡ 1 (mod p²)."""
        return 0 < x < self.p2 and gmpy2.powmod(mpz(x), mpz(self.q), self.p2) == 1

    def random_exponent(self, rng: RandomSource | None = None) -> int:
        """A uniform element of Z_q^* (secret keys, α, r_i1, r_i2)."""
        rng = rng or _system_random()
        return rng.randrange(1, self.q)

    def validate(self, *, allow_insecure: bool = False) -> None:
        """Check primality, p − 1 = γq, the order of g and the sizes (raises ConfigError)."""
        _check_sizes(self.kappa1, self.q.bit_length(), allow_insecure)
        if not gmpy2.is_prime(mpz(self.q), PRIMALITY_ROUNDS):
            raise ConfigError("q is not prime: the group parameters are corrupt")
        if not gmpy2.is_prime(mpz(self.p), PRIMALITY_ROUNDS):
            raise ConfigError("p is not prime: the group parameters are corrupt")
        if (self.p - 1) % self.q:
            raise ConfigError("q does not divide p − 1: the group parameters are corrupt")
        if self.g in (0, 1) or not self.contains(self.g):
            raise ConfigError("g does not generate the order-q subgroup of Z_p^*")


def generate_group(
    kappa1: int = DEFAULT_KAPPA1,
    q_bits: int = DEFAULT_Q_BITS,
    *,
    allow_insecure: bool = False,
    rng: RandomSource | None = None,
) -> GroupParams:
    """SysGen's first bullet: a κ1-bit prime p = γ·q + 1 with a ``q_bits``-bit prime q, and g.

    q is picked first (gmpy2 ``next_prime`` of a random ``q_bits``-bit odd number), then even γ
    are drawn so that γ·q + 1 has exactly κ1 bits until it is prime (expected ≈ κ1·ln2/2 tries),
    then g = h^γ mod p for random h until g ≠ 1 (g then has order exactly q).
    """
    _check_sizes(kappa1, q_bits, allow_insecure)
    rng = rng or _system_random()
    while True:
        q = gmpy2.next_prime(mpz(rng.getrandbits(q_bits - 1)) | (mpz(1) << (q_bits - 1)))
        if q.bit_length() == q_bits:
            break
    lo = ((mpz(1) << (kappa1 - 1)) + q - 1) // q  # smallest γ with γq + 1 ≥ 2^{κ1−1}
    hi = ((mpz(1) << kappa1) - 2) // q  # largest γ with γq + 1 < 2^{κ1}
    while True:
        gamma = mpz(rng.randrange(int(lo), int(hi) + 1))
        gamma += gamma & 1
        if gamma > hi:
            continue
        p = gamma * q + 1
        if gmpy2.is_prime(p, PRIMALITY_ROUNDS):
            break
    while True:
        h = mpz(rng.randrange(2, int(p) - 1))
        g = gmpy2.powmod(h, gamma, p)
        if g != 1:
            break
    return GroupParams(p=int(p), q=int(q), g=int(g))


# --- the super-increasing vector a ---------------------------------------------------------------
@dataclass(frozen=True)
class SuperIncreasingVector:
    """a = (a_1 = 1, a_2, …, a_k) with Σ_{j<i} a_j·B < a_i, B = N·∇_max (§3.1, Eq. 2).

    ``bound`` is B, the largest value any coordinate of a *sum* may take. Packing (Eq. 2) is
    ∇̂ = Σ_j a_j ∇_j; Algorithm 2 unpacks it exactly while every coordinate is ≤ B and
    Σ_j a_j·B < p (Remark 1).
    """

    a: tuple[int, ...]
    bound: int

    def __post_init__(self) -> None:
        if not self.a or self.a[0] != 1:
            raise ConfigError("a super-increasing vector must start with a_1 = 1")
        if self.bound < 1:
            raise ConfigError(f"the bound N·∇_max must be ≥ 1, got {self.bound}")
        prefix = 0
        for i, ai in enumerate(self.a):
            if i and prefix * self.bound >= ai:
                raise ConfigError(
                    f"a is not super-increasing for bound {self.bound}: "
                    f"Σ_(j<{i + 1}) a_j·B = {prefix * self.bound} ≥ a_{i + 1} = {ai}"
                )
            prefix += ai

    @classmethod
    def geometric(cls, k: int, bound: int) -> SuperIncreasingVector:
        """a_i = 2^{b(i−1)} with b = bit length of B: Σ_{j<i} a_j·B ≤ 2^{b(i−1)} − 1 < a_i."""
        b = int(bound).bit_length()
        return cls(a=tuple(1 << (b * i) for i in range(k)), bound=int(bound))

    @staticmethod
    def capacity(bound: int, modulus: int) -> int:
        """Largest k for which the geometric vector satisfies Σ_{j=1}^{k} a_j·B < modulus."""
        b = int(bound).bit_length()
        k, total = 0, 0
        while total + (1 << (b * k)) * bound < modulus:
            total += (1 << (b * k)) * bound
            k += 1
        if k == 0:
            raise ConfigError(
                f"the bound N·∇_max = {bound} does not fit the plaintext space even once; "
                "lower the scale or clip bound, or raise κ1"
            )
        return k

    @property
    def k(self) -> int:
        """Number of coordinates one packed integer holds."""
        return len(self.a)

    @property
    def max_packed(self) -> int:
        """Σ_j a_j·B: the largest packed sum; must stay below the plaintext modulus p."""
        return sum(self.a) * self.bound

    def pack(self, values: Sequence[int]) -> int:
        """Eq. (2): ∇̂ = a_1∇_1 + … + a_m∇_m, for m ≤ k values in [0, B]."""
        if len(values) > self.k:
            raise ConfigError(f"{len(values)} values do not fit a vector of length {self.k}")
        total = 0
        for ai, v in zip(self.a, values, strict=False):
            v = int(v)
            if not 0 <= v <= self.bound:
                raise ConfigError(f"value {v} is outside [0, {self.bound}]: quantise it first")
            total += ai * v
        return total

    def unpack(self, value: int, count: int | None = None) -> list[int]:
        """Algorithm 2: t_m = ∇̂; for i = m … 2: t_{i−1} = t_i mod a_i, ∇_i = (t_i − t_{i−1})/a_i;
        ∇_1 = t_1.

        Raises :class:`DecryptionError` when a recovered coordinate exceeds B (the sum overflowed
        its bound, or the value is not a packed sum at all).
        """
        m = self.k if count is None else count
        if not 1 <= m <= self.k:
            raise ConfigError(f"cannot unpack {m} coordinates from a vector of length {self.k}")
        out = [0] * m
        t = int(value)
        if t < 0:
            raise DecryptionError(f"packed value {t} is negative")
        for i in range(m - 1, 0, -1):
            t_prev = t % self.a[i]
            out[i] = (t - t_prev) // self.a[i]
            t = t_prev
        out[0] = t
        if any(v > self.bound for v in out):
            raise DecryptionError(
                f"an unpacked coordinate exceeds the bound N·∇_max = {self.bound}: the sum "
                "overflowed its super-increasing slots or the ciphertexts are inconsistent"
            )
        return out


# --- system parameters -----------------------------------------------------------------------
@dataclass(frozen=True)
class SysPara:
    """SysPara = (p, q, G, g, β⃗, a) as sent to clients (§3.1, §3.4), plus the encoding.

    ``betas`` are the lifted β̃_j = g̃^{α_j} mod p², one per segment (module docstring); u =
    len(betas) = ⌈n/k⌉ with k = len(a). ``n_clients`` is N, which fixes the bound B = N·2Q.
    """

    group: GroupParams
    betas: tuple[int, ...]
    a: SuperIncreasingVector
    n_params: int
    n_clients: int
    quantiser: Quantiser
    kappa2: int = DEFAULT_KAPPA2

    @property
    def k(self) -> int:
        """Coordinates per segment."""
        return self.a.k

    @property
    def segments(self) -> int:
        """u = ⌈n/k⌉ (§3.4)."""
        return len(self.betas)

    def segment_slice(self, j: int) -> slice:
        """Coordinates of segment j (0-based): (j·k, min((j+1)·k, n))."""
        return slice(j * self.k, min((j + 1) * self.k, self.n_params))

    @property
    def width_p(self) -> int:
        """Bytes of one residue mod p."""
        return int_width(self.group.p)

    @property
    def width_p2(self) -> int:
        """Bytes of one residue mod p²."""
        return int_width(int(self.group.p2))

    @property
    def message_shapes(self) -> list[tuple[int, int]]:
        """(count, width) of the two groups of a client message: u E(∇̂_ij), then (A_i, B_i)."""
        return [(self.segments, self.width_p2), (2, self.width_p)]

    @property
    def message_size(self) -> int:
        """Bytes of one client message (u + 2 ciphertexts plus the frame)."""
        return frame_size(self.message_shapes)

    # --- JSON (what the server publishes to clients) --------------------------------------
    def to_json_dict(self) -> dict[str, Any]:
        """Public parameters as JSON-ready data (integers as hex strings); no secrets."""
        if self.a != SuperIncreasingVector.geometric(self.a.k, self.a.bound):
            raise ConfigError("only the geometric super-increasing vector is serialised")
        return {
            "type": SYSPARA_JSON_TYPE,
            "version": SYSPARA_JSON_VERSION,
            "p": hex(self.group.p),
            "q": hex(self.group.q),
            "g": hex(self.group.g),
            "betas": [hex(b) for b in self.betas],
            "a": {"kind": "geometric", "k": self.a.k, "bound": self.a.bound},
            "n_params": self.n_params,
            "n_clients": self.n_clients,
            "quantiser": {"clip": self.quantiser.clip, "scale": self.quantiser.scale},
            "kappa2": self.kappa2,
        }

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces): :meth:`fingerprint` hashes exactly this."""
        return canonical_json(self.to_json_dict()).decode("utf-8")

    def fingerprint(self) -> bytes:
        """keccak256 of the canonical JSON: identifies SysPara on the ledger."""
        return keccak256(canonical_json(self.to_json_dict()))

    @classmethod
    def from_json(cls, text: str, *, allow_insecure: bool = False) -> SysPara:
        """Parse and fully validate published parameters (SerializationError / ConfigError)."""
        try:
            data = json.loads(text)
            if data.get("type") != SYSPARA_JSON_TYPE:
                raise SerializationError(f"not multi-key SysPara JSON (type {data.get('type')!r})")
            if data.get("version") != SYSPARA_JSON_VERSION:
                raise SerializationError(f"unsupported SysPara version {data.get('version')!r}")
            group = GroupParams(int(data["p"], 16), int(data["q"], 16), int(data["g"], 16))
            a_spec = data["a"]
            if a_spec.get("kind") != "geometric":
                raise SerializationError(f"unknown super-increasing vector kind {a_spec!r}")
            para = cls(
                group=group,
                betas=tuple(int(b, 16) for b in data["betas"]),
                a=SuperIncreasingVector.geometric(int(a_spec["k"]), int(a_spec["bound"])),
                n_params=int(data["n_params"]),
                n_clients=int(data["n_clients"]),
                quantiser=Quantiser(**data["quantiser"]),
                kappa2=int(data["kappa2"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, SerializationError):
                raise
            raise SerializationError(f"malformed SysPara JSON: {exc}") from exc
        para.validate(allow_insecure=allow_insecure)
        return para

    def validate(self, *, allow_insecure: bool = False) -> None:
        """What a client checks on receiving SysPara (raises ConfigError)."""
        self.group.validate(allow_insecure=allow_insecure)
        if self.kappa2 not in (128, 192, 256):
            raise ConfigError(f"κ2 must be an AES key size (128, 192, 256), got {self.kappa2}")
        if self.a.bound < self.quantiser.sum_bound(self.n_clients):
            raise ConfigError("a's bound is below N·∇_max: sums would overflow their slots")
        if self.a.max_packed >= self.group.p:
            raise ConfigError("Σ a_j·N·∇_max ≥ p: packed sums would leave the plaintext space")
        if self.segments != math.ceil(self.n_params / self.k):
            raise ConfigError(f"{self.segments} server keys for ⌈n/k⌉ segments is inconsistent")
        for beta in self.betas:
            if beta == 1 or not self.group.contains_lifted(beta):
                raise ConfigError("a server key β_j is not in the order-q subgroup of Z_{p²}^*")


def _hash_to_key(x: int, width: int, kappa2: int) -> bytes:
    """H : G → {0,1}^{κ2}: SHA-256 of a tagged fixed-width encoding, truncated to κ2 bits."""
    return hashlib.sha256(_H_TAG + int(x).to_bytes(width, "big")).digest()[: kappa2 // 8]


def _model_aad(round_index: int, client_id: int) -> bytes:
    return _AAD_TAG + round_index.to_bytes(8, "big") + client_id.to_bytes(4, "big")


# --- messages -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClientCiphertext:
    """E(∇̂_i) = (E_i1, E_i2) of one client, parsed and validated."""

    round_index: int
    attempt: int
    client_id: int
    e1: tuple[int, ...]  # E(∇̂_ij), j = 1 … u, mod p²
    a: int  # g^{r_i2} mod p
    b: int  # g^{r_i1} · pk_S^{r_i2} mod p

    def to_bytes(self, para: SysPara) -> bytes:
        """The wire form (see :mod:`hefl.secagg.wire`)."""
        return encode_frame(
            MAGIC,
            self.round_index,
            self.attempt,
            self.client_id,
            [(self.e1, para.width_p2), ((self.a, self.b), para.width_p)],
        )

    @classmethod
    def from_bytes(
        cls, data: bytes, para: SysPara, *, check_subgroup: bool = True
    ) -> ClientCiphertext:
        """Parse and validate: exact length, digest, residues in range, E_i2 in G, and (unless
        ``check_subgroup=False``) every E(∇̂_ij) mod p in G.

        Raises :class:`SerializationError` naming the bad field. The server defers the u
        subgroup tests of E_i1 (one exponentiation each, most of its time) to
        :meth:`check_subgroup`, run only when the aggregate fails to decrypt: a valid aggregate
        proves them all (x_j ≡ 1 mod p), and a failing one is then blamed on its sender.
        """
        frame = decode_frame(data, MAGIC, para.message_shapes)
        e1, (a, b) = frame.groups
        grp = para.group
        for j, e in enumerate(e1):
            if not 0 < e < grp.p2 or e % grp.p == 0:
                raise SerializationError(
                    f"client {frame.client_id}: ciphertext E(∇̂_i{j + 1}) is not a unit of "
                    "Z_{p²}; the message was tampered with or is corrupt"
                )
        for name, x in (("g^{r_i2}", a), ("g^{r_i1}·pk_S^{r_i2}", b)):
            if not grp.contains(x):
                raise SerializationError(
                    f"client {frame.client_id}: E_i2 component {name} is not in the subgroup G; "
                    "the message was tampered with or is corrupt"
                )
        ct = cls(frame.round_index, frame.attempt, frame.client_id, tuple(e1), a, b)
        if check_subgroup:
            ct.check_subgroup(para)
        return ct

    def check_subgroup(self, para: SysPara) -> None:
        """E(∇̂_ij) = (1 + ∇̂ p)·β̃_j^{r} has its residue mod p in G, for every segment j."""
        grp = para.group
        for j, e in enumerate(self.e1):
            if not grp.contains(e % grp.p):
                raise SerializationError(
                    f"client {self.client_id}: ciphertext E(∇̂_i{j + 1}) does not lie over the "
                    "subgroup G; the message was tampered with or is corrupt"
                )


@dataclass(frozen=True)
class AggregateCiphertext:
    """(E_Agg, d, T) of Agg (§3.3): E_Agg per segment, d = Π B_i, T = Π T_i."""

    e_agg: tuple[int, ...]
    d: int
    t: int
    count: int


@dataclass(frozen=True)
class RoundOffer:
    """What the server sends to each client of S: (W_i*, pk_S) (§3.2, step 3)."""

    round_index: int
    attempt: int
    online: frozenset[int]
    pk_s: int
    models: Mapping[int, bytes]


@dataclass
class _RoundState:
    round_index: int
    attempt: int
    online: frozenset[int]
    pk_s: int
    received: dict[int, ClientCiphertext] = field(default_factory=dict)
    challenge: int | None = None


# --- the server -------------------------------------------------------------------------------
class MultiKeyServer:
    """The server: SysGen, AggPKGen, SE, ChelGen, Agg, Dec and Algorithm 2."""

    def __init__(self, para: SysPara, alphas: Sequence[int], *, eager_checks: bool = False) -> None:
        """``eager_checks``: test every E(∇̂_ij) ∈ G on receipt instead of only on failure."""
        if len(alphas) != para.segments:
            raise ConfigError(f"{len(alphas)} server secrets for {para.segments} segments")
        self.para = para
        self.eager_checks = eager_checks
        self._alphas = tuple(int(x) for x in alphas)
        self._pks: dict[int, int] = {}
        self._round: _RoundState | None = None

    @classmethod
    def sys_gen(
        cls,
        n_params: int,
        n_clients: int,
        quantiser: Quantiser | None = None,
        *,
        kappa1: int = DEFAULT_KAPPA1,
        q_bits: int = DEFAULT_Q_BITS,
        kappa2: int = DEFAULT_KAPPA2,
        allow_insecure: bool = False,
        group: GroupParams | None = None,
        rng: RandomSource | None = None,
    ) -> MultiKeyServer:
        """SysGen(κ1, κ2) → (p, q, G, g, β⃗, a, H) (§3.1, §3.4).

        Draws (p, q, g) unless ``group`` is given (e.g. a cached or published group), then
        k = the largest segment length with Σ_{j≤k} a_j·N·2Q < p, u = ⌈n/k⌉ server secrets
        α_j ∈ Z_q^* and β̃_j = g̃^{α_j} mod p².
        """
        if not isinstance(n_params, int) or n_params < 1:
            raise ConfigError(f"n_params must be a positive integer, got {n_params!r}")
        if not isinstance(n_clients, int) or n_clients < 2:
            raise ConfigError(
                f"n_clients must be ≥ 2 (one client alone would reveal its gradient), "
                f"got {n_clients!r}"
            )
        quantiser = quantiser or Quantiser()
        if group is None:
            group = generate_group(kappa1, q_bits, allow_insecure=allow_insecure, rng=rng)
        else:
            _check_sizes(group.kappa1, group.q.bit_length(), allow_insecure)
        bound = quantiser.sum_bound(n_clients)
        k = min(SuperIncreasingVector.capacity(bound, group.p), n_params)
        a = SuperIncreasingVector.geometric(k, bound)
        u = math.ceil(n_params / k)
        alphas = [group.random_exponent(rng) for _ in range(u)]
        betas = tuple(int(gmpy2.powmod(group.g_lift, mpz(al), group.p2)) for al in alphas)
        para = SysPara(group, betas, a, n_params, n_clients, quantiser, kappa2)
        return cls(para, alphas)

    @property
    def secret_alphas(self) -> tuple[int, ...]:
        """The server's private keys α_j (used by the §4.1.3 analysis, where it is the attacker)."""
        return self._alphas

    @property
    def public_keys(self) -> Mapping[int, int]:
        """pk_i of every registered client."""
        return dict(self._pks)

    def register(self, client_id: int, pk: int) -> None:
        """Store pk_i (end of KeyGen: C_i sends pk_i to the server). pk_i must be in G \\ {1}."""
        if pk == 1 or not self.para.group.contains(pk):
            raise SerializationError(f"client {client_id}: public key is not in G \\ {{1}}")
        self._pks[client_id] = int(pk)

    def agg_pk_gen(self, online: Iterable[int]) -> int:
        """AggPKGen(pk_i, S) → pk_S = Π_{C_i∈S} pk_i = g^{Σ sk_i} mod p (§3.2, step 1)."""
        p = mpz(self.para.group.p)
        pk_s = mpz(1)
        for cid in online:
            if cid not in self._pks:
                raise ProtocolError(f"client {cid} has no registered public key")
            pk_s = pk_s * self._pks[cid] % p
        return int(pk_s)

    def symmetric_key(self, client_id: int) -> bytes:
        """key_i = H(pk_i^{α}) = H(g^{α·sk_i}) (§3.2, step 2; α = α_1 with segments)."""
        para = self.para
        shared = gmpy2.powmod(mpz(self._pks[client_id]), mpz(self._alphas[0]), mpz(para.group.p))
        return _hash_to_key(int(shared), para.width_p, para.kappa2)

    def se(self, client_id: int, model: np.ndarray, round_index: int) -> bytes:
        """SE(pk_i, α, H, W) → W_i* = nonce ‖ AES-GCM_{key_i}(W) (§3.2, step 2).

        W is sent as big-endian float64; the associated data binds the round and the client.
        """
        nonce = os.urandom(_NONCE_BYTES)
        body = np.asarray(model, dtype=">f8").tobytes()
        aead = AESGCM(self.symmetric_key(client_id))
        return nonce + aead.encrypt(nonce, body, _model_aad(round_index, client_id))

    def begin_round(
        self,
        round_index: int,
        online: Collection[int],
        model: np.ndarray | None = None,
        *,
        attempt: int = 0,
    ) -> RoundOffer:
        """Fix S, compute pk_S and each W_i* (§3.2 steps 1–3); |S| < 2 → LoneClientError."""
        members = frozenset(online)
        if len(members) < 2:
            raise LoneClientError(
                f"only {len(members)} client(s) online in round {round_index}: a lone "
                "client's ciphertext would decrypt to its own gradient (Theorem 4); wait for "
                "at least two clients"
            )
        pk_s = self.agg_pk_gen(sorted(members))
        models = (
            {}
            if model is None
            else {cid: self.se(cid, model, round_index) for cid in sorted(members)}
        )
        self._round = _RoundState(round_index, attempt, members, pk_s)
        return RoundOffer(round_index, attempt, members, pk_s, models)

    def _state(self) -> _RoundState:
        if self._round is None:
            raise ProtocolError("no round in progress: call begin_round first")
        return self._round

    def receive(self, message: bytes) -> ClientCiphertext:
        """Parse, validate and store one client's E(∇̂_i) for the current round."""
        st = self._state()
        ct = ClientCiphertext.from_bytes(message, self.para, check_subgroup=self.eager_checks)
        if (ct.round_index, ct.attempt) != (st.round_index, st.attempt):
            raise ProtocolError(
                f"client {ct.client_id}: message for round {ct.round_index} attempt "
                f"{ct.attempt}, but round {st.round_index} attempt {st.attempt} is running"
            )
        if ct.client_id not in st.online:
            raise ProtocolError(f"client {ct.client_id} is not in the online set S of this round")
        if ct.client_id in st.received:
            raise ProtocolError(f"client {ct.client_id} already sent its ciphertext")
        st.received[ct.client_id] = ct
        return ct

    def chel_gen(self) -> int:
        """ChelGen → R = Π_{C_i∈S} g^{r_i2} = g^{Σ r_i2} mod p (§3.3, step 1).

        Every client of S must have sent its ciphertext (their sk_i are inside pk_S); otherwise
        :class:`RoundRestartRequired` names the clients to restart with.
        """
        st = self._state()
        missing = st.online - st.received.keys()
        if missing:
            raise RoundRestartRequired(st.received.keys(), missing)
        p = mpz(self.para.group.p)
        r = mpz(1)
        for cid in sorted(st.online):
            r = r * st.received[cid].a % p
        st.challenge = int(r)
        return st.challenge

    def agg(self, responses: Mapping[int, int]) -> AggregateCiphertext:
        """Agg(E(∇̂_i), T_i) → (E_Agg, d, T) (§3.3, step 3).

        E_Agg,j = Π E(∇̂_ij) mod p², d = Π g^{r_i1}·pk_S^{r_i2} mod p, T = Π T_i mod p.
        Clients of S without a valid response are removed: :class:`RoundRestartRequired`.
        """
        st = self._state()
        if st.challenge is None:
            raise ProtocolError("Agg before ChelGen: send the challenge R first")
        grp = self.para.group
        answered = {cid for cid, t in responses.items() if cid in st.online}
        for cid in answered:
            if responses[cid] == 1 or not grp.contains(responses[cid]):
                raise SerializationError(f"client {cid}: response T_i is not in G \\ {{1}}")
        missing = st.online - answered
        if missing:
            raise RoundRestartRequired(answered, missing)
        p, p2 = mpz(grp.p), grp.p2
        e_agg = [mpz(1)] * self.para.segments
        d, t = mpz(1), mpz(1)
        for cid in sorted(st.online):
            ct = st.received[cid]
            e_agg = [x * e % p2 for x, e in zip(e_agg, ct.e1, strict=True)]
            d = d * ct.b % p
            t = t * responses[cid] % p
        return AggregateCiphertext(tuple(int(x) for x in e_agg), int(d), int(t), len(st.online))

    def dec(self, agg: AggregateCiphertext) -> list[int]:
        """Dec(E_Agg, d, T, α) → ∇̂ = Σ ∇̂_i per segment (§3.3, corrected).

        d/T = g^{Σ r_i1} mod p; its lift z̃ = (d/T)^e mod p² is the G̃ element g̃^{Σ r_i1};
        x_j = E_Agg,j · z̃^{−α_j} = (p+1)^{∇̂_j} mod p² and ∇̂_j = L(x_j) = (x_j − 1)/p.
        x_j ≢ 1 (mod p) means the inputs were inconsistent: :class:`DecryptionError`.
        """
        grp = self.para.group
        p, p2, q = mpz(grp.p), grp.p2, mpz(grp.q)
        z = mpz(agg.d) * gmpy2.invert(mpz(agg.t), p) % p
        z_lift = grp.lift(int(z))
        blinds = fixed_base_powers(z_lift, [q - a for a in self._alphas], p2, grp.q.bit_length())
        out = []
        for j, (e, blind) in enumerate(zip(agg.e_agg, blinds, strict=True)):
            x = mpz(e) * blind % p2
            if (x - 1) % p:
                raise DecryptionError(
                    f"segment {j + 1}: E_Agg·(d/T)^(−α) is not of the form (p+1)^m; the "
                    "ciphertexts and responses do not belong together"
                )
            out.append(int((x - 1) // p))
        return out

    def recover(self, packed: Sequence[int]) -> np.ndarray:
        """Algorithm 2 on every segment: the summed quantised coordinates (int64, length n)."""
        para = self.para
        out = np.empty(para.n_params, dtype=np.int64)
        for j, value in enumerate(packed):
            sl = para.segment_slice(j)
            out[sl] = para.a.unpack(value, sl.stop - sl.start)
        return out

    def finish(self, responses: Mapping[int, int]) -> np.ndarray:
        """Agg, Dec, Algorithm 2 and de-quantisation: Σ_{C_i∈S} ∇_i as float64.

        If Dec fails, the deferred subgroup tests run on every received ciphertext and the
        error names the client whose E(∇̂_ij) is invalid (:class:`SerializationError`).
        """
        agg = self.agg(responses)
        try:
            packed = self.dec(agg)
        except DecryptionError:
            for ct in self._state().received.values():
                ct.check_subgroup(self.para)
            raise
        summed = self.recover(packed)
        self._round = None
        return self.para.quantiser.decode_sum(summed, agg.count)


# --- a client ---------------------------------------------------------------------------------
class MultiKeyClient:
    """A client C_i: KeyGen, the lone-client check, DSE, Enc and ResGen."""

    def __init__(self, client_id: int, para: SysPara, sk: int) -> None:
        if not 0 < sk < para.group.q:
            raise ConfigError("sk_i must lie in Z_q^*")
        self.client_id = client_id
        self.para = para
        self._sk = int(sk)
        self.pk = int(gmpy2.powmod(mpz(para.group.g), mpz(sk), mpz(para.group.p)))
        self._pk_s: int | None = None
        self._round: tuple[int, int] | None = None
        self._answered: set[tuple[int, int]] = set()

    @classmethod
    def key_gen(
        cls, client_id: int, para: SysPara, rng: RandomSource | None = None
    ) -> MultiKeyClient:
        """KeyGen(p, q, G, g, β, a) → (pk_i, sk_i): sk_i ∈ Z_q, pk_i = g^{sk_i} mod p (§3.1)."""
        return cls(client_id, para, para.group.random_exponent(rng))

    @property
    def secret_key(self) -> int:
        """sk_i (exposed for the §4.1.3 collusion analysis, where colluders pool their keys)."""
        return self._sk

    def begin_round(self, round_index: int, pk_s: int, *, attempt: int = 0) -> None:
        """Accept pk_S for a round. pk_S = pk_i means C_i is alone: :class:`LoneClientError`."""
        if pk_s == 1 or not self.para.group.contains(pk_s):
            raise SerializationError("pk_S is not in the subgroup G")
        if pk_s == self.pk:
            raise LoneClientError(
                f"client {self.client_id}: pk_S = pk_i, it is the only online client; "
                "stopping without uploading (§3.2)"
            )
        self._pk_s = int(pk_s)
        self._round = (round_index, attempt)

    def dse(self, model_ct: bytes) -> np.ndarray:
        """DSE(β, H, sk_i, W_i*) → W with key_i = H(β^{sk_i}) = H(g^{α sk_i}) (§3.2)."""
        if self._round is None:
            raise ProtocolError("DSE before begin_round")
        grp = self.para.group
        shared = gmpy2.powmod(mpz(self.para.betas[0]) % grp.p, mpz(self._sk), mpz(grp.p))
        key = _hash_to_key(int(shared), self.para.width_p, self.para.kappa2)
        if len(model_ct) < _NONCE_BYTES + 16:
            raise SerializationError(f"encrypted model of {len(model_ct)} bytes is truncated")
        nonce, body = model_ct[:_NONCE_BYTES], model_ct[_NONCE_BYTES:]
        try:
            plain = AESGCM(key).decrypt(nonce, body, _model_aad(self._round[0], self.client_id))
        except InvalidTag as exc:
            raise DecryptionError(
                f"client {self.client_id}: the encrypted model W_i* fails authentication "
                "(wrong key, wrong round, or tampered)"
            ) from exc
        return np.frombuffer(plain, dtype=">f8").astype(np.float64)

    def enc(
        self,
        gradient: np.ndarray,
        *,
        quantised: bool = False,
        randomness: tuple[int, int] | None = None,
    ) -> bytes:
        """Enc(∇_i, pk_S, SysPara) → E(∇̂_i) = (E_i1, E_i2) as bytes (Eq. 2, §3.2, §3.4).

        ``gradient`` is real (quantised here: clip at ∇_max, scale, offset) unless
        ``quantised=True`` (then integers in [0, 2Q]). Per segment j:
        E(∇̂_ij) = (1 + ∇̂_ij·p) · β̃_j^{r_i1} mod p²; then E_i2 = (g^{r_i2}, g^{r_i1}·pk_S^{r_i2})
        mod p. ``randomness`` = (r_i1, r_i2) fixes the coins (the collusion analysis needs the
        colluders' own r_i2); by default fresh uniform coins in Z_q^*.
        """
        if self._pk_s is None or self._round is None:
            raise ProtocolError("Enc before begin_round: the client has no pk_S")
        para = self.para
        grp = para.group
        if quantised:
            values = np.asarray(gradient, dtype=np.int64)
            if values.ndim != 1 or values.min(initial=0) < 0:
                raise ConfigError("quantised gradients must be a 1-D array of integers ≥ 0")
            if values.max(initial=0) > para.quantiser.int_max:
                raise ConfigError(f"quantised values must be ≤ 2Q = {para.quantiser.int_max}")
        else:
            values = para.quantiser.encode(gradient)
        if values.shape != (para.n_params,):
            raise ConfigError(
                f"gradient has {values.shape[0]} coordinates, SysPara says n = {para.n_params}"
            )
        r1, r2 = randomness or (grp.random_exponent(), grp.random_exponent())
        p, p2 = mpz(grp.p), grp.p2
        r1m = mpz(r1)
        ints = values.tolist()
        e1 = []
        for j, beta in enumerate(para.betas):
            sl = para.segment_slice(j)
            packed = para.a.pack(ints[sl])  # ∇̂_ij, Eq. (2)
            e1.append(int((1 + packed * p) * gmpy2.powmod(mpz(beta), r1m, p2) % p2))
        g = mpz(grp.g)
        a = gmpy2.powmod(g, mpz(r2), p)
        b = gmpy2.powmod(g, r1m, p) * gmpy2.powmod(mpz(self._pk_s), mpz(r2), p) % p
        round_index, attempt = self._round
        ct = ClientCiphertext(round_index, attempt, self.client_id, tuple(e1), int(a), int(b))
        return ct.to_bytes(para)

    def res_gen(self, challenge: int) -> int:
        """ResGen(R) → T_i = R^{sk_i} mod p (§3.3, step 2); once per round attempt, R ∈ G \\ {1}."""
        if self._round is None:
            raise ProtocolError("ResGen before begin_round")
        if challenge == 1 or not self.para.group.contains(challenge):
            raise SerializationError("the challenge R is not in G \\ {1}")
        if self._round in self._answered:
            raise ProtocolError(
                f"client {self.client_id} already answered a challenge in round "
                f"{self._round[0]} attempt {self._round[1]}"
            )
        self._answered.add(self._round)
        return int(gmpy2.powmod(mpz(challenge), mpz(self._sk), mpz(self.para.group.p)))
