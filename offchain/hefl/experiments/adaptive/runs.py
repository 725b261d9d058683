"""Running the experiments' jobs: the plaintext simulation and the encrypted job through the one
round loop (:func:`hefl.control.loop.run_rounds`), the budgeted controllers, Table 1's literal
case, and the three figures' grids."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from hefl.control import (
    Controller,
    JobInfo,
    OnlyResourceController,
    RoundPlan,
    RoundSummary,
    StepResult,
    Trace,
    make_controller,
    min_deadline,
    run_rounds,
)
from hefl.costs import ONLY_RESOURCE_TAU, CostModel
from hefl.data import PreparedData, SplitConfig, load_dataset, prepare
from hefl.experiments.adaptive.config import PAPER_SAMPLES, SCHEMES, ExperimentConfig
from hefl.learning import linear
from hefl.learning.estimates import estimate_phi_omega

#: One round of a job (the loop's record, the same for the simulation and the encrypted job).
RoundRecord = RoundSummary

# --- data ---------------------------------------------------------------------------------------
_DATA_CACHE: dict[tuple[str, int, int, str], PreparedData] = {}


def load_prepared(dataset: str, participants: int, seed: int, partition: str) -> PreparedData:
    """§3.2 preprocessing through :func:`hefl.data.prepare` (cached per setting)."""
    key = (dataset, participants, seed, partition)
    if key not in _DATA_CACHE:
        split = SplitConfig(
            participants=participants, n_samples=PAPER_SAMPLES, seed=seed, partition=partition
        )
        _DATA_CACHE[key] = prepare(load_dataset(dataset), split)
    return _DATA_CACHE[key]


# --- running a job ------------------------------------------------------------------------------
#: Above this τ the simulation applies τ steps as one affine map (what hefl's fused update does on
#: ciphertexts) instead of looping; below it the loop keeps trajectories bit for bit.
AFFINE_TAU = 64


def _local_steps(w: np.ndarray, X: np.ndarray, y: np.ndarray, eta: float, tau: int) -> np.ndarray:
    """τ steps of Eq. 4. For τ > :data:`AFFINE_TAU` as one affine map, w_τ = M^τ w + Σ_{s<τ} M^s ηb
    with M = I − ηXᵀX/|D| and b = Xᵀy/|D|, from the power of the augmented matrix [[M, ηb], [0, 1]]
    (no inverse: a part's XᵀX may be singular)."""
    if tau <= AFFINE_TAU:
        return linear.local_steps(w, X, y, eta, tau)
    d = len(w)
    step = np.eye(d + 1)
    step[:d, :d] -= eta * (X.T @ X) / X.shape[0]
    step[:d, d] = eta * (X.T @ y) / X.shape[0]
    power = np.linalg.matrix_power(step, tau)
    return power[:d, :d] @ w + power[:d, d]


def simulate(data: PreparedData, controller: Controller, eta: float) -> Trace:
    """Plaintext distributed GD (Eqs. 4–5) driven by ``controller`` — the reference the encrypted
    loop follows. After each aggregation the estimates (22–23) go back in the report."""
    sizes = data.sizes
    w = np.zeros(data.model_size)
    done = 0

    def step(plan: RoundPlan, iteration: int) -> StepResult:
        nonlocal w, done
        locals_ = [_local_steps(w, p.X, p.y, eta, plan.tau) for p in data.parts]
        est = estimate_phi_omega(
            w,
            locals_,
            [linear.gradient(w, p.X, p.y) for p in data.parts],
            [linear.gradient(wi, p.X, p.y) for wi, p in zip(locals_, data.parts, strict=True)],
            sizes,
        )
        w = linear.aggregate(locals_, sizes)
        done += 1
        return StepResult(round=done - 1, model=w, phi=est.phi, omega=est.omega)

    def evaluate(model: np.ndarray) -> tuple[float, float]:
        return (
            linear.loss(model, data.X_train, data.y_train),
            linear.loss(model, data.X_test, data.y_test),
        )

    job = JobInfo(dataset_sizes=sizes, model_size=data.model_size, learning_rate=eta)
    return run_rounds(controller, job, step, evaluate)


def run_encrypted(
    dataset: str, split: SplitConfig, controller: Controller, eta: float, key_bits: int
) -> Trace:
    """The same job through the encrypted round loop on the embedded chain."""
    from hefl.agents.job import InProcessJob, JobConfig
    from hefl.chain import LocalBlobStore, connect_embedded
    from hefl.learning.strategy import LearningConfig

    config = JobConfig(
        dataset=dataset,
        split=split,
        learning=LearningConfig(eta=eta),
        strategy="paillier",
        key_bits=key_bits,
        allow_insecure_keys=key_bits < 2048,
        workers=2,
    )
    with tempfile.TemporaryDirectory() as tmp:
        job = InProcessJob(config, connect_embedded(), LocalBlobStore(Path(tmp) / "blobs"))
        return job.run(controller).trace


def run_job(
    config: ExperimentConfig,
    participants: int,
    controller: Controller,
    seed: int = 0,
    partition: str = "iid",
) -> Trace:
    """One job of an experiment, plaintext or encrypted as configured."""
    eta = config.table1.eta
    if config.encrypted:
        split = SplitConfig(
            participants=participants, n_samples=PAPER_SAMPLES, seed=seed, partition=partition
        )
        return run_encrypted(config.dataset, split, controller, eta, config.key_bits)
    data = load_prepared(config.dataset, participants, seed, partition)
    return simulate(data, controller, eta)


def scheme_controller(
    config: ExperimentConfig,
    scheme: str,
    energy: float,
    xi: float,
    tau: int | None = None,
    *,
    shorten_last_round: bool | None = None,
) -> Controller:
    """A budgeted controller of ``scheme`` with the experiment's Table 1, time treatment and
    readings of Algorithm 1 (first round, growth cap, last round)."""
    options: dict[str, Any] = {
        "energy_budget": energy,
        "params": config.table1,
        "time_limit": config.time_limit,
        "time_budget": xi,
        "first_round": config.first_round,
        "growth_cap": config.growth_cap,
        "shorten_last_round": (
            config.shorten_last_round if shorten_last_round is None else shorten_last_round
        ),
    }
    if scheme == "only-resource":
        return OnlyResourceController(tau=tau or ONLY_RESOURCE_TAU[config.dataset], **options)
    return make_controller(scheme, **options)


# --- the literal case ---------------------------------------------------------------------------
def literal_feasibility(
    config: ExperimentConfig, participants: Iterable[int], tau_limit: int = 1000
) -> list[dict[str, Any]]:
    """Table 1 as written (ξ a total limit): per N, the largest τ of which one round fits ξ at
    the frequency caps, and the most local steps ξ allows (max over τ of τ·⌊ξ/D_min(τ)⌋)."""
    rows = []
    xi = config.table1.xi
    for n in participants:
        data = load_prepared(config.dataset, n, config.seeds[0], config.partitions[0])
        model = CostModel(config.table1, data.sizes, data.model_size)
        steps, largest = 0, 0
        for tau in range(1, tau_limit + 1):
            d = min_deadline(model, tau)
            if d > xi:
                break
            largest = tau
            steps = max(steps, tau * math.floor(xi / d))
        rows.append(
            {
                "participants": n,
                "local_step_seconds": float(model.local_cycles.max() / model.caps[0]),
                "aggregation_seconds": float(model.aggregation_cycles / model.caps[-1]),
                "largest_tau_one_round": largest,
                "most_local_steps": steps,
            }
        )
    return rows


# --- the figures' grids -------------------------------------------------------------------------
Progress = Callable[[str], None]


def no_progress(_: str) -> None:
    """The default progress hook: says nothing."""
    return None


def _row(trace: Trace, **fields: Any) -> dict[str, Any]:
    """One seed's run: its settings, T (local steps), G (aggregations) and the losses."""
    return {
        **fields,
        "rounds": len(trace.rounds),
        "iterations": trace.iterations,
        "energy_used": trace.energy,
        "train_loss": trace.final_train_loss,
        "test_loss": trace.final_test_loss,
        "initial_train_loss": trace.initial_train_loss,
        "taus": " ".join(str(r.tau) for r in trace.rounds),
    }


def _arms(config: ExperimentConfig) -> list[tuple[str, int]]:
    return [(p, s) for p in config.partitions for s in config.seeds]


def run_sweep(config: ExperimentConfig, progress: Progress = no_progress) -> list[dict[str, Any]]:
    """Figs. 2–3: final loss of the only-resource scheme for every fixed τ and N, per seed.

    τ is strictly fixed here: only whole rounds of τ run (no shorter last round), so the sweep
    compares τ and nothing else; a τ of which not one round fits runs nothing (``fits`` False).
    """
    xi = config.xi()
    rows = []
    for partition, seed in _arms(config):
        for n in config.participants:
            for tau in config.taus:
                progress(f"{partition} seed {seed} N={n} τ={tau}")
                controller = scheme_controller(
                    config, "only-resource", config.budget, xi, tau, shorten_last_round=False
                )
                trace = run_job(config, n, controller, seed, partition)
                rows.append(
                    _row(trace, dataset=config.dataset, partition=partition, seed=seed,
                         participants=n, tau=tau, energy=config.budget, xi=xi,
                         fits=bool(trace.rounds))
                )  # fmt: skip
    return rows


def run_energy(
    config: ExperimentConfig,
    progress: Progress = no_progress,
    xi_factor: float | None = None,
    schemes: Iterable[str] = SCHEMES,
) -> list[dict[str, Any]]:
    """Fig. 4: final loss of the schemes for each energy budget at N = 5, per seed."""
    xi = config.xi(xi_factor)
    rows = []
    for partition, seed in _arms(config):
        for factor in config.energy_factors:
            energy = config.budget * factor
            for scheme in schemes:
                progress(f"{partition} seed {seed} {scheme} E={energy:.4g} J")
                controller = scheme_controller(config, scheme, energy, xi)
                trace = run_job(config, config.fig4_participants, controller, seed, partition)
                rows.append(
                    _row(trace, dataset=config.dataset, partition=partition, seed=seed,
                         scheme=scheme, energy=energy, participants=config.fig4_participants,
                         xi=xi)
                )  # fmt: skip
    return rows


def run_participants(
    config: ExperimentConfig, progress: Progress = no_progress, xi_factor: float | None = None
) -> list[dict[str, Any]]:
    """Fig. 5: final loss of the three schemes for each N at one energy budget, per seed."""
    xi = config.xi(xi_factor)
    rows = []
    for partition, seed in _arms(config):
        for n in config.fig5_participants:
            for scheme in SCHEMES:
                progress(f"{partition} seed {seed} {scheme} N={n}")
                trace = run_job(
                    config, n, scheme_controller(config, scheme, config.budget, xi), seed, partition
                )
                rows.append(
                    _row(trace, dataset=config.dataset, partition=partition, seed=seed,
                         scheme=scheme, participants=n, energy=config.budget, xi=xi)
                )  # fmt: skip
    return rows
