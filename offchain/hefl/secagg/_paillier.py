"""Paillier backend for the two Paillier baselines.

hefl's own engine (:mod:`hefl.crypto.keys`: ``generate_keypair``, ``PublicKey.encrypt_int``,
``PrivateKey.decrypt_int``) is used when it is importable. Until it exists, a minimal textbook
Paillier on gmpy2 stands in (g = n + 1, c = (1 + m·n)·r^n mod n², CRT decryption as in phe),
exposing the same method names. :func:`paillier_backend` says which one is in use.
"""

from __future__ import annotations

import secrets
import warnings
from typing import Any

import gmpy2
from gmpy2 import mpz

from hefl.errors import InsecureParameterError

#: Smallest modulus accepted without ``allow_insecure``.
MIN_SECURE_BITS = 2048


class TextbookPublicKey:
    """n, n² and encryption c = (1 + m·n)·r^n mod n² (textbook Paillier, fresh r ∈ Z_n^*)."""

    def __init__(self, n: int) -> None:
        self.n = mpz(n)
        self.nsquare = self.n * self.n

    def encrypt_int(self, m: int) -> mpz:
        while True:
            r = mpz(secrets.randbelow(int(self.n) - 1) + 1)
            if gmpy2.gcd(r, self.n) == 1:
                break
        return (1 + mpz(m) * self.n) * gmpy2.powmod(r, self.n, self.nsquare) % self.nsquare


class TextbookPrivateKey:
    """CRT decryption: m_p = L_p(c^{p−1} mod p²)·h_p mod p, likewise q, recombined."""

    def __init__(self, public_key: TextbookPublicKey, p: int, q: int) -> None:
        self.public_key = public_key
        self.p, self.q = mpz(p), mpz(q)
        self.psquare, self.qsquare = self.p * self.p, self.q * self.q
        n = public_key.n
        self.hp = gmpy2.invert(
            self._l(gmpy2.powmod(n + 1, self.p - 1, self.psquare), self.p), self.p
        )
        self.hq = gmpy2.invert(
            self._l(gmpy2.powmod(n + 1, self.q - 1, self.qsquare), self.q), self.q
        )
        self.p_inv_q = gmpy2.invert(self.p, self.q)

    @staticmethod
    def _l(u: mpz, d: mpz) -> mpz:
        return (u - 1) // d

    def decrypt_int(self, c: int) -> mpz:
        c = mpz(c)
        mp = self._l(gmpy2.powmod(c, self.p - 1, self.psquare), self.p) * self.hp % self.p
        mq = self._l(gmpy2.powmod(c, self.q - 1, self.qsquare), self.q) * self.hq % self.q
        return mp + ((mq - mp) * self.p_inv_q % self.q) * self.p


def _textbook_keypair(bits: int) -> tuple[TextbookPublicKey, TextbookPrivateKey]:
    half = bits // 2
    while True:
        p = gmpy2.next_prime(mpz(secrets.randbits(half)) | (mpz(3) << (half - 2)))
        q = gmpy2.next_prime(mpz(secrets.randbits(half)) | (mpz(3) << (half - 2)))
        n = p * q
        if p != q and n.bit_length() == bits:
            pub = TextbookPublicKey(int(n))
            return pub, TextbookPrivateKey(pub, int(p), int(q))


def paillier_backend() -> str:
    """``"hefl.crypto"`` when hefl's Paillier engine is importable, else ``"textbook"``."""
    try:
        from hefl.crypto.keys import generate_keypair  # noqa: F401
    except ImportError:
        return "textbook"
    return "hefl.crypto"


def generate_keypair(bits: int, *, allow_insecure: bool = False) -> tuple[Any, Any]:
    """A Paillier key pair from the active backend (see :func:`paillier_backend`)."""
    if paillier_backend() == "hefl.crypto":
        from hefl.crypto.keys import generate_keypair as engine_keypair

        with warnings.catch_warnings():
            if allow_insecure:
                warnings.simplefilter("ignore")
            return engine_keypair(bits, allow_insecure=allow_insecure)
    if bits < MIN_SECURE_BITS and not allow_insecure:
        raise InsecureParameterError(
            f"a {bits}-bit Paillier modulus is below {MIN_SECURE_BITS} bits; pass "
            "allow_insecure=True only for tests and benchmarks"
        )
    return _textbook_keypair(bits)
