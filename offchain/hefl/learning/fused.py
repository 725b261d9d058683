"""A participant's encrypted products: the fused map and the two gradients, in their cheapest form.

Per round a participant computes, on the encrypted global model [[w₀]] (main paper §1.3):

* its local model [[w_τ]] = M^τ [[w₀]] + c (the fused map of :func:`hefl.learning.linear.
  fused_update_map`), unless the literal mode computed w_τ step by step;
* the gradients [[∇F_i(w₀)]] and [[∇F_i(w_τ)]] that only feed the party's φ̂ and ω̂ (Eqs. 22–23).

Each has two algebraically equal forms, and :func:`plan_update` picks the cheaper by the
multi-exponentiation cost model (:func:`hefl.crypto.multiexp.multi_exp_cost`, in modular
multiplications), per participant, and logs which:

* model, ``dense``: one d × d product M^τ·[[w₀]] (d² ciphertext terms);
* model, ``low-rank``: M^τ = s^τ·I + Xᵀ P X (:func:`hefl.learning.linear.low_rank_update_map`,
  P of size |D_i| × |D_i|): [[u]] = X[[w₀]], then Xᵀ(P[[u]]), plus s^τ[[w₀]] — 2|D_i|·d + |D_i|²
  terms, cheaper when |D_i| < d/2 or so;
* gradients, ``dense``: Ã[[v]] − b with Ã = round(A·2^p), A = XᵀX/|D_i| + 2γI (d² terms per
  point; stacked with M^τ on [[w₀]] so both share one set of power tables);
* gradients, ``low-rank``: X̃ᵀ_g (X̃[[v]])/|D_i| + 2γ[[v]] − b (2|D_i|·d terms per point; X̃[[w₀]] is
  the low-rank model's [[u]] when that form runs too).

Gradient precision. Both points go through the *same* rounded operator G̃ (Ã, or X̃ᵀ_g X̃/|D_i|
plus 2γI), so what the party decrypts satisfies ∇̃(w_τ) − ∇̃(w₀) = G̃(w_τ − w₀) exactly: the
rounding never cancels against the model's movement. With E = G̃ − A,

    |φ̂_i − φ_i| / φ_i ≤ ‖E‖₂ / λ⁺_min(A),      |ω̂_i − ω_i| ≤ ‖E‖₂·‖w₀‖,

because w_τ − w₀ lies in the row space of X (plus the ridge's shrinkage of w₀), where ‖A·v‖ ≥
λ⁺_min(A)‖v‖. For Ã, E = Ã/2^p − A is a symmetric d × d matrix the participant holds in the
clear, so ‖E‖₂ = max|λ(E)| is computed exactly (one symmetric eigenvalue problem, ≈ 0.07 s at
d = 784): rounding errors of random sign give ‖E‖₂ ≈ 2√d·2^−(p+1)/√3, far below the worst case
d·2^−(p+1) of |E_jk| ≤ 2^−(p+1), which saves ≈ ½·log₂ d bits (≈ 5 at d = 784). For the low-rank
operator the bound is analytic, ‖E‖₂ ≤ ‖X‖₂·√(|D_i|·d)·(2^−(p_g+1) + 2^−(p+1))/|D_i|.
:func:`gradient_bits` picks the fewest significant bits g (between 16 and the model's
``significant_bits``) whose bound is at most ``GRADIENT_TOLERANCE``·λ⁺_min(A): φ̂ is then within
0.1 % of its exact value from rounding (the tests check 1 % against full precision on Boston and
fish). Ill-conditioned data get full precision; well-conditioned data save a third or more of the
gradients' multiplications at 2048 bits.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hefl.crypto import EncryptedVector, matvec, matvec_stack
from hefl.crypto.multiexp import multi_exp_cost
from hefl.data.prepare import Part
from hefl.learning import linear

__all__ = [
    "GRADIENT_FORMS",
    "GRADIENT_TOLERANCE",
    "MODEL_FORMS",
    "EncryptedProducts",
    "Product",
    "UpdatePlan",
    "gradient_bits",
    "plan_update",
    "precision_for",
    "run_update",
]

logger = logging.getLogger(__name__)

#: Bound on φ̂'s relative error from the gradients' rounding (see the module docstring).
GRADIENT_TOLERANCE = 1e-3
#: Fewest significant bits a gradient operator is rounded to.
MIN_GRADIENT_BITS = 16


def precision_for(matrix: np.ndarray, significant_bits: int) -> int:
    """Precision exponent p so that the largest |entry| of ``matrix`` gets ``significant_bits``."""
    largest = float(np.max(np.abs(matrix))) if np.size(matrix) else 0.0
    if largest == 0.0:
        return 0
    return max(0, significant_bits - math.frexp(largest)[1])


def _product(matrix: np.ndarray, vector: EncryptedVector, bits: int) -> EncryptedVector:
    return matvec(matrix, vector, precision_for(matrix, bits))


def _gram(part: Part, ridge: float) -> np.ndarray:
    d = part.X.shape[1]
    return part.X.T @ part.X / part.size + 2.0 * ridge * np.eye(d)


def _spectrum(part: Part, ridge: float) -> tuple[float, float]:
    """(λ⁺_min(A), ‖X‖₂) from the smaller Gram matrix (XXᵀ and XᵀX share their non-zero
    eigenvalues, so the smaller one has no structural zeros)."""
    X = part.X
    gram = X @ X.T if X.shape[0] < X.shape[1] else X.T @ X
    eig = np.linalg.eigvalsh(gram)
    if not eig.size:
        return 2.0 * ridge, 0.0
    lowest = max(float(np.min(eig)), 0.0) / part.size + 2.0 * ridge
    return lowest, math.sqrt(max(float(np.max(eig)), 0.0))


def _dense_rounding_bound(
    part: Part, ridge: float, g: int, significant_bits: int, x_norm: float
) -> float:
    """‖E‖₂ of Ã rounded at g significant bits, exactly: E = Ã/2^p − A is symmetric, so its
    spectral norm is its largest |eigenvalue| (module docstring). Ã is the integer matrix the
    product multiplies by: :func:`hefl.crypto.encoding.encode_float` rounds half to even, as
    ``np.rint`` does, and A·2^p < 2^g ≤ 2^53 is exact in floating point."""
    A = _gram(part, ridge)
    p = precision_for(A, g)
    rounded = np.rint(A * 2.0**p) / 2.0**p
    return float(np.max(np.abs(np.linalg.eigvalsh(rounded - A)), initial=0.0))


def _low_rank_rounding_bound(
    part: Part, ridge: float, g: int, significant_bits: int, x_norm: float
) -> float:
    """‖E‖₂ ≤ ‖X‖₂·√(|D_i|·d)·(2^−(p_g+1) + 2^−(p+1))/|D_i| for X̃ᵀ_g X̃/|D_i|."""
    n, d = part.X.shape
    p_g = precision_for(part.X.T / n, g)
    p_x = precision_for(part.X, significant_bits)
    return x_norm * math.sqrt(n * d) * (2.0 ** -(p_g + 1) + 2.0 ** -(p_x + 1)) / n


def gradient_bits(
    part: Part,
    ridge: float,
    significant_bits: int,
    form: str = "dense",
    spectrum: tuple[float, float] | None = None,
) -> int:
    """Fewest significant bits g ∈ [16, significant_bits] with ‖E‖₂ ≤ tolerance·λ⁺_min(A) for
    the gradient form ``form`` (a key of :data:`GRADIENT_FORMS`); ``spectrum``: the part's
    (λ⁺_min(A), ‖X‖₂) if already known."""
    bound = GRADIENT_FORMS[form].rounding_bound
    lowest, x_norm = spectrum or _spectrum(part, ridge)
    target = GRADIENT_TOLERANCE * lowest
    # the bounds fall as g grows: bisect for the fewest bits that meet the target
    low, high = MIN_GRADIENT_BITS, significant_bits
    while low < high:
        g = (low + high) // 2
        if bound(part, ridge, g, significant_bits, x_norm) <= target:
            high = g
        else:
            low = g + 1
    return low


# --- the forms ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class EncryptedProducts:
    """[[w_τ]], [[∇F_i(w₀)]] and [[∇F_i(w_τ)]]."""

    local: EncryptedVector
    grad_start: EncryptedVector
    grad_local: EncryptedVector


@dataclass(frozen=True)
class UpdatePlan:
    """Which form each product takes, the gradients' significant bits and the estimated cost."""

    model_form: str
    gradient_form: str
    gradient_bits: int
    estimated_multiplications: float
    products: tuple[Product, ...] = ()

    def describe(self, part: Part) -> str:
        return (
            f"|D_i|={part.size}, d={part.X.shape[1]}: model {self.model_form}, gradients "
            f"{self.gradient_form} at {self.gradient_bits} bits "
            f"(≈{self.estimated_multiplications:.3g} modular multiplications)"
        )


