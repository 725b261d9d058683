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

* **the party's decryptions** — each participant's two gradients packed k values per ciphertext
  (:mod:`hefl.learning.packed`), 2·⌈d/k⌉ full-CRT decryptions per participant; and the plain
  vectors, the aggregate, the global model and the N local models (and the gradients when they
  are not packed), which the party packs itself (:func:`hefl.crypto.vector.decrypt_repacked`):
  a vector of L values with |x| ≤ B takes signed digits of b = bits(B) + 1 bits, k = ⌊(|n/3 − 1|
  − 1)/b⌋ per group, and costs ⌈L/k⌉ full-CRT decryptions plus a Horner modulo p² and q² apart,
  b half-size squarings and one product per value below a group's top, per prime:

      D_f += ⌈L/k⌉,    D_h += 2·(L − ⌈L/k⌉)·(b + 1)

  (``PrivateKey.decrypt_shifted_sums``). A vector shorter than, or with k below,
  REPACK_MIN_SLOTS is decrypted a value at a time by the p-half of CRT instead (D_s += L) —
  except the local models, which the party reads in the aggregate's layout whatever k (so that
  what it reads is exactly what Eq. 10 sums: :mod:`hefl.learning.paillier`). At 2048 bits the
  global model (|w_k| < 2^32 at scale 2^-f: b = 34 + f = 74) packs k = 27, a dense local model
  (≈ 109 bits) k = 18 in its own layout and about one less in the aggregate's, where one
  decryption per value spent (2 + N)·d of them.

A round then costs Δ^F_i = m_i(τ)·μ_M cycles at participant i and Δ^L_2 = D_s·μ_Ds + D_f·μ_D +
D_h·μ_H at the party (:meth:`RoundWork.local_cycles`, :meth:`RoundWork.party_cycles`), with μ_M,
μ_Ds, μ_D, μ_H the cycles of one modular multiplication, one small and one full decryption and
one half-size multiplication that ``hefl costs calibrate`` measures (seconds × f_max). Eq. 10's
aggregation (N·d products with exponents of log₂|D_i| bits) and the party's d re-encryptions are
left out: next to the decryptions they are small.

The slots per packed ciphertext k depend on the vectors' bounds, which the round's encrypted
arithmetic tracks; before the round they are estimated from public sizes: the global model's
bound is public (⌊2^32·2^f⌋); the gradients' slot widths by :func:`estimated_slot_bits`, an
upper bound in the fused mode; a local model's by :func:`estimated_model_bits` (the same
estimate's growth above [[w₀]]); the aggregate's as the widest local model's plus
⌈log₂ Σ|D_i|⌉ (Eq. 10's weights). Wider digits mean fewer per group and more decryptions, so the
count is an upper bound on the party's cycles there (the tests check it against real blobs, and
the packed gradients within one ciphertext per gradient on the shapes tried). In the literal
mode the local model's bound grows with every step, by an amount τ decides after the plan: the
aggregate and an unpacked second gradient are counted a value at a time by the p-half, the local
models by full decryptions (the most the party spends on them whatever τ); the packed gradients
keep the estimate of one step, so for τ > 1 it undercounts the second gradient's ciphertexts
(by about a quarter at τ = 3 on the shapes tried).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hefl.costs.parameters import CostParameters
from hefl.crypto.keys import djn_exponent_bits
from hefl.crypto.multiexp import COMB_WINDOW
from hefl.crypto.vector import worth_repacking
from hefl.data.prepare import Part
from hefl.errors import ConfigError
from hefl.learning.fused import Product, UpdatePlan, plan_update
from hefl.learning.paillier import FixedPointConfig
from hefl.learning.strategy import LearningConfig

