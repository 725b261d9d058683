"""The aggregation strategy interface: one class per scheme, as Flower's ``Strategy``.

A round of the main paper has four moves, and a strategy implements each one on opaque blobs (the
bytes the blob store keeps and whose keccak256 the ledger records):

1. ``initial_model`` — the computing party creates the starting global model [[w(0)]];
2. ``local_update`` — a participant runs τ local steps on the global model with its own data and
   returns its local model (Eq. 11's ELW_Pi) and an "extra" blob for the party's estimates;
3. ``aggregate`` — Eq. 10, a deterministic function of public data, so any replica recomputes the
   same bytes and attests to the party's commitment;
4. ``conclude`` — the computing party (alone holding the secret) decrypts what it must, estimates
   φ̂ and ω̂ (Eqs. 22–23), and prepares the next round's global model.

The orchestration (ledger, blob store, processes) lives in :mod:`hefl.agents` and never branches on
the strategy: a new scheme is a new subclass.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np

from hefl.data.prepare import Part
from hefl.errors import ConfigError, SerializationError
from hefl.learning.estimates import Estimates, EstimateSettings

#: How τ local steps are computed: as one affine map, or Eqs. 6–9 step by step.
UpdateMode = Literal["fused", "literal"]
UPDATE_MODES: tuple[UpdateMode, ...] = get_args(UpdateMode)


def update_mode(value: object) -> UpdateMode:
    """``value`` as an :data:`UpdateMode`; :class:`ConfigError` naming the modes otherwise."""
    for mode in UPDATE_MODES:
        if value == mode:
            return mode
    raise ConfigError(f"update mode {value!r} unknown; use one of {UPDATE_MODES}")


@dataclass(frozen=True)
class LearningConfig:
    """Hyper-parameters of the learning (Table 1 of the main paper as defaults).

    Attributes:
        eta: learning rate η (Table 1: 0.001).
        ridge: γ of the optional ridge term γ‖w‖² (notes paper; 0 for the main paper).
        mode: ``"fused"`` (τ steps as one affine map) or ``"literal"`` (Eqs. 6–9 step by step).
        estimates: safeguards of φ̂ and ω̂.
    """

    eta: float = 0.001
    ridge: float = 0.0
    mode: UpdateMode = "fused"
    estimates: EstimateSettings = field(default_factory=EstimateSettings)

    def __post_init__(self) -> None:
        if not self.eta > 0:
            raise ConfigError(f"learning rate eta must be > 0, got {self.eta}")
        if self.ridge < 0:
            raise ConfigError(f"ridge γ must be ≥ 0, got {self.ridge}")
        update_mode(self.mode)


@dataclass(frozen=True)
class LocalUpdate:
    """What a participant hands in for a round: its local model and the extra blob."""

    model: bytes
    extra: bytes


@dataclass(frozen=True)
class SubmissionRules:
    """What the protocol fixes about a round's submissions, from public data: the round's τ and
    |D| = Σ_i |D_i| (Eq. 10's denominator, on chain). A strategy derives from them, the key and
    its fixed-point configuration what every blob's header must declare
    (:meth:`Strategy.validate_update`)."""

    tau: int
    total_data_size: int

    def __post_init__(self) -> None:
        if self.tau < 1 or self.total_data_size < 1:
            raise ConfigError(
                f"submission rules need τ ≥ 1 and |D| ≥ 1, got {self.tau}, {self.total_data_size}"
            )


@dataclass(frozen=True)
class RoundOutcome:
    """What the computing party learns at the end of a round.

    Attributes:
        model: the aggregated model w(t) in plaintext (the party's product).
        next_global: the blob the next round starts from (re-encrypted at a fresh scale).
        estimates: φ̂ and ω̂ for the controller, or ``None`` when they cannot be formed.
        local_models: the decrypted local models w_i(t) of the included participants.
    """

    model: np.ndarray
    next_global: bytes
    estimates: Estimates | None
    local_models: tuple[np.ndarray, ...]


class Strategy(ABC):
    """One learning-and-aggregation scheme; see the module docstring for the four moves."""

    #: Name used on the command line and recorded in the job configuration.
    name: str = "strategy"
    #: Whether participants' updates may run in worker processes (the strategy pickles cleanly
    #: and keeps no per-round state between its moves).
    parallel_updates: bool = True

    @abstractmethod
    def initial_model(self, model_size: int) -> bytes:
        """The computing party's starting global model blob (w(0) = 0)."""

    @abstractmethod
    def local_update(self, global_model: bytes, part: Part, tau: int) -> LocalUpdate:
        """τ local steps (Eq. 4 / Eqs. 6–9) from ``global_model`` on one participant's data."""

    @abstractmethod
    def aggregate(self, local_models: Sequence[bytes], sizes: Sequence[int]) -> bytes:
        """Eq. 10: the size-weighted combination, deterministic in its inputs."""

    @abstractmethod
    def conclude(
        self,
        global_model: bytes,
        aggregate: bytes,
        updates: Sequence[LocalUpdate],
        sizes: Sequence[int],
    ) -> RoundOutcome:
        """The computing party's end of the round: decrypt, estimate, prepare the next model."""

    def describe(self) -> dict[str, object]:
        """Public parameters of the scheme, for the job configuration's commitment."""
        return {"strategy": self.name}

    def validate_update(
        self, global_model: bytes, update: LocalUpdate, rules: SubmissionRules | None = None
    ) -> None:
        """Raise :class:`~hefl.errors.SerializationError` if a participant's blobs cannot be used
        with ``global_model`` (malformed, wrong key, wrong length, or, given the round's
        ``rules``, a header that declares what the protocol does not allow). Anyone can run it:
        the party to leave such a submission out, a replica to confirm that leaving it out was
        right, the participant itself before it submits."""
        self.aggregate([update.model], [1])

    def screen(
        self, global_model: bytes, aggregate: bytes, updates: Sequence[LocalUpdate]
    ) -> list[bytes | None]:
        """The computing party's look, before it commits ``aggregate`` (Eq. 10 over
        ``updates``), at what only its secrets reveal: per update ``None`` when its hidden content
        is what its headers declare, else evidence that it is not — a blob anyone can check
        (:meth:`check_evidence`) — so that the party leaves the update out instead of stalling on
        it after the commit. A scheme whose replicas see everything has nothing to screen."""
        return [None] * len(updates)

    def check_evidence(self, global_model: bytes, update: LocalUpdate, evidence: bytes) -> str:
        """A replica's check of the party's evidence against ``update`` (:meth:`screen`): the
        fault it proves, or :class:`~hefl.errors.SerializationError` when it proves nothing."""
        raise SerializationError(f"the {self.name} scheme takes no evidence against a submission")

    def check_tau(self, global_model: bytes, part: Part, tau: int) -> None:
        """Raise before any work if ``tau`` local steps from ``global_model`` cannot be done."""
        return  # every τ is possible unless a scheme says otherwise

    def for_participant(self, index: int) -> Strategy:
        """The instance participant ``index`` uses: one without the computing party's secrets,
        and per client where a scheme keys per client (this one, unless a scheme says otherwise).
        """
        return self

    def check_aggregate(
        self,
        global_model: bytes,
        local_models: Sequence[bytes],
        sizes: Sequence[int],
        aggregate: bytes,
    ) -> bytes | None:
        """A replica's check of a committed aggregate: ``None`` if it is right, else the blob the
        replica holds to be right instead (its hash goes into the dispute).

        By default Eq. 10 is recomputed from the committed local models, byte for byte."""
        recomputed = self.aggregate(local_models, sizes)
        return None if recomputed == aggregate else recomputed