class _Context:
    """One participant's round: data, parameters and the products already computed (e.g. X̃[[w₀]],
    shared by the low-rank model and the low-rank gradients)."""

    def __init__(
        self,
        part: Part,
        start: EncryptedVector,
        tau: int,
        eta: float,
        ridge: float,
        bits: int,
        max_growth: int | None = None,
    ) -> None:
        #: the protocol's window for the local model's scale above [[w₀]]'s (None: no limit)
        self.max_growth = max_growth
        self.part, self.start, self.tau, self.eta, self.ridge, self.bits = (
            part,
            start,
            tau,
            eta,
            ridge,
            bits,
        )
        self._u: EncryptedVector | None = None
        #: Ã[[w₀]] when the dense model computed it alongside M^τ[[w₀]]
        self.stacked_gradient: EncryptedVector | None = None

    def data_product(self, vector: EncryptedVector) -> EncryptedVector:
        """X̃[[v]] at full precision (kept for [[w₀]])."""
        if vector is self.start:
            if self._u is None:
                self._u = _product(self.part.X, self.start, self.bits)
            return self._u
        return _product(self.part.X, vector, self.bits)


def _full(bits: int) -> int:
    return bits + 1  # exponents carry a sign


@dataclass(frozen=True)
class Product:
    """One multi-exponentiation of a form: ``rows`` rows of ``terms`` signed exponents of
    ``exp_bits`` bits over ``terms`` ciphertexts (what a kernel floor times standalone)."""

    rows: int
    terms: int
    exp_bits: int

    @property
    def cost(self) -> float:
        """Estimated modular multiplications (:func:`hefl.crypto.multiexp.multi_exp_cost`)."""
        return multi_exp_cost(self.rows, self.terms, self.exp_bits, self.terms)


