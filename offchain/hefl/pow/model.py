"""The proof-of-work mode's model: gradient-sum ridge regression, and the blobs blocks carry.

Model (``notes-gradient-sum-on-blockchain.txt``). Linear model on vectorised images,
x = [vec(X); 1] ∈ ℝ^{mn+1} (:mod:`hefl.data.images`), objective

    L(w) = Σ_i ½(y_i − wᵀx_i)² + γ‖w‖²,      ∇L(w) = Σ_i x_i(wᵀx_i − y_i) + 2γw.

The data term is a sum over samples, so it splits over the data owners: with owner k's local
gradient g_k(w) = Σ_{i∈D_k} x_i(wᵀx_i − y_i) (a sum, not a mean), ∇L(w) = Σ_k g_k(w) + 2γw.

Where the ridge term is counted. The notes add the penalty's gradient inside every owner's local
gradient ("… + 2w" twice), which would count it once per owner, i.e. minimise L with γ replaced by
N·γ. Here it is counted exactly once, by the aggregators, who hold w^{t−1} anyway; owners send
only their data terms. The update written into block B_t is therefore

    w^t = w^{t−1} − α (Σ_k g_k(w^{t−1}) + 2γ w^{t−1}),

gradient descent on L itself, whose fixed point is the ridge solution (XᵀX + 2γI) w* = Xᵀy
(:func:`closed_form`). With 0 < α < 2/λ_max(XᵀX + 2γI) it converges linearly; the default
α = 1/(Σ_k ‖X_k‖_F² + 2γ) (:func:`default_alpha`) needs only each owner's Frobenius norm, a single
number, and is safe because λ_max(XᵀX) ≤ tr(XᵀX) = Σ_k ‖X_k‖_F². The sums run in the owners'
on-chain order with IEEE doubles, so every honest node computes the same bytes.

Block blobs. A block names the blob of w^t: the plain vector, or, with encrypted gradients, a
bundle (w^t, Σ_k g_k, the hashes of the messages summed) (:func:`secagg_block_blob`), from which
anyone still re-derives w^t from public data. :func:`block_model` reads w from either.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from hefl.canonical import canonical_json
from hefl.errors import ConfigError
from hefl.learning.blobs import pack_bundle, unpack_bundle
from hefl.learning.plain import decode_plain_vector, encode_plain_vector

#: First bytes of a bundle (:func:`hefl.learning.blobs.pack_bundle`): a secagg block blob.
BUNDLE_MAGIC = pack_bundle([])[:8]


def local_gradient(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """g_k(w) = Σ_{i∈D_k} x_i (wᵀx_i − y_i) = X_kᵀ(X_k w − y_k): an owner's data term."""
    return X.T @ (X @ w - y)


def ridge_gradient(w: np.ndarray, gamma: float) -> np.ndarray:
    """∇(γ‖w‖²) = 2γw, counted once, by the aggregators."""
    return 2.0 * gamma * w


def sum_gradients(gradients: Sequence[np.ndarray]) -> np.ndarray:
    """Σ_k g_k, added in the given (on-chain owner) order so every node gets the same bits."""
    if not gradients:
        raise ConfigError("no gradients to sum")
    total = np.array(gradients[0], dtype=np.float64, copy=True)
    for g in gradients[1:]:
        total = total + g
    return total


def aggregate_step(
    w_prev: np.ndarray, gradients: Sequence[np.ndarray], alpha: float, gamma: float
) -> np.ndarray:
    """w^t = w^{t−1} − α(Σ_k g_k + 2γ w^{t−1}): the block's model."""
    return w_prev - alpha * (sum_gradients(gradients) + ridge_gradient(w_prev, gamma))


def objective(w: np.ndarray, X: np.ndarray, y: np.ndarray, gamma: float) -> float:
    """L(w) = Σ_i ½(y_i − wᵀx_i)² + γ‖w‖²."""
    r = y - X @ w
    return float(0.5 * r @ r + gamma * w @ w)


def closed_form(X: np.ndarray, y: np.ndarray, gamma: float) -> np.ndarray:
    """argmin L: the solution of (XᵀX + 2γI) w = Xᵀy (γ > 0 makes it unique)."""
    d = X.shape[1]
    return np.linalg.solve(X.T @ X + 2.0 * gamma * np.eye(d), X.T @ y)


def default_alpha(parts: Sequence[tuple[np.ndarray, np.ndarray]], gamma: float) -> float:
    """α = 1/(Σ_k ‖X_k‖_F² + 2γ) ≤ 1/λ_max(XᵀX + 2γI): a safe step from one number per owner."""
    return 1.0 / (sum(float(np.sum(X * X)) for X, _ in parts) + 2.0 * gamma)


# --- block blobs ----------------------------------------------------------------------------------
def block_model(blob: bytes) -> np.ndarray:
    """w from a block's blob: a plain vector, or the first part of a secagg block bundle."""
    if blob.startswith(BUNDLE_MAGIC):
        return decode_plain_vector(unpack_bundle(blob, 3)[0])
    return decode_plain_vector(blob)


def secagg_block_blob(w: np.ndarray, total: np.ndarray, message_hashes: Sequence[bytes]) -> bytes:
    """The block blob with encrypted gradients: (w^t, Σ_k g_k, hashes of the summed messages)."""
    hashes = canonical_json({"message_hashes": ["0x" + h.hex() for h in message_hashes]})
    return pack_bundle([encode_plain_vector(w), encode_plain_vector(total), hashes])


def read_secagg_block(blob: bytes) -> tuple[bytes, np.ndarray, list[str]]:
    """(the encoded w^t, Σ_k g_k, the message hashes) of a secagg block blob."""
    model, total, hashes = unpack_bundle(blob, 3)
    return model, decode_plain_vector(total), list(json.loads(hashes)["message_hashes"])
