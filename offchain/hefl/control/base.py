"""The controller interface: who decides τ (and CPU frequencies) round after round.

The round loop (:func:`hefl.control.loop.run_rounds`) asks a :class:`Controller` for a
:class:`RoundPlan` before each round and reports what happened with a :class:`RoundReport` after
the aggregation. A new scheme is a new subclass; the loop never branches on which controller it
has.

This mirrors Algorithm 1 of the main paper: τ local steps, aggregate, estimate φ̂ and ω̂ (Eqs. 22–23),
account energy, re-solve for τ and f, and stop when the budget is spent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

from hefl.costs.work import RoundWork
from hefl.errors import ConfigError


@dataclass(frozen=True)
class JobInfo:
    """What a controller knows about the job before the first round.

    Attributes:
        dataset_sizes: |D_i| of each participant, in participant order.
        model_size: |w|, the number of model coordinates (features + bias).
        learning_rate: η.
        work: what a round runs, counted before it runs (:func:`hefl.costs.work.planned_work`;
            the ``planned`` cost model prices from it); ``None`` when the job does not count it.
    """

    dataset_sizes: tuple[int, ...]
    model_size: int
    learning_rate: float
    work: RoundWork | None = None

    @property
    def participants(self) -> int:
        return len(self.dataset_sizes)

    @property
    def total_size(self) -> int:
        return sum(self.dataset_sizes)


@dataclass(frozen=True)
class RoundPlan:
    """A controller's decision for the next round.

    Attributes:
        tau: local steps before the next aggregation.
        frequencies: optional CPU frequency plan (Hz) keyed by a name the cost model defines;
            ``None`` means every node runs at its maximum frequency.
        last: ``True`` when the controller expects this to be the final round.
        energy: the energy (J) the controller booked for this round, if it accounts energy.
    """

    tau: int
    frequencies: Mapping[str, object] | None = None
    last: bool = False
    energy: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.tau, int) or self.tau < 1:
            raise ConfigError(f"tau must be a positive integer, got {self.tau!r}")


@dataclass(frozen=True)
class RoundReport:
    """What the learning loop reports after a round's aggregation.

    Attributes:
        round_index: g, counting from 0.
        iteration: t after the round (total local steps so far).
        tau: the τ that was used.
        train_loss: F(w(t)) on the training data.
        phi_hat: the weighted estimate φ̂ (Eq. 22), ``None`` when it could not be estimated.
        omega_hat: the weighted estimate ω̂ (Eq. 23), ``None`` when it could not be estimated.
    """

    round_index: int
    iteration: int
    tau: int
    train_loss: float
    phi_hat: float | None = None
    omega_hat: float | None = None
    extra: Mapping[str, float] = field(default_factory=dict)


class Controller(ABC):
    """Decides τ (and optionally CPU frequencies) for each round.

    ``start`` is called once before the first round; ``observe`` after every round. Either returns
    the next :class:`RoundPlan`, or ``None`` to stop the job.
    """

    #: Short name used on the command line and in reports.
    name: str = "controller"

    @abstractmethod
    def start(self, job: JobInfo) -> RoundPlan | None:
        """Plan the first round."""

    @abstractmethod
    def observe(self, report: RoundReport) -> RoundPlan | None:
        """Take a finished round into account and plan the next one (``None``: stop)."""


class FixedTauController(Controller):
    """The same τ every round, for a fixed number of rounds (the sweeps of Figs. 2–3)."""

    name = "fixed"

    def __init__(self, tau: int, rounds: int) -> None:
        if not isinstance(tau, int) or tau < 1:
            raise ConfigError(f"tau must be a positive integer, got {tau!r}")
        if not isinstance(rounds, int) or rounds < 1:
            raise ConfigError(f"rounds must be a positive integer, got {rounds!r}")
        self.tau = tau
        self.rounds = rounds

    def start(self, job: JobInfo) -> RoundPlan | None:
        return RoundPlan(tau=self.tau, last=self.rounds == 1)

    def observe(self, report: RoundReport) -> RoundPlan | None:
        done = report.round_index + 1
        if done >= self.rounds:
            return None
        return RoundPlan(tau=self.tau, last=done + 1 == self.rounds)
