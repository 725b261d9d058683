"""What one round of hefl's Paillier strategy runs, counted before it runs (``local_update =
"planned"`` of :class:`hefl.costs.CostParameters`).

The paper prices a round by Eq. 12 (μ1·|w|·|D_i| per local step) and Eq. 13; the ``fused`` model
by μ_F·|w|². What hefl actually computes is known before the round from public sizes and each
participant's own data:

* **a participant's update** — the products :func:`hefl.learning.fused.plan_update` picks (the
  dense d × d map, or the low-rank form's 2|D_i|·d + |D_i|² terms when |D_i| is small, and the
  two gradients at their significant bits), whose estimated modular multiplications modulo n²
  are ``UpdatePlan.estimated_multiplications`` (:func:`hefl.crypto.multiexp.multi_exp_cost`).
  In the literal mode the plan covers the gradients and every one of the τ steps adds the two
  products of Eqs. 7–9, X̃[[w]] (|D_i| rows of d terms) and X̃ᵀ[[r]] (d rows of |D_i| terms):

      m_i(τ) = m_i + τ·s_i + r_i     (s_i = 0 in the fused mode);

  r_i is what sending costs: packing each gradient of L = d values k per ciphertext with slots of
  b bits is (L − ⌈L/k⌉) powmods by 2^b, b squarings and one multiplication each (Horner,
  :func:`hefl.crypto.vector.pack_vector`), and every ciphertext sent is re-randomised by a DJN
  factor h^α from the comb table, ⌈a/8⌉ multiplications for the a-bit α (8-bit windows) and one
  to apply it: d + Σ⌈d/k⌉ ciphertexts packed, 3·d unpacked;

* **the party's decryptions** — the aggregate, the global model and the N local models, (2 + N)·d
  unpacked ciphertexts decrypted by the p-half of CRT (``PrivateKey.decrypt_small``), and each
  participant's two gradients packed k values per ciphertext (:mod:`hefl.learning.packed`),
  2·⌈d/k⌉ full-CRT decryptions per participant; unpacked gradients add 2·N·d small decryptions
  instead.

A round then costs Δ^F_i = m_i(τ)·μ_M cycles at participant i and Δ^L_2 = D_s·μ_Ds + D_f·μ_D at
the party (:meth:`RoundWork.local_cycles`, :meth:`RoundWork.party_cycles`), with μ_M, μ_Ds, μ_D
the cycles of one modular multiplication, one small and one full decryption that
``hefl costs calibrate`` measures (seconds × f_max). Eq. 10's aggregation (N·d products with
exponents of log₂|D_i| bits) and the party's d re-encryptions are left out: next to the
decryptions they are small.

The slots per packed ciphertext k depend on the gradients' bounds, which the round's encrypted
arithmetic tracks; before the round they are estimated from public sizes by
:func:`estimated_slot_bits`, an upper bound on the slot width in the fused mode, so the decryption
count is an upper bound there (the tests check it against real packed layouts, within one
ciphertext per gradient on the shapes tried). In the literal mode the local model's bound grows
with every step; the estimate is that of one step, so for τ > 1 it undercounts the second
gradient's ciphertexts (by about a quarter at τ = 3 on the shapes tried) — a few ciphertexts next
to the (2 + N)·d unpacked ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hefl.costs.parameters import CostParameters
from hefl.crypto.keys import djn_exponent_bits
from hefl.crypto.multiexp import COMB_WINDOW
from hefl.data.prepare import Part
from hefl.errors import ConfigError
from hefl.learning.fused import Product, UpdatePlan, plan_update
from hefl.learning.paillier import FixedPointConfig
from hefl.learning.strategy import LearningConfig

__all__ = [
    "MODEL_VALUE_BITS",
    "RoundWork",
    "estimated_slot_bits",
    "literal_step_multiplications",
    "packing_multiplications",
    "paillier_work",
    "party_decryptions",
    "planned_work",
    "rerandomisation_multiplications",
    "slots_per_ciphertext",
]

#: Bits of |w_k| < 2^32, the global model's public bound (:data:`hefl.learning.paillier.
#: MODEL_VALUE_BOUND`), plus its sign.
MODEL_VALUE_BITS = 33


@dataclass(frozen=True)
class RoundWork:
    """The counted work of one round.

    Attributes:
        multiplications: m_i, estimated modular multiplications of participant i's update per
            round (its :class:`~hefl.learning.fused.UpdatePlan`), in participant order.
        step_multiplications: s_i, multiplications each literal local step adds (zeros in the
            fused mode); ``()`` means zeros.
        send_multiplications: r_i, packing and re-randomising what participant i sends;
            ``()`` means zeros.
        small_decryptions: D_s, the party's unpacked decryptions (p-half of CRT).
        decryptions: D_f, the party's full-CRT decryptions (the packed gradients).
    """

    multiplications: tuple[float, ...]
    small_decryptions: int
    decryptions: int
    step_multiplications: tuple[float, ...] = ()
    send_multiplications: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        mults = tuple(float(m) for m in self.multiplications)
        steps = tuple(float(s) for s in self.step_multiplications) or (0.0,) * len(mults)
        send = tuple(float(s) for s in self.send_multiplications) or (0.0,) * len(mults)
        if not mults or len(steps) != len(mults) or len(send) != len(mults):
            raise ConfigError(
                f"round work needs one multiplication count per participant (and as many per "
                f"step and for sending), got {len(mults)}, {len(self.step_multiplications)} and "
                f"{len(self.send_multiplications)}"
            )
        if any(not math.isfinite(v) or v < 0 for v in (*mults, *steps, *send)):
            raise ConfigError(
                f"multiplication counts must be finite and ≥ 0, got {mults}, {steps}, {send}"
            )
        for name in ("small_decryptions", "decryptions"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
                raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
        object.__setattr__(self, "multiplications", mults)
        object.__setattr__(self, "step_multiplications", steps)
        object.__setattr__(self, "send_multiplications", send)

    @property
    def participants(self) -> int:
        return len(self.multiplications)

    def round_multiplications(self, tau: int) -> np.ndarray:
        """m_i(τ) = m_i + τ·s_i + r_i per participant."""
        return (
            np.asarray(self.multiplications)
            + tau * np.asarray(self.step_multiplications)
            + np.asarray(self.send_multiplications)
        )

    def local_cycles(self, params: CostParameters, tau: int) -> np.ndarray:
        """Δ^F_i = m_i(τ)·μ_M per participant."""
        return self.round_multiplications(tau) * params.mu_multiplication

    def party_cycles(self, params: CostParameters) -> float:
        """Δ^L_2 = D_s·μ_Ds + D_f·μ_D at the computing party."""
        return (
            self.small_decryptions * params.mu_small_decryption
            + self.decryptions * params.mu_decryption
        )

    def describe(self) -> dict[str, object]:
        return {
            "multiplications": list(self.multiplications),
            "step_multiplications": list(self.step_multiplications),
            "send_multiplications": list(self.send_multiplications),
            "small_decryptions": self.small_decryptions,
            "decryptions": self.decryptions,
        }


def party_decryptions(
    participants: int, model_size: int, slots: Sequence[int] | None
) -> tuple[int, int]:
    """(D_s, D_f): the party's small and full decryptions per round (module docstring).

    ``slots`` holds k of each packed gradient (two per participant); ``None``: the gradients are
    not packed and are decrypted like the models.
    """
    n, d = participants, model_size
    if slots is None:
        return (2 + 3 * n) * d, 0
    if len(slots) != 2 * n or any(k < 1 for k in slots):
        raise ConfigError(
            f"slots per ciphertext: one positive k per gradient (2·N = {2 * n}), got {slots!r}"
        )
    return (2 + n) * d, sum(-(-d // int(k)) for k in slots)


def slots_per_ciphertext(key_bits: int, slot_bits: int) -> int:
    """k = ⌊(|n/3 − 1| − 1)/b⌋ with |n/3 − 1| ≥ key_bits − 2 (:func:`hefl.crypto.vector.
    pack_slots_per_ciphertext` for a modulus of ``key_bits`` bits, never above it)."""
    if slot_bits < 1 or key_bits < 8:
        raise ConfigError(f"slot bits and key bits must be positive, got {slot_bits}, {key_bits}")
    return max(1, (key_bits - 3) // slot_bits)


def estimated_slot_bits(
    plan: UpdatePlan,
    rows: int,
    model_size: int,
    model_scale_bits: int,
    significant_bits: int,
) -> tuple[int, int]:
    """Upper estimates of the slot widths b = bits(2B) of [[∇F_i(w₀)]] and [[∇F_i(w_τ)]].

    A product by a matrix rounded to s significant bits over t terms grows a bound by at most
    s + ⌈log₂ t⌉ bits. [[w₀]] has 33 + f bits (|w_k| < 2^32 at scale 2^-f); the gradient
    operator adds g + ⌈log₂ d⌉ (dense Ã), or s + ⌈log₂ d⌉ + g + ⌈log₂|D_i|⌉ (low-rank X̃ᵀ_g X̃);
    the local model lies above [[w₀]] by s + ⌈log₂ d⌉ (dense M^τ), 3s + ⌈log₂ d⌉ + 2⌈log₂|D_i|⌉
    (low-rank X̃ᵀ P̃ X̃) or 3s (one literal step's two products and the ridge factor); one bit for
    the offset x + B and one for the plain term −b.
    """
    log_d = max(1, math.ceil(math.log2(model_size)))
    log_n = max(1, math.ceil(math.log2(rows)))
    s, g = significant_bits, plan.gradient_bits
    operator = g + log_d if plan.gradient_form == "dense" else s + log_d + g + log_n
    growth = {
        "dense": s + log_d,
        "low-rank": 3 * s + log_d + 2 * log_n,
    }.get(plan.model_form, 3 * s)
    start = MODEL_VALUE_BITS + model_scale_bits + operator + 2
    return start, start + growth


def packing_multiplications(count: int, slots: int, slot_bits: int) -> int:
    """(L − ⌈L/k⌉)·(b + 1): Horner's powmods by 2^b packing L values k per ciphertext."""
    return (count - -(-count // slots)) * (slot_bits + 1)


def rerandomisation_multiplications(key_bits: int, ciphertexts: int) -> int:
    """(⌈a/8⌉ + 1) per ciphertext: a DJN factor h^α from the comb table, and applying it."""
    return ciphertexts * (-(-djn_exponent_bits(key_bits) // COMB_WINDOW) + 1)


def literal_step_multiplications(rows: int, model_size: int, significant_bits: int) -> float:
    """s_i: one literal step's X̃[[w]] and X̃ᵀ[[r]] (Eqs. 7–9), signed exponents of s + 1 bits."""
    bits = significant_bits + 1
    return Product(rows, model_size, bits).cost + Product(model_size, rows, bits).cost


def planned_work(
    parts: Sequence[Part],
    *,
    ridge: float,
    significant_bits: int,
    model_scale_bits: int,
    key_bits: int,
    fused: bool = True,
    pack_gradients: bool = True,
    layouts: Sequence[tuple[int, int]] | None = None,
) -> RoundWork:
    """Count a round of the Paillier strategy on ``parts`` (module docstring).

    ``layouts`` gives (k, b), the slots per ciphertext and the slot bits, of every packed
    gradient (two per participant, e.g. read from a round's real packed blobs); ``None``
    estimates them (:func:`estimated_slot_bits`).
    """
    if not parts:
        raise ConfigError("planned work needs at least one participant")
    d = int(parts[0].X.shape[1])
    plans = [plan_update(part, ridge, significant_bits, fused=fused) for part in parts]
    steps = (
        ()
        if fused
        else tuple(literal_step_multiplications(part.size, d, significant_bits) for part in parts)
    )
    if not pack_gradients:
        small, full = party_decryptions(len(parts), d, None)
        send = (float(rerandomisation_multiplications(key_bits, 3 * d)),) * len(parts)
    else:
        if layouts is None:
            layouts = [
                (slots_per_ciphertext(key_bits, bits), bits)
                for plan, part in zip(plans, parts, strict=True)
                for bits in estimated_slot_bits(
                    plan, part.size, d, model_scale_bits, significant_bits
                )
            ]
        small, full = party_decryptions(len(parts), d, [k for k, _ in layouts])
        pairs = [layouts[2 * i : 2 * i + 2] for i in range(len(parts))]
        send = tuple(
            float(
                sum(packing_multiplications(d, k, b) for k, b in pair)
                + rerandomisation_multiplications(key_bits, d + sum(-(-d // k) for k, _ in pair))
            )
            for pair in pairs
        )
    return RoundWork(
        multiplications=tuple(plan.estimated_multiplications for plan in plans),
        small_decryptions=small,
        decryptions=full,
        step_multiplications=steps,
        send_multiplications=send,
    )


def paillier_work(
    parts: Sequence[Part],
    learning: LearningConfig,
    fixed_point: FixedPointConfig,
    key_bits: int,
) -> RoundWork:
    """:func:`planned_work` for a job of the Paillier strategy with these configurations."""
    return planned_work(
        parts,
        ridge=learning.ridge,
        significant_bits=fixed_point.significant_bits,
        model_scale_bits=fixed_point.model_scale_bits,
        key_bits=key_bits,
        fused=learning.mode == "fused",
        pack_gradients=fixed_point.pack_gradients,
    )
