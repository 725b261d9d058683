"""Secure aggregation (Yang et al.'s multi-key scheme and its baselines) as a learning strategy.

Clients train on the *plaintext* global model and send their updates encrypted, so the server
learns only their sum — the other way round from the main paper, where the model is encrypted and
the data owners' updates are not hidden from the key owner. Each round (FedAvg):

- participant i runs τ local steps (Eq. 4) from w and sends v_i = (|D_i|/|D|)·(w_i − w) through
  the scheme (:mod:`hefl.secagg`); the hash of its wire message goes on the ledger;
- the server (the computing party) aggregates: Σ_i v_i over the included participants S (for the
  multi-key scheme: ChelGen, the clients' responses T_i, Agg, Dec and Algorithm 2);
- the committed aggregate is a *transcript*: the round, the message hashes it covers, |D_S| and
  the sum. The next model is w + (|D|/|D_S|)·Σ v_i, i.e. Eq. 5 renormalised over S.

What a replica can check without the server's secret: the transcript covers exactly the committed
messages and sizes, but for those it names as excluded (a registered client outside S that
submitted anyway: the sum cannot cover it, and a round without deadline must name every
submitter on chain), and the next global model follows from it and the previous model. Whether the
sum is the true decryption cannot be checked publicly (only the server holds α) — the multi-key
paper's honest-but-curious server. The clients' challenge responses are produced in the server's
process here (the scheme simulates its clients, as :mod:`hefl.secagg` does); the multi-process
mode runs the main paper's scheme only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from hefl.canonical import canonical_json, keccak256
from hefl.data.prepare import Part
from hefl.errors import ConfigError, LearningError, SerializationError
from hefl.learning import linear
from hefl.learning.blobs import pack_bundle
from hefl.learning.plain import decode_plain_vector, encode_plain_vector
from hefl.learning.strategy import (
    LearningConfig,
    LocalUpdate,
    RoundOutcome,
    Strategy,
    SubmissionRules,
)
from hefl.secagg import SCHEMES, SecureAggregationScheme, make_scheme
from hefl.secagg.wire import frame_client_id

#: Strategy names: "secagg-" + a scheme of :data:`hefl.secagg.SCHEMES`.
PREFIX = "secagg-"
TRANSCRIPT_FORMAT = 1


def secagg_names() -> tuple[str, ...]:
    return tuple(PREFIX + name for name in SCHEMES)


class SecureAggregationStrategy(Strategy):
    """FedAvg through a secure-aggregation scheme; see the module docstring.

    The computing party builds it with ``sizes`` and a live scheme (``scheme`` set up for the
    job); replicas and auditors build it without one (``scheme=None``) and can only check.
    """

    parallel_updates = False  # the scheme's per-round state lives in this process

    def __init__(
        self,
        scheme_name: str,
        config: LearningConfig | None = None,
        *,
        sizes: Sequence[int],
        scheme: SecureAggregationScheme | None = None,
        client_id: int | None = None,
    ) -> None:
        if scheme_name not in SCHEMES:
            raise ConfigError(f"unknown scheme {scheme_name!r}; use one of {sorted(SCHEMES)}")
        self.name = PREFIX + scheme_name
        self.scheme_name = scheme_name
        self.config = config or LearningConfig()
        self.sizes = tuple(int(s) for s in sizes)
        self.scheme = scheme
        self.client_id = client_id
        self.round_index = 0

    @classmethod
    def create(
        cls, scheme_name: str, config: LearningConfig, sizes: Sequence[int], model_size: int,
        **scheme_options: object,
    ) -> SecureAggregationStrategy:  # fmt: skip
        """The computing party's instance: sets the scheme up for N clients and |w| values."""
        scheme = make_scheme(scheme_name, **scheme_options)
        scheme.setup(model_size, len(sizes))
        return cls(scheme_name, config, sizes=sizes, scheme=scheme)

    def describe(self) -> dict[str, object]:
        cfg = self.config
        return {
            "strategy": self.name,
            "eta": cfg.eta,
            "ridge": cfg.ridge,
            "mode": cfg.mode,
            "sizes": list(self.sizes),
        }

    def for_participant(self, index: int) -> SecureAggregationStrategy:
        clone = SecureAggregationStrategy(
            self.scheme_name, self.config, sizes=self.sizes, scheme=self.scheme, client_id=index
        )
        return clone

    def _live(self) -> SecureAggregationScheme:
        if self.scheme is None:
            raise LearningError(f"{self.name}: this instance can only check, it has no scheme")
        return self.scheme

    def _begin(self, model: np.ndarray) -> None:
        self._live().begin_round(self.round_index, range(len(self.sizes)), model)

    # --- the four moves --------------------------------------------------------------------------
    def initial_model(self, model_size: int) -> bytes:
        model = np.zeros(model_size)
        if self.scheme is not None:
            self._begin(model)
        return encode_plain_vector(model)

    def local_update(self, global_model: bytes, part: Part, tau: int) -> LocalUpdate:
        if self.client_id is None:
            raise LearningError("local_update needs the participant's instance (for_participant)")
        cfg = self.config
        w = decode_plain_vector(global_model)
        delta = linear.local_steps(w, part.X, part.y, cfg.eta, tau, cfg.ridge) - w
        weighted = delta * (part.size / sum(self.sizes))
        message = self._live().client_encrypt(self.client_id, weighted)
        return LocalUpdate(model=message, extra=pack_bundle([]))

    def validate_update(
        self, global_model: bytes, update: LocalUpdate, rules: SubmissionRules | None = None
    ) -> None:
        """The message's frame header names a client of this job (the scheme checks the rest)."""
        client = frame_client_id(update.model)
        if not 0 <= client < len(self.sizes):
            raise SerializationError(f"message names client {client}, not one of this job's")

    def aggregate(self, local_models: Sequence[bytes], sizes: Sequence[int]) -> bytes:
        scheme = self._live()
        messages = {frame_client_id(m): m for m in local_models}
        if len(messages) != len(local_models):
            raise SerializationError("two messages claim the same client")
        total = scheme.aggregate(messages)
        return self._transcript(local_models, sizes, total)

    def _transcript(
        self,
        local_models: Sequence[bytes],
        sizes: Sequence[int],
        total: np.ndarray,
        excluded: Sequence[bytes] = (),
    ) -> bytes:
        """The transcript over ``local_models`` (of |D_S| = Σ ``sizes``); ``excluded`` names the
        committed messages the sum leaves out (the field only appears when there are some)."""
        document: dict[str, object] = {
            "format": TRANSCRIPT_FORMAT,
            "strategy": self.name,
            "message_hashes": ["0x" + keccak256(m).hex() for m in local_models],
            "included_size": int(sum(sizes)),
            "sum": [float(v) for v in total],
        }
        if excluded:
            document["excluded_hashes"] = ["0x" + keccak256(m).hex() for m in excluded]
        return canonical_json(document)

    def _read_transcript(self, aggregate: bytes) -> dict[str, object]:
        try:
            document = json.loads(aggregate)
            if document.get("format") != TRANSCRIPT_FORMAT or document["strategy"] != self.name:
                raise ValueError("not a transcript of this strategy")
            return document
        except (ValueError, KeyError, TypeError) as error:
            raise SerializationError(
                f"{self.name}: malformed aggregate transcript ({error})"
            ) from None

    def next_model(self, global_model: bytes, aggregate: bytes) -> np.ndarray:
        """w + (|D|/|D_S|)·Σ v_i: Eq. 5 renormalised over the included participants."""
        transcript = self._read_transcript(aggregate)
        w = decode_plain_vector(global_model)
        total = np.asarray(transcript["sum"], dtype=np.float64)
        if total.shape != w.shape:
            raise SerializationError(f"transcript sum has shape {total.shape}, model {w.shape}")
        size = transcript["included_size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise SerializationError(f"transcript |D_S| = {size!r} is not a positive integer")
        return w + total * (sum(self.sizes) / size)

    def check_aggregate(
        self,
        global_model: bytes,
        local_models: Sequence[bytes],
        sizes: Sequence[int],
        aggregate: bytes,
    ) -> bytes | None:
        """The transcript must cover exactly the committed messages and sizes, in order, but for
        those it names as excluded — distinct committed messages, at least one left covered —
        and |D_S| is then the covered ones' (the sum itself, and which clients it covers, are
        the server's word: checking them needs the server's secret)."""
        try:
            transcript = self._read_transcript(aggregate)
            self.next_model(global_model, aggregate)
        except SerializationError as error:
            return f"rejected: {error}".encode()
        committed = ["0x" + keccak256(m).hex() for m in local_models]
        excluded = transcript.get("excluded_hashes", [])
        if (
            not isinstance(excluded, list)
            or not all(isinstance(h, str) for h in excluded)
            or len(set(excluded)) != len(excluded)
        ):
            return b"rejected: excluded_hashes is not a list of distinct hashes"
        expected = [h for h in committed if h not in excluded]
        size = sum(s for h, s in zip(committed, sizes, strict=True) if h not in excluded)
        if (
            not expected
            or not set(excluded) <= set(committed)
            or transcript["message_hashes"] != expected
            or transcript["included_size"] != size
        ):
            return json.dumps({"expected_message_hashes": expected, "size": size}).encode()
        return None

    def conclude(
        self,
        global_model: bytes,
        aggregate: bytes,
        updates: Sequence[LocalUpdate],
        sizes: Sequence[int],
    ) -> RoundOutcome:
        model = self.next_model(global_model, aggregate)
        self.round_index += 1
        self._begin(model)
        return RoundOutcome(
            model=model, next_global=encode_plain_vector(model), estimates=None, local_models=()
        )
