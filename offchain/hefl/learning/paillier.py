"""Encrypted distributed linear regression (main paper §1.3) on hefl's Paillier engine.

Participants hold only the public key and update the encrypted model [[w]] with their plaintext
data; the computing party alone decrypts. Two update modes give the same model:

* ``literal`` — Eqs. 6–9 step by step. For sample j, [[wᵀx_j]] = Π_k [[w_k]]^{x_jk} (Eq. 8's
  inner product, one row of a plaintext-matrix × encrypted-vector product), the residual
  [[r_j]] = [[wᵀx_j]]·[[−y_j]] (adding the plaintext −y_j directly, as the papers' README allows),
  and the per-sample gradient [[∇_jk]] = [[r_j]]^{x_jk}. Eq. 7 averages over D_i and Eq. 9 steps by
  −η; the two plaintext factors are folded into one exponent, so each step is
  [[w]] ← [[w]] · Π_j [[r_j]]^{−η·x_jk/|D_i|} (the signs as the README reads them: w ← w − η∇).
  Every step multiplies by two fixed-point plaintexts, so the scale and the magnitude bound grow
  with τ; :meth:`PaillierStrategy.max_literal_tau` says how many steps a key allows, and more are
  refused before any work is done.
* ``fused`` — τ steps are one affine map w ↦ M^τ w + c (:func:`hefl.learning.linear.
  fused_update_map`), applied as one plaintext-matrix × encrypted-vector product plus a plaintext
  — or, when the participant has fewer samples than features, through its data as
  s^τ w + Xᵀ(P(Xw)) + c (:mod:`hefl.learning.fused` picks the cheaper form per participant and
  logs it): the scale grows once per round whatever τ is, so τ = 90 fits easily at 2048 bits.

Aggregation (Eq. 10) uses the exact integer weights |D_i|: the aggregate ciphertext holds
Σ_i |D_i|·w_i(t), and the exponent 1/|D| of Eq. 10 is applied by the computing party after
decryption (a fractional exponent is not an operation on Z_{n²}; dividing the decrypted integer is
exact). It is a deterministic function of the committed ciphertexts and the |D_i| on chain, so every
replica recomputes the same bytes.

Headers are checked, not trusted. Every blob's header declares a scale exponent f and a bound B
(|encoded integer| ≤ B). What they may be follows from public data (:class:`SubmissionRules`): a
local model's scale lies in the window [f_g, f_g + K] above the global model's scale f_g, with
K = 4·s (fused: the dense form's one plaintext product of precision ≤ s, or the low-rank form's
three, which :mod:`hefl.learning.fused` keeps inside K) or K = 3·s·τ (literal: two products and
the ridge factor per step), s the significant bits; and its bound, aligned to the
window's top, is at most ⌊(n/3 − 1)/|D|⌋, so Eq. 10's Σ_i |D_i|·w_i, whose bound is
Σ_i |D_i|·B_i·2^{f_max − f_i}, stays inside the safe band of Z_n whatever the usable blobs are:
aggregation cannot overflow by construction. The gradients' blobs (only ever decrypted) must lie
in [f_g, f_g + K + 2·s]. A blob declaring anything else is unusable. The global model's header
carries the public, data-independent bound ⌊2^{32}·2^f⌋ (|w_k| < 2^32; a model beyond it has
diverged), so it tells a reader nothing about the model.

Before it commits, the computing party decrypts what replicas cannot see (:meth:`PaillierStrategy.
screen`): each usable submission's local model, in the aggregate's packing layout, and its
gradients. A ciphertext whose plaintext lies beyond its header's bound would make the party's
decryption fail after the commit — a stall one faulty participant could cause — so such a
submission is left out with evidence anyone holding the public key checks
(:meth:`PaillierStrategy.check_evidence`): the opening (S, r) of the failing group's packed
ciphertext C = Π_j c_j^(2^(j·b)) (C = (1 + n)^S·r^n mod n², Paillier being a bijection) and the
digits of S, one of which is beyond the bound. Reading every local model in the aggregate's layout
(digits of b = bits(B_agg) + 1 bits) makes what passes exact: the digits d_ij of local model i are
in bound, so Σ_i |D_i|·2^(Δf_i)·S_i decodes as Σ_i |D_i|·2^(Δf_i)·d_ij within B_agg — the
aggregate is Eq. 10 of the local models the party read, whatever a faulty participant encrypted.

At the end of each round the computing party decrypts the aggregate, the local models and the two
encrypted gradients each participant sent (for φ̂ and ω̂, Eqs. 22–23; packed k values per ciphertext
by the participant, :mod:`hefl.learning.packed`, so they cost 2·⌈d/k⌉ decryptions, not 2·d, with
identical values), and refreshes the global
model — decrypt, re-encode at the base scale, re-encrypt — so the scale does not grow from round to
round. Participants re-randomise what they send, so their ciphertexts cannot be linked to (or
tested against guesses of) their data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hefl.canonical import canonical_json
from hefl.crypto import (
    EncryptedVector,
    PrivateKey,
    PublicKey,
    decrypt_vectors,
    encode_float,
    matvec,
    weighted_sum_int,
)
from hefl.crypto.encoding import to_float
from hefl.crypto.vector import (
    check_repack_group,
    decode_shifted_sum,
    decrypt_int_vectors,
    decrypt_repacked,
    repack_layout,
    shifted_product,
    unpack_ints,
    unpack_plaintext,
    worth_repacking,
)
from hefl.data.prepare import Part
from hefl.errors import ConfigError, EncodingOverflowError, LearningError, SerializationError
from hefl.learning.blobs import pack_bundle, unpack_bundle
from hefl.learning.estimates import estimate_phi_omega
from hefl.learning.fused import plan_update, precision_for, run_update
from hefl.learning.packed import PackedVector, is_packed, pack, parse_packed
from hefl.learning.parsed import parse_vector
from hefl.learning.strategy import (
    LearningConfig,
    LocalUpdate,
    RoundOutcome,
    Strategy,
    SubmissionRules,
)

#: A submission's vectors in the order the party reads them: its local model, then the two
#: gradients of its extra blob (the names evidence uses).
VECTOR_NAMES = ("model", "gradient 1", "gradient 2")

#: The public bound of the global model's values, |w_k| ≤ 2^32: its header declares
#: ⌊2^32·2^f⌋ whatever the model is (a model beyond it has diverged).
MODEL_VALUE_BOUND = 2.0**32


@dataclass(frozen=True)
class FixedPointConfig:
    """The fixed-point budget of the encrypted learning.

    Attributes:
        model_scale_bits: scale exponent f of a freshly encrypted model (resolution 2^-f).
        significant_bits: relative precision kept for every plaintext matrix or vector a
            ciphertext is multiplied by; a matrix whose largest entry is 2^e gets precision
            ``significant_bits − e`` so small entries (η·x/|D|) keep their digits.
        workers: processes used by the computing party's batch decryption.
        pack_gradients: participants pack their two gradients k values per ciphertext
            (:mod:`hefl.learning.packed`), so the party decrypts 2·⌈d/k⌉ for them, not 2·d; the
            party reads either form.
    """

    model_scale_bits: int = 40
    significant_bits: int = 30
    workers: int = 2
    pack_gradients: bool = True

    def __post_init__(self) -> None:
        if self.model_scale_bits < 1 or self.significant_bits < 8:
            raise ConfigError(
                f"fixed point too coarse: model_scale_bits={self.model_scale_bits}, "
                f"significant_bits={self.significant_bits} (need ≥ 1 and ≥ 8)"
            )


def _encoded_row_sum_bound(matrix: np.ndarray, precision: int) -> int:
    """max_j Σ_k |round(M_jk·2^p)|, as the engine's bound rule for matvec, plus rounding slack."""
    return (
        abs(encode_float(float(np.max(np.sum(np.abs(matrix), axis=1))), precision))
        + matrix.shape[1]
    )


