"""The plaintext strategy: the same rounds with no encryption, the reference the encrypted path
must follow (and the fast path for parameter sweeps)."""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

from hefl.data.prepare import Part
from hefl.errors import SerializationError
from hefl.learning import linear
from hefl.learning.blobs import pack_bundle, unpack_bundle
from hefl.learning.estimates import estimate_phi_omega
from hefl.learning.strategy import (
    LearningConfig,
    LocalUpdate,
    RoundOutcome,
    Strategy,
    SubmissionRules,
)

_MAGIC = b"HEFLPLN1"
_HEADER = struct.Struct(">8sI")


def encode_plain_vector(values: np.ndarray) -> bytes:
    """Canonical bytes of a float64 vector: magic, length, big-endian IEEE doubles."""
    vector = np.ascontiguousarray(values, dtype=">f8")
    return _HEADER.pack(_MAGIC, vector.shape[0]) + vector.tobytes()


def decode_plain_vector(blob: bytes) -> np.ndarray:
    """Inverse of :func:`encode_plain_vector`; refuses anything malformed."""
    if len(blob) < _HEADER.size:
        raise SerializationError(f"plain vector blob of {len(blob)} bytes is truncated")
    magic, length = _HEADER.unpack_from(blob)
    if magic != _MAGIC:
        raise SerializationError(f"not a plain vector blob (magic {magic!r})")
    if len(blob) != _HEADER.size + 8 * length:
        raise SerializationError(
            f"plain vector blob says {length} values but carries {len(blob) - _HEADER.size} bytes"
        )
    values = np.frombuffer(blob, dtype=">f8", offset=_HEADER.size).astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise SerializationError("plain vector blob holds a non-finite value")
    return values


class PlainStrategy(Strategy):
    """Eqs. 4–5 in plaintext, with the same blob flow as the encrypted strategy."""

    name = "plain"

    def __init__(self, config: LearningConfig | None = None) -> None:
        self.config = config or LearningConfig()

    def describe(self) -> dict[str, object]:
        cfg = self.config
        return {"strategy": self.name, "mode": cfg.mode, "eta": cfg.eta, "ridge": cfg.ridge}

    def initial_model(self, model_size: int) -> bytes:
        return encode_plain_vector(np.zeros(model_size))

    def local_update(self, global_model: bytes, part: Part, tau: int) -> LocalUpdate:
        cfg = self.config
        start = decode_plain_vector(global_model)
        local = linear.local_steps(start, part.X, part.y, cfg.eta, tau, cfg.ridge)
        gradients = [linear.gradient(w, part.X, part.y, cfg.ridge) for w in (start, local)]
        return LocalUpdate(
            model=encode_plain_vector(local),
            extra=pack_bundle([encode_plain_vector(g) for g in gradients]),
        )

    def validate_update(
        self, global_model: bytes, update: LocalUpdate, rules: SubmissionRules | None = None
    ) -> None:
        size = len(decode_plain_vector(global_model))
        blobs = [update.model, *unpack_bundle(update.extra, 2)]
        if any(len(decode_plain_vector(blob)) != size for blob in blobs):
            raise SerializationError(f"a submitted vector does not have the model's {size} values")

    def aggregate(self, local_models: Sequence[bytes], sizes: Sequence[int]) -> bytes:
        models = [decode_plain_vector(blob) for blob in local_models]
        return encode_plain_vector(linear.aggregate(models, sizes))

    def conclude(
        self,
        global_model: bytes,
        aggregate: bytes,
        updates: Sequence[LocalUpdate],
        sizes: Sequence[int],
    ) -> RoundOutcome:
        start = decode_plain_vector(global_model)
        locals_ = tuple(decode_plain_vector(u.model) for u in updates)
        grads = [[decode_plain_vector(b) for b in unpack_bundle(u.extra, 2)] for u in updates]
        estimates = estimate_phi_omega(
            start,
            locals_,
            [g[0] for g in grads],
            [g[1] for g in grads],
            sizes,
            self.config.estimates,
        )
        return RoundOutcome(
            model=decode_plain_vector(aggregate),
            next_global=aggregate,
            estimates=estimates,
            local_models=locals_,
        )
