"""The per-operation constants of the ``planned`` cost model, timed on this machine
(``hefl costs calibrate``).

* μ_M, cycles per modular multiplication modulo n²: the products a participant's update runs
  (:data:`CALIBRATION_PRODUCTS`: a dense d × d map and the low-rank form's three products, with
  exponents of s + 1 bits) are timed on random ciphertexts and exponents with
  :func:`hefl.crypto.multiexp.multi_exp_rows`, and their seconds divided by their estimated
  multiplications (:attr:`hefl.learning.fused.Product.cost`, the count ``plan_update`` prices
  with): μ_M = Σ seconds / Σ estimated multiplications × f_max.
* μ_D, cycles per full-CRT decryption (a packed gradient ciphertext:
  ``PrivateKey.decrypt_ints``), and μ_Ds per decryption by the p-half of CRT (the models:
  ``PrivateKey.decrypt_small``), each from a batch of :data:`DECRYPTION_BATCH` ciphertexts with
  the party's decryption threads.
* μ_H per half-size modular multiplication of the party's own packing (the Horner of
  ``PrivateKey.decrypt_shifted_sums``, modulo p² and q² apart, by which
  :func:`hefl.crypto.vector.decrypt_repacked` packs a plain vector before decrypting it): one
  group of the :data:`DECRYPTION_BATCH` ciphertexts with digits of :data:`REPACK_SLOT_BITS` bits,
  less the same call on a group of one (its decryption alone), over the group's
  2·(L − 1)·(b + 1) multiplications (b squarings and one product per digit, per prime).

Seconds become cycles at Table 1's f_max (seconds × f_max), like the other calibrated constants
(:mod:`hefl.experiments.calibrate`): the model at f_max then gives back the measured seconds.
Every time is the least of ``repeats`` wall-clock runs after an unmeasured warm-up.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass

import gmpy2

from hefl.costs.parameters import CostParameters
from hefl.crypto import PrivateKey, PublicKey, generate_keypair
from hefl.crypto.multiexp import multi_exp_rows
from hefl.errors import ConfigError
from hefl.learning.fused import Product
from hefl.learning.paillier import FixedPointConfig
from hefl.timing import best_of

__all__ = [
    "CALIBRATION_PRODUCTS",
    "DECRYPTION_BATCH",
    "REPACK_SLOT_BITS",
    "OperationTiming",
    "fit_operations",
    "time_operations",
]

#: d and |D_i| of the timed products: one dense d × d map, and the low-rank form's X̃ (|D_i| × d),
#: P̃ (|D_i| × |D_i|) and X̃ᵀ (d × |D_i|), at the default significant bits (+ the sign).
_D, _ROWS, _BITS = 64, 16, FixedPointConfig().significant_bits + 1
CALIBRATION_PRODUCTS: tuple[Product, ...] = (
    Product(_D, _D, _BITS),
    Product(_ROWS, _D, _BITS),
    Product(_ROWS, _ROWS, _BITS),
    Product(_D, _ROWS, _BITS),
)
#: Ciphertexts per timed decryption batch (the party decrypts (2 + N)·d at once: hundreds; the
#: threads of a batch pay off only in a batch of that size).
DECRYPTION_BATCH = 256
#: The digit bits b of the timed Horner (a local model's at 2048 bits: ≈ 109 bits, plus the sign).
REPACK_SLOT_BITS = 110


@dataclass(frozen=True)
class OperationTiming:
    """Seconds per operation on this machine.

    Attributes:
        key_bits: the Paillier modulus they were measured at.
        multiplication: seconds per estimated modular multiplication modulo n².
        decryption: seconds per full-CRT decryption.
        small_decryption: seconds per p-half decryption.
        multiplications_timed: Σ estimated multiplications of the timed products.
        repack_multiplication: seconds per half-size modular multiplication of the party's
            packing (Horner modulo p² and q²).
    """

    key_bits: int
    multiplication: float
    decryption: float
    small_decryption: float
    multiplications_timed: float
    repack_multiplication: float


def _signed(bits: int) -> int:
    value = secrets.randbits(bits - 1)
    return -value if secrets.randbits(1) else value


def _product_seconds(public: PublicKey, product: Product, repeats: int) -> float:
    bases = [gmpy2.mpz(secrets.randbelow(int(public.nsquare))) | 1 for _ in range(product.terms)]
    rows = [[_signed(product.exp_bits) for _ in range(product.terms)] for _ in range(product.rows)]
    # one core: μ_M is the cost of a multiplication, not of a product split over threads
    return best_of(lambda: multi_exp_rows(bases, rows, public.nsquare, workers=1), repeats)[0]


def time_operations(
    key_bits: int = 2048,
    repeats: int = 5,
    *,
    private_key: PrivateKey | None = None,
    workers: int | None = None,
) -> OperationTiming:
    """Time the module docstring's operations with a fresh key of ``key_bits`` (or
    ``private_key``) and ``workers`` decryption threads (default: the party's,
    :class:`~hefl.learning.paillier.FixedPointConfig`)."""
    if repeats < 1:
        raise ConfigError(f"repeats must be at least 1, got {repeats}")
    if private_key is None:
        _, private_key = generate_keypair(key_bits, allow_insecure=key_bits < 2048)
    public = private_key.public_key
    threads = FixedPointConfig().workers if workers is None else workers
    seconds = sum(_product_seconds(public, p, repeats) for p in CALIBRATION_PRODUCTS)
    counted = sum(p.cost for p in CALIBRATION_PRODUCTS)
    small = [public.encrypt_int(secrets.randbelow(1 << 64)) for _ in range(DECRYPTION_BATCH)]
    full = [public.encrypt_int(secrets.randbelow(public.max_int)) for _ in range(DECRYPTION_BATCH)]
    full_s = best_of(lambda: private_key.decrypt_ints(full, workers=threads), repeats)[0]
    small_s = best_of(lambda: private_key.decrypt_small(small, workers=threads), repeats)[0]
    group = full  # one group of DECRYPTION_BATCH: its one decryption is a small part of it
    shifted = private_key.decrypt_shifted_sums
    horner_s = best_of(lambda: shifted([group], REPACK_SLOT_BITS, workers=threads), repeats)[0]
    alone_s = best_of(lambda: shifted([group[:1]], REPACK_SLOT_BITS, workers=threads), repeats)[0]
    horner = 2 * (len(group) - 1) * (REPACK_SLOT_BITS + 1)
    return OperationTiming(
        key_bits=public.bits,
        multiplication=seconds / counted,
        decryption=full_s / DECRYPTION_BATCH,
        small_decryption=small_s / DECRYPTION_BATCH,
        multiplications_timed=counted,
        # the group's one decryption taken out (never below zero on a noisy machine)
        repack_multiplication=max(horner_s - alone_s, horner_s / 2) / horner,
    )


def fit_operations(params: CostParameters, timing: OperationTiming) -> CostParameters:
    """μ_M, μ_D, μ_Ds, μ_H = the timing's seconds × f_max, at the timing's key size (a pure
    function)."""
    f = params.f_max
    return dataclasses.replace(
        params,
        operations_key_bits=timing.key_bits,
        mu_multiplication=timing.multiplication * f,
        mu_decryption=timing.decryption * f,
        mu_small_decryption=timing.small_decryption * f,
        mu_repack_multiplication=timing.repack_multiplication * f,
    )