__all__ = [
    "MODEL_VALUE_BITS",
    "RoundWork",
    "estimated_model_bits",
    "estimated_slot_bits",
    "literal_step_multiplications",
    "packing_multiplications",
    "paillier_work",
    "party_decryptions",
    "planned_work",
    "repacked_work",
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
        small_decryptions: D_s, the party's decryptions of one value each (p-half of CRT: the
            plain vectors it does not pack itself).
        decryptions: D_f, the party's full-CRT decryptions (the packed gradients, and one per
            group of the plain vectors it packs itself).
        repack_multiplications: D_h, the half-size modular multiplications (modulo p² or q²)
            of the party's own packing's Horner.
    """

    multiplications: tuple[float, ...]
    small_decryptions: int
    decryptions: int
    step_multiplications: tuple[float, ...] = ()
    send_multiplications: tuple[float, ...] = ()
    repack_multiplications: int = 0

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
        for name in ("small_decryptions", "decryptions", "repack_multiplications"):
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
        """Δ^L_2 = D_s·μ_Ds + D_f·μ_D + D_h·μ_H at the computing party."""
        return (
            self.small_decryptions * params.mu_small_decryption
            + self.decryptions * params.mu_decryption
            + self.repack_multiplications * params.mu_repack_multiplication
        )

    def describe(self) -> dict[str, object]:
        return {
            "multiplications": list(self.multiplications),
            "step_multiplications": list(self.step_multiplications),
            "send_multiplications": list(self.send_multiplications),
            "small_decryptions": self.small_decryptions,
            "decryptions": self.decryptions,
            "repack_multiplications": self.repack_multiplications,
        }


def repacked_work(
    length: int, layout: tuple[int, int] | None, *, forced: bool = False
) -> tuple[int, int, int]:
    """(D_s, D_f, D_h) of one plain vector of ``length`` values the party decrypts, its (k, b)
    the digits per group and their bits (:func:`hefl.crypto.vector.repack_layout`), ``None``
    for a vector it decrypts a value at a time: ⌈L/k⌉ full decryptions and 2·(L − ⌈L/k⌉)·(b + 1)
    half-size multiplications when L and k reach REPACK_MIN_SLOTS
    (``PaillierStrategy.decrypt_mixed``), else L small decryptions. A ``forced`` vector (a local
    model, read in the aggregate's layout whatever k) is always read in groups; ``None`` then
    counts the most it can cost, one full decryption per value."""
    if forced and layout is None:
        return 0, length, 0
    if layout is None or not (forced or worth_repacking(length, layout[0])):
        return length, 0, 0
    k, b = layout
    groups = -(-length // k)
    return 0, groups, 2 * (length - groups) * (b + 1)


def party_decryptions(
    model_size: int,
    plain: Sequence[tuple[int, int] | None],
    slots: Sequence[int],
    local_models: int = 0,
) -> tuple[int, int, int]:
    """(D_s, D_f, D_h): the party's small and full decryptions and the half-size
    multiplications of its own packing per round (module docstring).

    ``plain`` holds (k, b) of each plain vector of ``model_size`` values it decrypts (the
    aggregate, the global model, the N local models, and the gradients when not packed;
    ``None``: a value at a time), the ``local_models`` from the third on read in groups
    whatever k (:func:`repacked_work`, ``forced``); ``slots`` k of each packed gradient.
    """
    d = model_size
    if any(k < 1 for k in slots) or any(p is not None and min(p) < 1 for p in plain):
        raise ConfigError(
            f"slots per ciphertext: positive k (and b) per vector, got {list(plain)}, {slots!r}"
        )
    small, full, horner = 0, sum(-(-d // int(k)) for k in slots), 0
    for index, layout in enumerate(plain):
        s, f, h = repacked_work(d, layout, forced=2 <= index < 2 + local_models)
        small, full, horner = small + s, full + f, horner + h
    return small, full, horner


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
    start = MODEL_VALUE_BITS + model_scale_bits + operator + 2
    return start, start + _model_growth(plan, rows, model_size, significant_bits)


def _model_growth(plan: UpdatePlan, rows: int, model_size: int, significant_bits: int) -> int:
    log_d = max(1, math.ceil(math.log2(model_size)))
    log_n = max(1, math.ceil(math.log2(rows)))
    s = significant_bits
    return {
        "dense": s + log_d,
        "low-rank": 3 * s + log_d + 2 * log_n,
    }.get(plan.model_form, 3 * s)


def estimated_model_bits(
    plan: UpdatePlan, rows: int, model_size: int, model_scale_bits: int, significant_bits: int
) -> int:
    """Upper estimate of bits(B) of the local model [[w_τ]]: [[w₀]]'s 33 + f bits plus the
    growth of :func:`estimated_slot_bits` (the form's products; one literal step's 3s)."""
    return (
        MODEL_VALUE_BITS
        + model_scale_bits
        + _model_growth(plan, rows, model_size, significant_bits)
    )


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
    plain_layouts: Sequence[tuple[int, int] | None] | None = None,
) -> RoundWork:
    """Count a round of the Paillier strategy on ``parts`` (module docstring).

    ``layouts`` gives (k, b), the slots per ciphertext and the slot bits, of every packed
    gradient (two per participant, e.g. read from a round's real packed blobs); ``None``
    estimates them (:func:`estimated_slot_bits`). ``plain_layouts`` likewise gives (k, b) of
    every plain vector the party packs itself (:func:`hefl.crypto.vector.repack_layout` of the
    aggregate, the global model, the local models and any unpacked gradients; ``None`` for one
    decrypted a value at a time); ``None`` estimates them (module docstring).
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

    def layout(bits: int) -> tuple[int, int]:  # (k, b) for digits of b = bits(B) + 1
        return slots_per_ciphertext(key_bits, bits + 1), bits + 1

    estimates = [
        estimated_slot_bits(plan, part.size, d, model_scale_bits, significant_bits)
        for plan, part in zip(plans, parts, strict=True)
    ]
    plain: list[tuple[int, int] | None] = [None, layout(MODEL_VALUE_BITS + model_scale_bits)]
    if fused:  # [aggregate, global model, local models…]
        models = [
            estimated_model_bits(plan, part.size, d, model_scale_bits, significant_bits)
            for plan, part in zip(plans, parts, strict=True)
        ]
        weights = max(1, math.ceil(math.log2(sum(part.size for part in parts))))
        plain[0] = layout(max(models) + weights)
        plain += [plain[0]] * len(parts)  # local models: in the aggregate's layout
    else:  # the bounds grow with τ: a value at a time, the most they cost
        plain += [None] * len(parts)
    if not pack_gradients:
        for first, second in estimates:  # slot bits = bits(2B) = bits(B) + 1, the digits' b
            plain += [layout(first - 1), layout(second - 1) if fused else None]
        small, full, horner = party_decryptions(d, _given(plain_layouts, plain), (), len(parts))
        send = (float(rerandomisation_multiplications(key_bits, 3 * d)),) * len(parts)
    else:
        if layouts is None:
            layouts = [
                (slots_per_ciphertext(key_bits, bits), bits) for pair in estimates for bits in pair
            ]
        if len(layouts) != 2 * len(parts):
            raise ConfigError(
                f"packed layouts: one (k, b) per gradient (2·N = {2 * len(parts)}), got "
                f"{len(layouts)}"
            )
        small, full, horner = party_decryptions(
            d, _given(plain_layouts, plain), [k for k, _ in layouts], len(parts)
        )
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
        repack_multiplications=horner,
    )


def _given(
    given: Sequence[tuple[int, int] | None] | None, estimated: list[tuple[int, int] | None]
) -> Sequence[tuple[int, int] | None]:
    if given is not None and len(given) != len(estimated):
        raise ConfigError(
            f"plain layouts: one per plain vector the party decrypts ({len(estimated)}: the "
            f"aggregate, the global model, N local models and any unpacked gradients), got "
            f"{len(given)}"
        )
    return estimated if given is None else given


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
