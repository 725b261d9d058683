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

At the end of each round the computing party decrypts the aggregate, the local models and the two
encrypted gradients each participant sent (for φ̂ and ω̂, Eqs. 22–23), and refreshes the global
model — decrypt, re-encode at the base scale, re-encrypt — so the scale does not grow from round to
round. Participants re-randomise what they send, so their ciphertexts cannot be linked to (or
tested against guesses of) their data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hefl.crypto import (
    EncryptedVector,
    PrivateKey,
    PublicKey,
    decrypt_vectors,
    encode_float,
    matvec,
    weighted_sum_int,
)
from hefl.data.prepare import Part
from hefl.errors import ConfigError, LearningError, SerializationError
from hefl.learning.blobs import pack_bundle, unpack_bundle
from hefl.learning.estimates import estimate_phi_omega
from hefl.learning.fused import plan_update, precision_for, run_update
from hefl.learning.strategy import LearningConfig, LocalUpdate, RoundOutcome, Strategy


@dataclass(frozen=True)
class FixedPointConfig:
    """The fixed-point budget of the encrypted learning.

    Attributes:
        model_scale_bits: scale exponent f of a freshly encrypted model (resolution 2^-f).
        significant_bits: relative precision kept for every plaintext matrix or vector a
            ciphertext is multiplied by; a matrix whose largest entry is 2^e gets precision
            ``significant_bits − e`` so small entries (η·x/|D|) keep their digits.
        workers: processes used by the computing party's batch decryption.
    """

    model_scale_bits: int = 40
    significant_bits: int = 30
    workers: int = 2

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

    def __getstate__(self) -> dict[str, object]:
        # Worker processes for participants' updates never receive the secret.
        state = self.__dict__.copy()
        state["_private_key"] = None
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
        return EncryptedVector.from_bytes(blob, self.public_key)

    def validate_update(self, global_model: bytes, update: LocalUpdate) -> None:
        """Both blobs parse under this key (every ciphertext in range and coprime to n), hold
        vectors of the global model's length, and the extra blob holds exactly two."""
        size = len(self._load(global_model))
        vectors = [self._load(update.model)]
        vectors += [self._load(blob) for blob in unpack_bundle(update.extra, 2)]
        for vector in vectors:
            if len(vector) != size:
                raise SerializationError(
                    f"a submitted vector has {len(vector)} values, the model {size}"
                )

    def _encrypt_model(self, w: np.ndarray) -> bytes:
        key = self._private_key or self.public_key  # the owner encrypts by CRT
        return EncryptedVector.encrypt(key, w, self.fixed_point.model_scale_bits).to_bytes()

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
        )
        gradients = [g.rerandomize() for g in (products.grad_start, products.grad_local)]
        return LocalUpdate(
            model=products.local.rerandomize().to_bytes(),
            extra=pack_bundle([g.to_bytes() for g in gradients]),
        )

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
        aligning to the update's scale B·2^{Δf} plus the update's.
        """
        X, step, shrink = self._literal_matrices(part)
        p_x = precision_for(X, self.fixed_point.significant_bits)
        p_step = precision_for(step, self.fixed_point.significant_bits)
        g_x, g_step = _encoded_row_sum_bound(X, p_x), _encoded_row_sum_bound(step, p_step)
        y_max = float(np.max(np.abs(part.y))) if part.size else 0.0
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
            if max(residual, update, new_bound) > limit:
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
        start = self._load(global_model)
        vectors = [self._load(aggregate), start]
        for update in updates:
            vectors.append(self._load(update.model))
            vectors += [self._load(blob) for blob in unpack_bundle(update.extra, 2)]
        plain = self.decrypt_many(vectors)
        total = sum(int(s) for s in sizes)
        model = plain[0] / total  # Eq. 10's exponent 1/|D|, applied to the decrypted sum
        local_models = tuple(plain[2 + 3 * i] for i in range(len(updates)))
        estimates = estimate_phi_omega(
            plain[1],
            local_models,
            [plain[3 + 3 * i] for i in range(len(updates))],
            [plain[4 + 3 * i] for i in range(len(updates))],
            sizes,
            self.config.estimates,
        )
        return RoundOutcome(
            model=model,
            next_global=self._encrypt_model(model),
            estimates=estimates,
            local_models=local_models,
        )

    def decrypt_many(self, vectors: Sequence[EncryptedVector]) -> list[np.ndarray]:
        """Decrypt several vectors in one batch (the party's key; both CRT halves in parallel)."""
        key = self._require_private_key()
        return decrypt_vectors(key, vectors, workers=self.fixed_point.workers)