class PaillierStrategy(Strategy):
    """The main paper's scheme: Paillier-encrypted model, plaintext data, Eq. 10 aggregation.

    Participants construct it with the public key; the computing party with the private key too.
    """

    name = "paillier"

    def __init__(
        self,
        public_key: PublicKey,
        config: LearningConfig | None = None,
        fixed_point: FixedPointConfig | None = None,
        *,
        private_key: PrivateKey | None = None,
    ) -> None:
        self.public_key = public_key
        self.config = config or LearningConfig()
        self.fixed_point = fixed_point or FixedPointConfig()
        if private_key is not None and private_key.public_key != public_key:
            raise ConfigError("the private key does not belong to the public key")
        self._private_key = private_key
        #: What :meth:`screen` decrypted, for :meth:`conclude`: per (model, extra, b) digest.
        self._screened: dict[tuple[bytes, bytes, int], list[np.ndarray]] = {}

    def __getstate__(self) -> dict[str, object]:
        # Worker processes for participants' updates never receive the secret (nor plaintexts).
        state = self.__dict__.copy()
        state["_private_key"] = None
        state["_screened"] = {}
        return state

    def for_participant(self, index: int) -> PaillierStrategy:
        """Participants hold the public key only (the instance pickles without the secret)."""
        return PaillierStrategy(self.public_key, self.config, self.fixed_point)

    def describe(self) -> dict[str, object]:
        return {
            "strategy": self.name,
            "mode": self.config.mode,
            "eta": self.config.eta,
            "ridge": self.config.ridge,
            "key_bits": self.public_key.bits,
            "public_key_fingerprint": self.public_key.fingerprint_hex,
            "model_scale_bits": self.fixed_point.model_scale_bits,
            "significant_bits": self.fixed_point.significant_bits,
        }

    # --- helpers --------------------------------------------------------------------------------
    def _load(self, blob: bytes) -> EncryptedVector:
        return parse_vector(blob, self.public_key)  # once per process (hefl.learning.parsed)

    def _gradients(self, extra: bytes) -> list[EncryptedVector | PackedVector]:
        """The extra blob's two gradients, each packed (:mod:`hefl.learning.packed`) or not."""
        return [
            parse_packed(blob, self.public_key) if is_packed(blob) else self._load(blob)
            for blob in unpack_bundle(extra, 2)
        ]

    def _vectors(self, update: LocalUpdate) -> list[EncryptedVector | PackedVector]:
        """The submission's vectors, named by :data:`VECTOR_NAMES`."""
        return [self._load(update.model), *self._gradients(update.extra)]

    def scale_growth(self, tau: int) -> int:
        """K: how far above the global model's scale a local model's scale may lie after τ
        steps (4·s fused, 3·s·τ literal; s the significant bits)."""
        bits = self.fixed_point.significant_bits
        return 4 * bits if self.config.mode == "fused" else 3 * bits * tau

    def validate_update(
        self, global_model: bytes, update: LocalUpdate, rules: SubmissionRules | None = None
    ) -> None:
        """Both blobs parse under this key (every ciphertext in range and coprime to n), hold
        vectors of the global model's length, and the extra blob holds exactly two. Given the
        round's ``rules``, every header must declare what the protocol allows (module docstring:
        the scale window and the bound that keeps Eq. 10 from overflowing)."""
        start = self._load(global_model)
        size = len(start)
        model = self._load(update.model)
        gradients = self._gradients(update.extra)
        for vector in [model, *gradients]:
            if len(vector) != size:
                raise SerializationError(
                    f"a submitted vector has {len(vector)} values, the model {size}"
                )
        if rules is None:
            return
        low = start.scale_bits
        high = low + self.scale_growth(rules.tau)
        self._check_scale("local model", model.scale_bits, low, high, rules)
        limit = self.public_key.max_int // rules.total_data_size
        aligned = model.bound << (high - model.scale_bits)
        if aligned > limit:
            raise SerializationError(
                f"the local model declares a bound of {model.bound.bit_length()} bits at scale "
                f"2^-{model.scale_bits} ({aligned.bit_length()} bits at the window's top "
                f"2^-{high}); at most {limit.bit_length()} bits keep Eq. 10 over "
                f"|D| = {rules.total_data_size} inside the key's safe band"
            )
        for which, vector in zip(("first", "second"), gradients, strict=True):
            growth = 2 * self.fixed_point.significant_bits
            self._check_scale(f"{which} gradient", vector.scale_bits, low, high + growth, rules)

    @staticmethod
    def _check_scale(what: str, scale: int, low: int, high: int, rules: SubmissionRules) -> None:
        if not low <= scale <= high:
            raise SerializationError(
                f"the {what} declares scale exponent {scale}; with the global model at 2^-{low} "
                f"and τ = {rules.tau} the protocol allows {low}..{high}"
            )

    def _encrypt_model(self, w: np.ndarray) -> bytes:
        key = self._private_key or self.public_key  # the owner encrypts by CRT
        return EncryptedVector.encrypt(
            key, w, self.fixed_point.model_scale_bits, value_bound=MODEL_VALUE_BOUND
        ).to_bytes()

    def _matvec(self, matrix: np.ndarray, vector: EncryptedVector) -> EncryptedVector:
        return matvec(matrix, vector, precision_for(matrix, self.fixed_point.significant_bits))

    def _require_private_key(self) -> PrivateKey:
        if self._private_key is None:
            raise LearningError(
                "only the computing party can conclude a round: this strategy has no private key"
            )
        return self._private_key

    # --- the four moves --------------------------------------------------------------------------
    def initial_model(self, model_size: int) -> bytes:
        return self._encrypt_model(np.zeros(model_size))

    def local_update(self, global_model: bytes, part: Part, tau: int) -> LocalUpdate:
        start = self._load(global_model)
        if len(start) != part.X.shape[1]:
            raise LearningError(
                f"global model has {len(start)} coordinates but the data has {part.X.shape[1]} "
                "columns; the participant's data does not belong to this job"
            )
        cfg, bits = self.config, self.fixed_point.significant_bits
        fused = cfg.mode == "fused"
        plan = plan_update(part, cfg.ridge, bits, fused=fused)
        products = run_update(
            plan,
            start,
            part,
            tau,
            eta=cfg.eta,
            ridge=cfg.ridge,
            significant_bits=bits,
            literal_local=None if fused else lambda: self._literal_steps(start, part, tau),
            max_scale_growth=self.scale_growth(tau),
        )
        gradients = (products.grad_start, products.grad_local)
        if self.fixed_point.pack_gradients:
            blobs = [pack(g) for g in gradients]  # re-randomised once packed
        else:
            blobs = [g.rerandomize().to_bytes() for g in gradients]
        return LocalUpdate(model=products.local.rerandomize().to_bytes(), extra=pack_bundle(blobs))

    def _literal_matrices(self, part: Part) -> tuple[np.ndarray, np.ndarray, float]:
        cfg = self.config
        step = -cfg.eta * part.X.T / part.size  # folds Eq. 7's 1/|D_i| and Eq. 9's −η
        return part.X, step, 1.0 - 2.0 * cfg.eta * cfg.ridge

    def check_tau(self, global_model: bytes, part: Part, tau: int) -> None:
        """The literal mode's budget: refuse τ beyond :meth:`max_literal_tau` up front."""
        if self.config.mode == "literal":
            self._check_literal_budget(self._load(global_model), part, tau)

    def _check_literal_budget(self, start: EncryptedVector, part: Part, tau: int) -> None:
        limit = self.max_literal_tau(part, start.bound, start.scale_bits)
        if tau > limit:
            raise LearningError(
                f"literal mode: τ={tau} local steps overflow the fixed-point budget of a "
                f"{self.public_key.bits}-bit key (at most τ={limit} fit); use the fused mode, a "
                "larger key, fewer significant bits, or a smaller τ"
            )

    def _literal_steps(self, start: EncryptedVector, part: Part, tau: int) -> EncryptedVector:
        self._check_literal_budget(start, part, tau)
        X, step, shrink = self._literal_matrices(part)
        w = start
        for _ in range(tau):
            residual = self._matvec(X, w).add_plain(-part.y)  # [[wᵀx_j − y_j]] (Eq. 8)
            update = self._matvec(step, residual)  # Π_j [[r_j]]^{−η x_jk/|D|} (Eqs. 7, 9)
            if shrink != 1.0:  # ridge: w ← (1 − 2ηγ) w − η Xᵀr/|D|
                w = w.mul_fixed(shrink, self.fixed_point.significant_bits)
            w = w + update
        return w

    def max_literal_tau(self, part: Part, start_bound: int, start_scale: int) -> int:
        """Largest τ whose literal steps keep every bound inside the safe band of Z_n.

        Replays the engine's bound rules on integers (no ciphertexts): per step the residual
        bound is B·g_X + |y|·2^f', the update bound that times g_step, and the model's bound after
        aligning to the update's scale B·2^{Δf} plus the update's; and the gradient the update
        sends at the local model, [[A_i w]] − b_i, must fit too: B·g_A + |b|·2^{f+p_A}.
        """
        X, step, shrink = self._literal_matrices(part)
        bits = self.fixed_point.significant_bits
        p_x = precision_for(X, bits)
        p_step = precision_for(step, bits)
        g_x, g_step = _encoded_row_sum_bound(X, p_x), _encoded_row_sum_bound(step, p_step)
        y_max = float(np.max(np.abs(part.y))) if part.size else 0.0
        A = part.X.T @ part.X / part.size + 2.0 * self.config.ridge * np.eye(part.X.shape[1])
        p_a = precision_for(A, bits)
        g_a = _encoded_row_sum_bound(A, p_a)
        b_max = float(np.max(np.abs(part.X.T @ part.y))) / part.size if part.size else 0.0
        limit = self.public_key.max_int
        bound, scale, tau = start_bound, start_scale, 0
        while True:
            residual = bound * g_x + abs(encode_float(y_max, scale + p_x)) + 1
            update = residual * g_step
            new_scale = scale + p_x + p_step
            if shrink != 1.0:
                p_shrink = self.fixed_point.significant_bits
                bound, scale = bound * (int(shrink * 2**p_shrink) + 1), scale + p_shrink
            new_bound = bound * 2 ** (new_scale - scale) + update
            gradient = new_bound * g_a + abs(encode_float(b_max, new_scale + p_a)) + 1
            if max(residual, update, new_bound, gradient) > limit:
                return tau
            bound, scale, tau = new_bound, new_scale, tau + 1

    def aggregate(self, local_models: Sequence[bytes], sizes: Sequence[int]) -> bytes:
        """Eq. 10 up to the factor 1/|D|: [[Σ_i |D_i| w_i]] = Π_i [[w_i]]^{|D_i|}."""
        if len(local_models) != len(sizes) or not local_models:
            raise LearningError(
                f"{len(local_models)} local models for {len(sizes)} sizes; give one per size"
            )
        vectors = [self._load(blob) for blob in local_models]
        return weighted_sum_int(vectors, [int(s) for s in sizes]).to_bytes()

    def conclude(
        self,
        global_model: bytes,
        aggregate: bytes,
        updates: Sequence[LocalUpdate],
        sizes: Sequence[int],
    ) -> RoundOutcome:
        """Decrypt the aggregate, the global model and each update's vectors (local models in
        the aggregate's layout; what :meth:`screen` decrypted is not decrypted again), divide by
        |D| (Eq. 10), estimate φ̂ and ω̂ (Eqs. 22–23) and encrypt the next global model."""
        total = sum(int(s) for s in sizes)
        shift = self._layout_bits(aggregate)
        missing = [u for u in updates if self._screen_key(u, shift) not in self._screened]
        (summed, start), decrypted = self._decrypt_updates(
            [self._load(aggregate), self._load(global_model)], missing, shift
        )
        fresh = iter(decrypted)
        opened = [self._screened.get(self._screen_key(u, shift)) or next(fresh) for u in updates]
        self._screened = {}
        model = summed / total  # Eq. 10's exponent 1/|D|, applied to the decrypted sum
        local_models = tuple(values[0] for values in opened)
        estimates = estimate_phi_omega(
            start,
            local_models,
            [values[1] for values in opened],
            [values[2] for values in opened],
            sizes,
            self.config.estimates,
        )
        return RoundOutcome(
            model=model,
            next_global=self._encrypt_model(model),
            estimates=estimates,
            local_models=local_models,
        )

    # --- what only the party sees: screening before the commit, and its evidence ---------------
    def _layout_bits(self, aggregate: bytes) -> int:
        """b of the aggregate's packing layout: every local model is read in it."""
        return repack_layout(self.public_key, self._load(aggregate).bound)[1]

    @staticmethod
    def _screen_key(update: LocalUpdate, shift_bits: int) -> tuple[bytes, bytes, int]:
        return (
            hashlib.sha256(update.model).digest(),
            hashlib.sha256(update.extra).digest(),
            shift_bits,
        )

    def _decrypt_updates(
        self, head: Sequence[EncryptedVector], updates: Sequence[LocalUpdate], shift_bits: int
    ) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
        """The ``head`` vectors and each update's vectors (:data:`VECTOR_NAMES`) decrypted in one
        batch, local models as digits of ``shift_bits`` bits; EncodingOverflowError if any does
        not decode."""
        width = len(VECTOR_NAMES)
        vectors = [*head, *(v for u in updates for v in self._vectors(u))]
        models = {len(head) + width * i: shift_bits for i in range(len(updates))}
        plain = self.decrypt_mixed(vectors, models)
        rest = plain[len(head) :]
        return plain[: len(head)], [rest[width * i : width * (i + 1)] for i in range(len(updates))]

    def screen(
        self, global_model: bytes, aggregate: bytes, updates: Sequence[LocalUpdate]
    ) -> list[bytes | None]:
        """Decrypt every update as :meth:`conclude` will (module docstring): ``None`` for an
        update that decodes within its headers' bounds, else the evidence of its first failing
        group (:meth:`_evidence`). One batch when all decode (kept for :meth:`conclude`); only
        when one does not, update by update."""
        shift = self._layout_bits(aggregate)
        try:
            _, opened = self._decrypt_updates([], updates, shift)
        except EncodingOverflowError:
            verdicts: list[bytes | None] = []
            for update in updates:
                try:
                    _, (values,) = self._decrypt_updates([], [update], shift)
                except EncodingOverflowError:
                    verdicts.append(self._evidence(update, shift))
                    continue
                self._screened[self._screen_key(update, shift)] = values
                verdicts.append(None)
            return verdicts
        for update, values in zip(updates, opened, strict=True):
            self._screened[self._screen_key(update, shift)] = values
        return [None] * len(updates)

    def _evidence(self, update: LocalUpdate, shift_bits: int) -> bytes:
        """The first group of ``update``'s vectors that does not decode, opened: which vector,
        its ciphertexts [first, first + count), the digit width b, and the opening (S, r) of
        C = Π_j c_(first+j)^(2^(j·b)) (a participant-packed gradient: one ciphertext, b its slot
        width). A plain vector is searched in the layout the party read it in
        (:meth:`decrypt_mixed`): a local model in the aggregate's groups, another vector in its
        own groups when worth packing, else value by value — so a value beyond the bound that
        the p-half of CRT caught alone is opened alone, even where it would carry into its
        neighbour in a group."""
        for name, vector in zip(VECTOR_NAMES, self._vectors(update), strict=True):
            if isinstance(vector, PackedVector):
                found = self._first_fault(vector, 1, vector.slot_bits)
            else:
                k, b = repack_layout(
                    self.public_key, vector.bound, shift_bits if name == "model" else None
                )
                grouped = _read_in_groups(vector, forced=name == "model")
                found = self._first_fault(vector, k if grouped else 1, b)
            if found is not None:
                first, count, b, plaintext, nonce = found
                return canonical_json(
                    {
                        "vector": name,
                        "first": first,
                        "count": count,
                        "shift_bits": b,
                        "plaintext": hex(plaintext),
                        "nonce": hex(nonce),
                    }
                )
        raise LearningError("screen: every value of the update decodes, yet its batch did not")

    def _first_fault(
        self, vector: EncryptedVector | PackedVector, k: int, b: int
    ) -> tuple[int, int, int, int, int] | None:
        """(first, count, b, S, r) of the first group of k ciphertexts (digits of b bits) of
        ``vector`` that does not decode, with its packed ciphertext's opening; ``None``."""
        key = self._require_private_key()
        packed = isinstance(vector, PackedVector)
        cts = vector.packed.ciphertexts if isinstance(vector, PackedVector) else vector.ciphertexts
        groups = [list(cts[i : i + k]) for i in range(0, len(cts), k)]
        workers = self.fixed_point.workers
        if packed:  # one participant-packed ciphertext per group, read as it is
            residues = key.decrypt_ints([g[0] for g in groups], workers=workers)
        else:
            residues = key.decrypt_shifted_sums(groups, b, workers=workers)
        n, first = int(self.public_key.n), 0
        for group, residue in zip(groups, residues, strict=True):
            try:
                _decode_group(vector, first, len(group), b, int(residue), n)
            except EncodingOverflowError:
                plaintext, nonce = key.open(shifted_product(group, b, self.public_key.nsquare))
                return first, len(group), b, int(plaintext), int(nonce)
            first += len(group)
        return None

    def check_evidence(self, global_model: bytes, update: LocalUpdate, evidence: bytes) -> str:
        """Check the party's evidence (:meth:`_evidence`) with the public key alone: the group
        lies within the vector, its digit width could hold every in-bound value exactly
        (:func:`~hefl.crypto.vector.check_repack_group`), (S, r) opens the group's packed
        ciphertext (:meth:`~hefl.crypto.PublicKey.opens`) — and S does not decode. Returns the
        fault; SerializationError if any of this fails (the evidence proves nothing)."""
        try:
            doc = json.loads(evidence)
            name, first, count, bits = (doc[k] for k in ("vector", "first", "count", "shift_bits"))
            plaintext, nonce = int(doc["plaintext"], 16), int(doc["nonce"], 16)
            if not all(type(v) is int for v in (first, count, bits)):
                raise TypeError("first, count and shift_bits must be integers")
        except (ValueError, KeyError, TypeError) as error:
            raise SerializationError(f"the evidence cannot be read: {error}") from None
        vectors = dict(zip(VECTOR_NAMES, self._vectors(update), strict=True))
        if name not in vectors:
            raise SerializationError(f"the evidence names vector {name!r}; one of {VECTOR_NAMES}")
        vector = vectors[name]
        packed = isinstance(vector, PackedVector)
        cts = vector.packed.ciphertexts if isinstance(vector, PackedVector) else vector.ciphertexts
        if first < 0 or count < 1 or first + count > len(cts):
            raise SerializationError(
                f"the evidence's group [{first}, {first + count}) is not within the {name}'s "
                f"{len(cts)} ciphertexts"
            )
        if isinstance(vector, PackedVector):
            if count != 1 or bits != vector.slot_bits:
                raise SerializationError("evidence against a packed gradient opens one ciphertext")
        else:
            try:
                check_repack_group(self.public_key, count, bits, vector.bound)
            except EncodingOverflowError as error:
                raise SerializationError(f"the evidence's layout proves nothing: {error}") from None
        packed_ct = shifted_product(cts[first : first + count], bits, self.public_key.nsquare)
        if not self.public_key.opens(packed_ct, plaintext, nonce):
            raise SerializationError(f"the evidence's opening does not open the {name}'s group")
        try:
            _decode_group(vector, first, count, bits, plaintext, int(self.public_key.n))
        except EncodingOverflowError as error:
            what = f"packed ciphertext {first}" if packed else f"the group from ciphertext {first}"
            return f"its {name} holds a plaintext beyond its bound ({what}: {error})"
        raise SerializationError(
            f"the evidence's group of the {name} decodes within its declared bound"
        )

    def decrypt_mixed(
        self,
        vectors: Sequence[EncryptedVector | PackedVector],
        shift_bits: Mapping[int, int] | None = None,
    ) -> list[np.ndarray]:
        """Decrypt plain and packed vectors: a plain vector long enough, with a bound small
        enough, to fill groups of ≥ REPACK_MIN_SLOTS signed digits is packed by the party itself
        and decrypted a group at a time (:func:`hefl.crypto.vector.decrypt_repacked`: the
        aggregate, the global model and every local model, ≈ 3× fewer operations at d = 50),
        and so is every vector ``shift_bits`` names, in digits of the width it gives (the local
        models, in the aggregate's layout, whatever their length); the other plain ones in one
        batch (the p-half of CRT for small bounds), the packed ones in another (full CRT: their
        plaintexts fill Z_n), then each packed vector's slots read back as the integers it
        packed."""
        key = self._require_private_key()
        workers = self.fixed_point.workers
        widths = shift_bits or {}
        repacked: dict[int, np.ndarray] = {}
        for i, v in enumerate(vectors):
            if isinstance(v, EncryptedVector) and _read_in_groups(v, forced=i in widths):
                values = decrypt_repacked(key, v, shift_bits=widths.get(i), workers=workers)
                repacked[i] = np.array([to_float(x, v.scale_bits) for x in values], dtype=float)
        plain = [
            v for i, v in enumerate(vectors) if isinstance(v, EncryptedVector) and i not in repacked
        ]
        packed = [v for v in vectors if isinstance(v, PackedVector)]
        out_plain = iter(self.decrypt_many(plain) if plain else [])
        ints = (
            decrypt_int_vectors(key, [p.packed for p in packed], workers=workers) if packed else []
        )
        out_packed = iter(
            np.array(
                [
                    to_float(x, p.scale_bits)
                    for x in unpack_ints(xs, p.count, p.per_ciphertext, p.slot_bits, p.value_bound)
                ],
                dtype=np.float64,
            )
            for p, xs in zip(packed, ints, strict=True)
        )
        return [
            repacked[i]
            if i in repacked
            else next(out_plain if isinstance(v, EncryptedVector) else out_packed)
            for i, v in enumerate(vectors)
        ]

    def decrypt_many(self, vectors: Sequence[EncryptedVector]) -> list[np.ndarray]:
        """Decrypt several vectors in one batch (the party's key; both CRT halves in parallel)."""
        key = self._require_private_key()
        return decrypt_vectors(key, vectors, workers=self.fixed_point.workers)