def _model_dense_products(n: int, d: int, bits: int) -> tuple[Product, ...]:
    return (Product(d, d, _full(bits)),)


def _model_low_rank_products(n: int, d: int, bits: int) -> tuple[Product, ...]:
    b = _full(bits)
    return (Product(n, d, b), Product(n, n, b), Product(d, n, b))


def _model_dense(ctx: _Context, grad_matrix: np.ndarray | None, g: int) -> EncryptedVector:
    cfg = linear.fused_update_map(ctx.part.X, ctx.part.y, ctx.eta, ctx.tau, ctx.ridge)
    if grad_matrix is None:
        return _product(cfg.M, ctx.start, ctx.bits).add_plain(cfg.c)
    # stacked with the dense gradient operator: one set of power tables for both
    Mw, Aw = matvec_stack(
        [cfg.M, grad_matrix],
        ctx.start,
        [precision_for(cfg.M, ctx.bits), precision_for(grad_matrix, g)],
    )
    ctx.stacked_gradient = Aw
    return Mw.add_plain(cfg.c)


def _model_low_rank(ctx: _Context, grad_matrix: np.ndarray | None, g: int) -> EncryptedVector:
    part = ctx.part
    low = linear.low_rank_update_map(part.X, part.y, ctx.eta, ctx.tau, ctx.ridge)
    growth = 2 * precision_for(part.X, ctx.bits) + precision_for(low.P, ctx.bits)
    if ctx.max_growth is not None and growth > ctx.max_growth:
        logger.info(
            "participant update: the low-rank model's scale would grow %d bits, the window "
            "allows %d; the dense form runs instead",
            growth,
            ctx.max_growth,
        )
        return _model_dense(ctx, grad_matrix, g)
    u = ctx.data_product(ctx.start)
    moved = _product(part.X.T, _product(low.P, u, ctx.bits), ctx.bits)  # Xᵀ P X [[w₀]]
    kept = ctx.start if low.s_tau == 1.0 else ctx.start.mul_fixed(low.s_tau, ctx.bits)
    return (moved + kept).add_plain(low.c)


def _gradient_dense_products(
    n: int, d: int, g: int, bits: int, shared_u: bool
) -> tuple[Product, ...]:
    return (Product(d, d, _full(g)), Product(d, d, _full(g)))


def _gradient_low_rank_products(
    n: int, d: int, g: int, bits: int, shared_u: bool
) -> tuple[Product, ...]:
    b = _full(bits)
    at_start = () if shared_u else (Product(n, d, b),)
    return (*at_start, Product(n, d, b), Product(d, n, _full(g)), Product(d, n, _full(g)))


def _gradients_dense(
    ctx: _Context, local: EncryptedVector, g: int
) -> tuple[EncryptedVector, EncryptedVector]:
    part = ctx.part
    A = _gram(part, ctx.ridge)
    p = precision_for(A, g)
    b = part.X.T @ part.y / part.size
    at_start = ctx.stacked_gradient or matvec(A, ctx.start, p)
    return at_start.add_plain(-b), matvec(A, local, p).add_plain(-b)


