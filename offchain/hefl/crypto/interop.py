"""Interoperability with python-paillier (phe): keys and encrypted numbers, both ways.

Both libraries use g = n + 1 and the same safe band (max_int = n//3 − 1), so a ciphertext means
the same residue in both. They differ in the fixed-point scale: phe's ``EncryptedNumber`` stands
for mantissa · 16^exponent, hefl's vector for x / 2^f, so scale f ↔ exponent −f/4 and a hefl scale
that is not a multiple of 4 is first aligned up (c ↦ c^(2^Δ)).

phe is GPL-licensed and a test and benchmark dependency only: it is imported inside these
functions, never at module import. The classes call them from their ``to_phe`` / ``from_phe``
methods (:class:`~hefl.crypto.keys.PublicKey`, :class:`~hefl.crypto.keys.PrivateKey`,
:class:`~hefl.crypto.vector.EncryptedVector`); this module knows phe, not the classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gmpy2
from gmpy2 import mpz

from hefl.errors import CryptoValueError, KeyMismatchError

__all__ = [
    "PHE_BASE_BITS",
    "modulus_from_phe",
    "numbers_from_phe",
    "phe_numbers",
    "phe_private_key",
    "phe_public_key",
    "phe_scale_bits",
    "primes_from_phe",
]

#: phe's ``EncodedNumber.BASE`` is 16 = 2^4: one phe exponent step is 4 bits of hefl scale.
PHE_BASE_BITS = 4


def phe_public_key(n: int) -> Any:
    """``phe.paillier.PaillierPublicKey`` of modulus n (needs phe installed)."""
    from phe import paillier  # GPL, test/bench only: lazy

    return paillier.PaillierPublicKey(int(n))


def phe_private_key(n: int, p: int, q: int) -> Any:
    """``phe.paillier.PaillierPrivateKey`` for n = p·q (needs phe installed)."""
    from phe import paillier  # GPL, test/bench only: lazy

    return paillier.PaillierPrivateKey(phe_public_key(n), int(p), int(q))


def modulus_from_phe(phe_public_key: Any) -> int:
    """n of a ``PaillierPublicKey``; only g = n + 1 (phe's default) is supported."""
    if int(phe_public_key.g) != int(phe_public_key.n) + 1:
        raise CryptoValueError("phe public key with g ≠ n + 1 is not supported")
    return int(phe_public_key.n)


def primes_from_phe(phe_private_key: Any) -> tuple[int, int, int]:
    """(n, p, q) of a ``PaillierPrivateKey``."""
    n = modulus_from_phe(phe_private_key.public_key)
    return n, int(phe_private_key.p), int(phe_private_key.q)


def phe_scale_bits(scale_bits: int) -> int:
    """The smallest scale ≥ ``scale_bits`` that phe can express (a multiple of 4)."""
    return -(-scale_bits // PHE_BASE_BITS) * PHE_BASE_BITS


def phe_numbers(n: int, ciphertexts: Sequence[int], scale_bits: int) -> list[Any]:
    """phe ``EncryptedNumber`` s of ciphertexts at hefl scale ``scale_bits`` (a multiple of 4)."""
    if scale_bits % PHE_BASE_BITS:
        raise CryptoValueError(f"phe needs a scale that is a multiple of 4, got {scale_bits}")
    from phe import paillier  # GPL, test/bench only: lazy

    public = phe_public_key(n)
    exponent = -(scale_bits // PHE_BASE_BITS)
    return [paillier.EncryptedNumber(public, int(c), exponent) for c in ciphertexts]


def numbers_from_phe(numbers: Sequence[Any], n: int) -> tuple[list[mpz], int]:
    """Ciphertexts of phe ``EncryptedNumber`` s aligned to their smallest exponent e_min.

    Returns (ciphertexts, e_min): c_i^(16^(e_i − e_min)) mod n², all at phe exponent e_min.
    """
    for x in numbers:
        if int(x.public_key.n) != int(n):
            raise KeyMismatchError("from_phe: a number is encrypted under another key")
    e_min = min(int(x.exponent) for x in numbers)
    nsq = mpz(n) * mpz(n)
    cts = [
        gmpy2.powmod(mpz(x.ciphertext(be_secure=False)), mpz(16) ** (int(x.exponent) - e_min), nsq)
        for x in numbers
    ]
    return cts, e_min
