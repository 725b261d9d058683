"""``hefl costs calibrate``: the cost model of hefl's own execution, measured on this machine.

The paper prices a local step at μ1·|w|·|D_i| cycles (Eq. 12), so a round's learning cost grows
with τ. hefl runs the *fused* update (:mod:`hefl.learning.paillier`): a participant's round is the
τ-step affine map plus the two gradients the estimates need, three |w|×|w| plaintext-matrix ×
ciphertext-vector products and three re-randomisations, whatever τ and |D_i|. This module times
one such round with the real :class:`~hefl.learning.paillier.PaillierStrategy` and expresses it in
the paper's units, cycles at Table 1's f_max (the machine's seconds × f_max: the model at f_max
then reproduces the measured seconds):

* μ_F = (participant's round seconds) × f_max / |w|² (``local_update = "fused"``);
* μ1 = (computing party's seconds − its plaintext work) × f_max / (N·|w|): Eq. 13's ciphertext
  term, covering the aggregation (Eq. 10), the decryptions and the re-encryption;
* μ2 = (seconds of the plaintext gradients behind φ̂, ω̂) × f_max / (N·|w|·Σ|D_i|): Eq. 13's
  plaintext term.

PBFT's β, θ, α and the energy constant γ stay Table 1's: hefl's ledger is an Ethereum chain, not
the paper's PBFT, and the machine's energy is not measured.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from hefl.costs import CostModel, CostParameters
from hefl.crypto import generate_keypair
from hefl.data import PreparedData, SplitConfig, load_dataset, prepare
from hefl.errors import ConfigError
from hefl.learning import linear
from hefl.learning.paillier import PaillierStrategy
from hefl.learning.strategy import LearningConfig
from hefl.timing import best_of


@dataclass(frozen=True)
class RoundTiming:
    """Seconds of one encrypted round's pieces (each the minimum over the repeats).

    Attributes:
        tau: the round's τ.
        participant: one participant's fused update (the slowest of them).
        party: the computing party's aggregation, decryptions, estimates and re-encryption.
        plaintext: the party's plaintext gradients for φ̂, ω̂ alone.
    """

    tau: int
    participant: float
    party: float
    plaintext: float

    @property
    def round(self) -> float:
        """Seconds of the round's learning, participants in parallel: participant + party."""
        return self.participant + self.party


@dataclass(frozen=True)
class Calibration:
    """The parameters file's content and what it was measured from."""

    params: CostParameters
    timing: RoundTiming
    dataset: str
    participants: int
    key_bits: int
    model_size: int
    sizes: tuple[int, ...]

    def model(self) -> CostModel:
        return CostModel(self.params, self.sizes, self.model_size)

    def predicted_round_seconds(self, tau: int) -> float:
        """Learning seconds of one round at f_max under the calibrated model."""
        model = self.model()
        f = self.params.f_max
        return float(model.round_local_cycles(tau).max() / f + model.aggregation_cycles / f)

    def describe(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "participants": self.participants,
            "key_bits": self.key_bits,
            "model_size": self.model_size,
            "timing": dataclasses.asdict(self.timing),
            "params": dataclasses.asdict(self.params),
        }


def _setup(
    dataset: str, participants: int, key_bits: int, eta: float, seed: int
) -> tuple[PaillierStrategy, PreparedData]:
    data = prepare(
        load_dataset(dataset), SplitConfig(participants=participants, n_samples=506, seed=seed)
    )
    public, private = generate_keypair(key_bits, allow_insecure=key_bits < 2048)
    strategy = PaillierStrategy(public, LearningConfig(eta=eta), private_key=private)
    return strategy, data


def time_round(
    strategy: PaillierStrategy, data: PreparedData, tau: int, repeats: int = 5
) -> RoundTiming:
    """Time one encrypted round of τ steps with the real strategy: every participant's fused
    update (the slowest counts), then the computing party's aggregate and conclude."""
    if tau < 1 or repeats < 1:
        raise ConfigError(f"τ and repeats must be positive, got τ={tau}, repeats={repeats}")
    start = strategy.initial_model(data.model_size)
    seconds, updates = [], []
    for part in data.parts:
        s, update = best_of(functools.partial(strategy.local_update, start, part, tau), repeats)
        seconds.append(s)
        updates.append(update)
    sizes = data.sizes

    def party() -> Any:
        aggregate = strategy.aggregate([u.model for u in updates], sizes)
        return strategy.conclude(start, aggregate, updates, sizes)

    party_seconds, outcome = best_of(party, repeats)

    def plaintext() -> None:
        for w_i, part in zip(outcome.local_models, data.parts, strict=True):
            linear.gradient(np.zeros(data.model_size), part.X, part.y)
            linear.gradient(w_i, part.X, part.y)

    plain_seconds, _ = best_of(plaintext, repeats)
    return RoundTiming(tau, max(seconds), party_seconds, plain_seconds)


def fit(
    params: CostParameters, timing: RoundTiming, sizes: tuple[int, ...], model_size: int
) -> CostParameters:
    """The module docstring's μ_F, μ1, μ2 from a round's ``timing`` (a pure function: at f_max the
    fitted model gives back the timing's seconds, whatever τ)."""
    f, d, n = params.f_max, model_size, len(sizes)
    mu2 = max(timing.plaintext * f / (n * d * sum(sizes)), 1.0)
    mu1 = max((timing.party - timing.plaintext) * f / (n * d), 1.0)
    return dataclasses.replace(
        params, local_update="fused", mu_fused=timing.participant * f / d**2, mu1=mu1, mu2=mu2
    )


def calibrate(
    dataset: str = "boston",
    participants: int = 5,
    key_bits: int = 2048,
    tau: int = 25,
    repeats: int = 5,
    base: CostParameters | None = None,
    seed: int = 0,
) -> Calibration:
    """Measure one encrypted round and fit μ_F, μ1, μ2 (:func:`fit`) on ``base``."""
    params = base or CostParameters.for_dataset(dataset)
    strategy, data = _setup(dataset, participants, key_bits, params.eta, seed)
    timing = time_round(strategy, data, tau, repeats)
    sizes = tuple(data.sizes)
    fitted = fit(params, timing, sizes, data.model_size)
    return Calibration(fitted, timing, dataset, participants, key_bits, data.model_size, sizes)