def _gradients_low_rank(
    ctx: _Context, local: EncryptedVector, g: int
) -> tuple[EncryptedVector, EncryptedVector]:
    part = ctx.part
    Xt = part.X.T / part.size
    p = precision_for(Xt, g)
    b = part.X.T @ part.y / part.size

    def gradient(v: EncryptedVector) -> EncryptedVector:
        out = matvec(Xt, ctx.data_product(v), p)
        if ctx.ridge:
            out = out + v.mul_fixed(2.0 * ctx.ridge, g)
        return out.add_plain(-b)

    return gradient(ctx.start), gradient(local)


@dataclass(frozen=True)
class _ModelForm:
    products: Callable[[int, int, int], tuple[Product, ...]]
    apply: Callable[[_Context, np.ndarray | None, int], EncryptedVector]
    #: computes X̃[[w₀]] on the way (the low-rank gradients reuse it)
    computes_data_product: bool
    #: evaluates a stacked gradient operator with M^τ on [[w₀]]
    stacks_gradient: bool


@dataclass(frozen=True)
class _GradientForm:
    products: Callable[[int, int, int, int, bool], tuple[Product, ...]]
    apply: Callable[[_Context, EncryptedVector, int], tuple[EncryptedVector, EncryptedVector]]
    rounding_bound: Callable[[Part, float, int, int, float], float]
    #: whether a model form may stack this form's operator with M^τ on [[w₀]]
    stackable: bool


#: The local model's forms (fused mode).
MODEL_FORMS: dict[str, _ModelForm] = {
    "dense": _ModelForm(_model_dense_products, _model_dense, False, True),
    "low-rank": _ModelForm(_model_low_rank_products, _model_low_rank, True, False),
}
#: The gradients' forms.
GRADIENT_FORMS: dict[str, _GradientForm] = {
    "dense": _GradientForm(_gradient_dense_products, _gradients_dense, _dense_rounding_bound, True),
    "low-rank": _GradientForm(
        _gradient_low_rank_products, _gradients_low_rank, _low_rank_rounding_bound, False
    ),
}


def plan_update(
    part: Part, ridge: float, significant_bits: int, *, fused: bool = True
) -> UpdatePlan:
    """The cheapest (model form, gradient form) by estimated multiplications (literal mode: the
    model is computed step by step, only the gradients' form is chosen)."""
    n, d = part.X.shape
    best: UpdatePlan | None = None
    models: dict[str, _ModelForm | None] = dict(MODEL_FORMS) if fused else {"literal": None}
    spectrum = _spectrum(part, ridge)
    bits = {g: gradient_bits(part, ridge, significant_bits, g, spectrum) for g in GRADIENT_FORMS}
    for model_name, model_form in models.items():
        model = () if model_form is None else model_form.products(n, d, significant_bits)
        shared_u = model_form is not None and model_form.computes_data_product
        for grad_name, grad_form in GRADIENT_FORMS.items():
            g = bits[grad_name]
            products = model + grad_form.products(n, d, g, significant_bits, shared_u)
            cost = sum(p.cost for p in products)
            if best is None or cost < best.estimated_multiplications:
                best = UpdatePlan(model_name, grad_name, g, cost, products)
    assert best is not None
    return best


def run_update(
    plan: UpdatePlan,
    start: EncryptedVector,
    part: Part,
    tau: int,
    *,
    eta: float,
    ridge: float,
    significant_bits: int,
    literal_local: Callable[[], EncryptedVector] | None = None,
    max_scale_growth: int | None = None,
) -> EncryptedProducts:
    """Compute the three products in the planned forms (``literal_local`` supplies w_τ in the
    literal mode). ``max_scale_growth`` is the protocol's window for the local model's scale
    above [[w₀]]'s: the low-rank model's three products grow it by 2·p_X + p_P bits, and when
    that exceeds the window the dense form runs instead (logged)."""
    logger.info("participant update: %s", plan.describe(part))
    ctx = _Context(part, start, tau, eta, ridge, significant_bits, max_scale_growth)
    grad_form = GRADIENT_FORMS[plan.gradient_form]
    if literal_local is not None:
        local = literal_local()
    else:
        model_form = MODEL_FORMS[plan.model_form]
        stack = grad_form.stackable and model_form.stacks_gradient
        local = model_form.apply(ctx, _gram(part, ridge) if stack else None, plan.gradient_bits)
    grad_start, grad_local = grad_form.apply(ctx, local, plan.gradient_bits)
    return EncryptedProducts(local=local, grad_start=grad_start, grad_local=grad_local)