def _read_in_groups(vector: EncryptedVector, *, forced: bool) -> bool:
    """Whether the party reads a plain vector by its own packing (:meth:`PaillierStrategy.
    decrypt_mixed`): when ``forced`` (a local model, in the aggregate's layout) or when it is
    worth it (:func:`~hefl.crypto.vector.worth_repacking`); else a value at a time."""
    return forced or worth_repacking(len(vector), repack_layout(vector.public_key, vector.bound)[0])


def _decode_group(
    vector: EncryptedVector | PackedVector,
    first: int,
    count: int,
    bits: int,
    plaintext: int,
    n: int,
) -> list[int]:
    """The integers one group's plaintext stands for: a participant-packed gradient's ciphertext
    ``first`` read as offset slots (:func:`~hefl.crypto.vector.unpack_plaintext`), a plain
    vector's ``count`` ciphertexts from ``first`` as the signed digits of their shifted sum
    (:func:`~hefl.crypto.vector.decode_shifted_sum`). EncodingOverflowError when they do not
    decode within the vector's declared bound."""
    if isinstance(vector, PackedVector):
        slots = min(vector.per_ciphertext, vector.count - first * vector.per_ciphertext)
        return unpack_plaintext(first, plaintext, slots, bits, vector.value_bound)
    return decode_shifted_sum(plaintext, count, bits, vector.bound, n, first)
