"""The controller-driven round loop (Algorithm 1 of the main paper), one for every way of running
the rounds.

Before each round the controller plans τ (and the CPU frequencies); a *step* supplied by the
caller runs the round — the plaintext simulation's distributed GD (Eqs. 4–5) in
:mod:`hefl.experiments.adaptive`, or the encrypted round on the ledger (Eqs. 6–10) in
:class:`hefl.agents.job.InProcessJob` — and hands back the aggregated model w(t) with the estimates
φ̂ and ω̂ (Eqs. 22–23); an *evaluator* outside the protocol measures the training and test loss
F(w) (Eq. 3); the controller observes the round and plans the next one, until it stops.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hefl.control.base import Controller, JobInfo, RoundPlan, RoundReport
from hefl.errors import HeflError


@dataclass(frozen=True)
class StepResult:
    """What a round's step hands back to the loop.

    Attributes:
        round: g, the round's index (the ledger's, for a job on chain).
        model: the aggregated model w(t) in plaintext.
        phi: φ̂ (Eq. 22), ``None`` when it could not be formed.
        omega: ω̂ (Eq. 23), ``None`` when it could not be formed.
        status: the ledger's verdict on the round (``"finalised"``, ``"disputed"``, …);
            ``None`` off chain.
        attested / disputed: the replicas' votes on the aggregate (0 off chain).
        stop: an error that ends the job once this round is recorded and reported (a round
            that did not finalise: nothing may build on an unverified aggregate).
    """

    round: int
    model: np.ndarray
    phi: float | None = None
    omega: float | None = None
    status: str | None = None
    attested: int = 0
    disputed: int = 0
    stop: HeflError | None = None


@dataclass(frozen=True)
class RoundSummary:
    """One finished round: the plan it ran, the evaluator's losses, the estimates and, for a job
    on chain, what the ledger says.

    Attributes:
        round: g.
        iteration: t after the round (local steps so far).
        tau: the τ the round ran.
        train_loss / test_loss: F(w(t)) on the pooled training and the held-out test data.
        phi / omega: φ̂ and ω̂ (Eqs. 22–23) reported to the controller.
        status / attested / disputed: the ledger's verdict and votes (``None``/0 off chain).
        seconds: wall time of the round, its evaluation included.
        energy: the energy (J) the controller booked for the round, if it accounts energy.
    """

    round: int
    iteration: int
    tau: int
    train_loss: float
    test_loss: float
    phi: float | None
    omega: float | None
    status: str | None = None
    attested: int = 0
    disputed: int = 0
    seconds: float = 0.0
    energy: float | None = None


@dataclass(frozen=True)
class Trace:
    """A whole job: the loss before the first round, every round, and the final model."""

    initial_train_loss: float
    initial_test_loss: float
    rounds: tuple[RoundSummary, ...]
    model: np.ndarray

    @property
    def iterations(self) -> int:
        return self.rounds[-1].iteration if self.rounds else 0

    @property
    def final_train_loss(self) -> float:
        return self.rounds[-1].train_loss if self.rounds else self.initial_train_loss

    @property
    def final_test_loss(self) -> float:
        return self.rounds[-1].test_loss if self.rounds else self.initial_test_loss

    @property
    def energy(self) -> float:
        """The energy (J) booked over the rounds (0 for rounds of a controller that books none)."""
        return float(sum(r.energy or 0.0 for r in self.rounds))


#: Runs one round of the plan from the iteration t the round starts at.
RoundStep = Callable[[RoundPlan, int], StepResult]
#: The evaluator's (training loss, test loss) of a plaintext model, outside the protocol.
Evaluator = Callable[[np.ndarray], tuple[float, float]]
#: Called with every finished round (before a ``stop`` error is raised).
Progress = Callable[[RoundSummary], None]


def run_rounds(
    controller: Controller,
    job: JobInfo,
    step: RoundStep,
    evaluate: Evaluator,
    progress: Progress | None = None,
    *,
    done: Trace | None = None,
) -> Trace:
    """Algorithm 1's loop: plan, run the round, evaluate, report, until the controller stops.

    Every job starts from w(0) = 0. After each round the controller receives the training loss,
    φ̂ and ω̂ (and the test loss in ``extra``) in a :class:`~hefl.control.base.RoundReport`.

    ``done`` continues a job that stopped after some rounds (``hefl run --resume``): the
    controller is started afresh and shown the reports of the rounds done, in order, so that it
    plans the next round exactly as it would have without the interruption.
    """
    plan = controller.start(job)
    if done is None:
        model = np.zeros(job.model_size)
        initial_train, initial_test = evaluate(model)
        rounds: list[RoundSummary] = []
        iteration = 0
    else:
        model, rounds, iteration = done.model, list(done.rounds), done.iterations
        initial_train, initial_test = done.initial_train_loss, done.initial_test_loss
        for index, summary in enumerate(done.rounds):
            if plan is None:
                break
            plan = controller.observe(_report(index, summary))
    while plan is not None:
        began = time.perf_counter()
        result = step(plan, iteration)
        iteration += plan.tau
        model = result.model
        train_loss, test_loss = evaluate(model)
        summary = RoundSummary(
            round=result.round,
            iteration=iteration,
            tau=plan.tau,
            train_loss=train_loss,
            test_loss=test_loss,
            phi=result.phi,
            omega=result.omega,
            status=result.status,
            attested=result.attested,
            disputed=result.disputed,
            seconds=time.perf_counter() - began,
            energy=plan.energy,
        )
        rounds.append(summary)
        if progress is not None:
            progress(summary)
        if result.stop is not None:
            raise result.stop
        plan = controller.observe(_report(len(rounds) - 1, summary))
    return Trace(initial_train, initial_test, tuple(rounds), model)


def _report(index: int, summary: RoundSummary) -> RoundReport:
    """What the controller observes of the ``index``-th finished round (its position in the
    job, which is the ledger's round index unless a round was voided)."""
    return RoundReport(
        round_index=index,
        iteration=summary.iteration,
        tau=summary.tau,
        train_loss=summary.train_loss,
        phi_hat=summary.phi,
        omega_hat=summary.omega,
        extra={"test_loss": summary.test_loss},
    )
