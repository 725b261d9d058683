"""The main paper's experiments (§3.2, Figs. 2–5) with Table 1's parameters.

* Figs. 2–3, loss vs fixed τ: the only-resource scheme (τ fixed, frequencies optimised) for
  τ = 10, 20, …, 90 and several N, on Boston (Fig. 2) or fish (Fig. 3).
* Fig. 4, loss vs energy budget: the three controllers (joint, only-resource, only-aggregation)
  at N = 5.
* Fig. 5, loss vs N: the three controllers at one energy budget.

**How ξ is treated — read this before the numbers.** Table 1 taken literally (ξ = 300 s bounding
the whole job's learning time, C3) leaves room for about 38 encrypted local steps on Boston with
N = 5: no τ above 38 fits even one round, and for N ≤ 3 not even the only-resource τ = 25 does. So:

* every report starts with the *literal* case: for each N, the largest τ of which one round fits
  ξ and the most local steps ξ allows (:func:`literal_feasibility`);
* Fig. 4 runs with Table 1's ξ as written (``fig4_xi_factor = 1``): at N = 5 all three schemes fit;
* the sweeps (Figs. 2–3) and Fig. 5 run with ξ multiplied by ``sweep_xi_factor`` (default 10, the
  smallest power of ten at which τ = 90 fits one round for every N ≥ 2 of the default grids). The
  factor, the resulting ξ and the time-limit reading are written into every CSV row and the
  report.

The learning runs in plaintext by default (:func:`simulate`, the reference distributed GD of
:mod:`hefl.learning.linear` with the φ̂/ω̂ estimates of :mod:`hefl.learning.estimates`); the
encrypted path follows the same trajectory (tested in the encrypted-learning issue), and
``encrypted=True`` runs every job through :class:`hefl.agents.job.InProcessJob` instead.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hefl.control import (
    Controller,
    JobInfo,
    OnlyResourceController,
    RoundReport,
    TimeLimit,
    make_controller,
    min_deadline,
)
from hefl.costs import ONLY_RESOURCE_TAU, CostModel, CostParameters
from hefl.data import PreparedData, SplitConfig, load_dataset, prepare
from hefl.errors import ConfigError
from hefl.learning import linear
from hefl.learning.estimates import estimate_phi_omega

#: Data sets of §3.2 and the figure that sweeps τ on each.
SWEEP_FIGURE: dict[str, str] = {"boston": "fig2", "fish": "fig3"}
FIGURES: tuple[str, ...] = ("fig2", "fig3", "fig4", "fig5")
SCHEMES: tuple[str, ...] = ("joint", "only-resource", "only-aggregation")
#: Samples drawn per data set (§3.2: 506 each).
PAPER_SAMPLES = 506
#: Energy budget (J) of Figs. 2, 3 and 5 and the centre of Fig. 4's grid, per data set. Boston's
#: encrypted steps cost (14/7)³ = 8× fish's at equal time, so its budget is an order larger (the
#: paper: "different orders of magnitude on the horizontal axis").
DEFAULT_ENERGY: dict[str, float] = {"boston": 400.0, "fish": 50.0}


@dataclass(frozen=True)
class ExperimentConfig:
    """Settings of the paper's experiments (Table 1 defaults; see the module docstring on ξ).

    Attributes:
        dataset: "boston" or "fish".
        participants: the N of Figs. 2–3.
        fig4_participants: N of Fig. 4 (the paper: 5).
        fig5_participants: the N of Fig. 5.
        taus: the fixed τ of Figs. 2–3.
        energy: budget (J) of Figs. 2, 3, 5; ``None``: :data:`DEFAULT_ENERGY`.
        energy_factors: Fig. 4's budgets as multiples of ``energy``.
        time_limit: how ξ applies (:mod:`hefl.control.optimiser`).
        sweep_xi_factor: ξ multiplier for Figs. 2, 3, 5 (1 = Table 1 literally).
        fig4_xi_factor: ξ multiplier for Fig. 4.
        partition: "iid" or "skewed" (:class:`hefl.data.SplitConfig`).
        seed: seeds the sample, split and partition.
        params: Table 1 (B0 from the data set when left ``None``).
        encrypted: run the jobs through the encrypted round loop instead of plaintext.
        key_bits: Paillier modulus for ``encrypted``.
    """

    dataset: str = "boston"
    participants: tuple[int, ...] = (3, 5, 7, 9)
    fig4_participants: int = 5
    fig5_participants: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8, 9, 10)
    taus: tuple[int, ...] = tuple(range(10, 100, 10))
    energy: float | None = None
    energy_factors: tuple[float, ...] = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
    time_limit: TimeLimit = "total"
    sweep_xi_factor: float = 10.0
    fig4_xi_factor: float = 1.0
    partition: str = "iid"
    seed: int = 0
    params: CostParameters | None = None
    encrypted: bool = False
    key_bits: int = 2048

    def __post_init__(self) -> None:
        if self.dataset not in SWEEP_FIGURE:
            raise ConfigError(f"the paper's experiments use boston or fish, got {self.dataset!r}")
        if any(n < 1 for n in (*self.participants, *self.fig5_participants)):
            raise ConfigError("every N must be a positive integer")
        if any(t < 1 for t in self.taus):
            raise ConfigError(f"every τ must be a positive integer, got {self.taus!r}")
        for name in ("sweep_xi_factor", "fig4_xi_factor"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be positive, got {value!r}")
        if self.energy is not None and not (math.isfinite(self.energy) and self.energy > 0):
            raise ConfigError(f"energy must be positive joules, got {self.energy!r}")

    @property
    def table1(self) -> CostParameters:
        return self.params or CostParameters.for_dataset(self.dataset)

    @property
    def budget(self) -> float:
        return DEFAULT_ENERGY[self.dataset] if self.energy is None else self.energy

    def xi(self, factor: float) -> float:
        return self.table1.xi * factor


@dataclass(frozen=True)
class RoundRecord:
    """One round of a simulated job."""

    round: int
    iteration: int
    tau: int
    train_loss: float
    test_loss: float
    energy: float
    phi: float | None
    omega: float | None


@dataclass(frozen=True)
class Trace:
    """A whole job: its rounds and the loss before the first one."""

    initial_train_loss: float
    initial_test_loss: float
    rounds: tuple[RoundRecord, ...]

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
        return float(sum(r.energy for r in self.rounds))


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
def simulate(data: PreparedData, controller: Controller, eta: float) -> Trace:
    """Plaintext distributed GD (Eqs. 4–5) driven by ``controller`` — the reference the encrypted
    loop follows. After each aggregation the estimates (22–23) go back in the report."""
    sizes = data.sizes
    w = np.zeros(data.model_size)
    init_train = linear.loss(w, data.X_train, data.y_train)
    init_test = linear.loss(w, data.X_test, data.y_test)
    rounds: list[RoundRecord] = []
    plan = controller.start(
        JobInfo(dataset_sizes=sizes, model_size=data.model_size, learning_rate=eta)
    )
    iteration = 0
    while plan is not None:
        locals_ = [linear.local_steps(w, p.X, p.y, eta, plan.tau) for p in data.parts]
        est = estimate_phi_omega(
            w,
            locals_,
            [linear.gradient(w, p.X, p.y) for p in data.parts],
            [linear.gradient(wi, p.X, p.y) for wi, p in zip(locals_, data.parts, strict=True)],
            sizes,
        )
        w = linear.aggregate(locals_, sizes)
        iteration += plan.tau
        record = RoundRecord(
            round=len(rounds),
            iteration=iteration,
            tau=plan.tau,
            train_loss=linear.loss(w, data.X_train, data.y_train),
            test_loss=linear.loss(w, data.X_test, data.y_test),
            energy=float(plan.energy or 0.0),
            phi=est.phi,
            omega=est.omega,
        )
        rounds.append(record)
        plan = controller.observe(
            RoundReport(
                round_index=record.round,
                iteration=iteration,
                tau=plan.tau,
                train_loss=record.train_loss,
                phi_hat=est.phi,
                omega_hat=est.omega,
            )
        )
    return Trace(init_train, init_test, tuple(rounds))


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
        w0 = np.zeros(job.data.model_size)
        init_train, init_test = job.losses(w0)
        result = job.run(controller)
    rounds = tuple(
        RoundRecord(
            r.round, r.iteration, r.tau, r.train_loss, r.test_loss, r.energy or 0.0, r.phi, r.omega
        )
        for r in result.rounds
    )
    return Trace(init_train, init_test, rounds)


def run_job(config: ExperimentConfig, participants: int, controller: Controller) -> Trace:
    """One job of an experiment, plaintext or encrypted as configured."""
    eta = config.table1.eta
    if config.encrypted:
        split = SplitConfig(
            participants=participants,
            n_samples=PAPER_SAMPLES,
            seed=config.seed,
            partition=config.partition,
        )
        return run_encrypted(config.dataset, split, controller, eta, config.key_bits)
    data = load_prepared(config.dataset, participants, config.seed, config.partition)
    return simulate(data, controller, eta)


def scheme_controller(
    config: ExperimentConfig, scheme: str, energy: float, xi: float, tau: int | None = None
) -> Controller:
    """A budgeted controller of ``scheme`` with the experiment's Table 1 and time treatment."""
    options: dict[str, Any] = {
        "energy_budget": energy,
        "params": config.table1,
        "time_limit": config.time_limit,
        "time_budget": xi,
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
        data = load_prepared(config.dataset, n, config.seed, config.partition)
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


# --- the figures --------------------------------------------------------------------------------
Progress = Callable[[str], None]


def _noop(_: str) -> None:
    return None


def _row(trace: Trace, **fields: Any) -> dict[str, Any]:
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


def run_sweep(config: ExperimentConfig, progress: Progress = _noop) -> list[dict[str, Any]]:
    """Figs. 2–3: final loss of the only-resource scheme for every fixed τ and N."""
    xi = config.xi(config.sweep_xi_factor)
    rows = []
    for n in config.participants:
        for tau in config.taus:
            progress(f"N={n} τ={tau}")
            controller = scheme_controller(config, "only-resource", config.budget, xi, tau)
            trace = run_job(config, n, controller)
            # A τ of which not one round fits is shrunk by the last-round rule: flag it.
            fits = bool(trace.rounds) and trace.rounds[0].tau == tau
            rows.append(
                _row(trace, participants=n, tau=tau, energy=config.budget, xi=xi,
                     time_limit=config.time_limit, fits=fits)
            )  # fmt: skip
    return rows


def run_energy(config: ExperimentConfig, progress: Progress = _noop) -> list[dict[str, Any]]:
    """Fig. 4: final loss of the three schemes for each energy budget at N = 5."""
    xi = config.xi(config.fig4_xi_factor)
    rows = []
    for factor in config.energy_factors:
        energy = config.budget * factor
        for scheme in SCHEMES:
            progress(f"{scheme} E={energy:.4g} J")
            trace = run_job(
                config, config.fig4_participants, scheme_controller(config, scheme, energy, xi)
            )
            rows.append(
                _row(trace, scheme=scheme, energy=energy, participants=config.fig4_participants,
                     xi=xi, time_limit=config.time_limit)
            )  # fmt: skip
    return rows


def run_participants(config: ExperimentConfig, progress: Progress = _noop) -> list[dict[str, Any]]:
    """Fig. 5: final loss of the three schemes for each N at one energy budget."""
    xi = config.xi(config.sweep_xi_factor)
    rows = []
    for n in config.fig5_participants:
        for scheme in SCHEMES:
            progress(f"{scheme} N={n}")
            trace = run_job(config, n, scheme_controller(config, scheme, config.budget, xi))
            rows.append(
                _row(trace, scheme=scheme, participants=n, energy=config.budget, xi=xi,
                     time_limit=config.time_limit)
            )  # fmt: skip
    return rows


# --- verdicts -----------------------------------------------------------------------------------
def best_tau_by_n(rows: Sequence[dict[str, Any]]) -> dict[int, int | None]:
    """argmin over τ of the final training loss, per N, among the τ of which at least one whole
    round fits (``None`` if none does)."""
    out: dict[int, int | None] = {}
    for n in sorted({r["participants"] for r in rows}):
        trained = [r for r in rows if r["participants"] == n and r["rounds"] > 0]
        trained = [r for r in trained if r["fits"]]
        out[n] = min(trained, key=lambda r: r["train_loss"])["tau"] if trained else None
    return out


def ordering_holds(rows: Sequence[dict[str, Any]], key: str) -> list[tuple[Any, bool, bool]]:
    """Per value of ``key``: (value, joint ≤ only-resource, only-resource ≤ only-aggregation)."""
    out = []
    for value in sorted({r[key] for r in rows}):
        loss = {r["scheme"]: r["train_loss"] for r in rows if r[key] == value}
        out.append(
            (
                value,
                loss["joint"] <= loss["only-resource"],
                loss["only-resource"] <= loss["only-aggregation"],
            )
        )
    return out


def gap_by_energy(rows: Sequence[dict[str, Any]]) -> list[tuple[float, float]]:
    """(energy, loss(only-aggregation) − loss(joint)) per budget."""
    out = []
    for e in sorted({r["energy"] for r in rows}):
        loss = {r["scheme"]: r["train_loss"] for r in rows if r["energy"] == e}
        out.append((e, loss["only-aggregation"] - loss["joint"]))
    return out


# --- output -------------------------------------------------------------------------------------
def write_csv(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def plot_lines(
    rows: Sequence[dict[str, Any]],
    *,
    x: str,
    series: str,
    path: Path,
    title: str,
    xlabel: str,
    logx: bool = False,
) -> Path:
    """One line per value of ``series``: final training loss against ``x``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for value in sorted({r[series] for r in rows}, key=str):
        pts = sorted((r[x], r["train_loss"]) for r in rows if r[series] == value)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"{series}={value}")
    if logx:
        # Label the measured budgets themselves; log-scale minor labels would overlap.
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        ax.set_xscale("log")
        ax.set_xticks(sorted({r[x] for r in rows}))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel("training loss F(w(T))")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def describe_settings(config: ExperimentConfig) -> dict[str, Any]:
    settings = dataclasses.asdict(config)
    settings["params"] = dataclasses.asdict(config.table1)
    settings["energy"] = config.budget
    settings["sweep_xi"] = config.xi(config.sweep_xi_factor)
    settings["fig4_xi"] = config.xi(config.fig4_xi_factor)
    return settings


# --- the whole experiment -----------------------------------------------------------------------
def _fmt(value: float) -> str:
    return f"{value:.5g}"


def _sweep_section(config: ExperimentConfig, fig: str, rows: list[dict[str, Any]]) -> list[str]:
    best = best_tau_by_n(rows)
    distinct = {t for t in best.values() if t is not None}
    spread = {
        n: max(r["train_loss"] for r in rows if r["participants"] == n)
        - min(r["train_loss"] for r in rows if r["participants"] == n)
        for n in best
    }
    lines = [
        f"## {fig}: loss vs fixed τ ({config.dataset}, only-resource, E = "
        f"{_fmt(config.budget)} J, ξ = {_fmt(config.xi(config.sweep_xi_factor))} s "
        f"{config.time_limit})",
        "",
        "| N | best τ | loss at best τ | loss range over τ | rounds at best τ | τ not fitting "
        "one round (ran shrunk) |",
        "|---|---|---|---|---|---|",
    ]
    for n, tau in best.items():
        unfit = [r["tau"] for r in rows if r["participants"] == n and not r["fits"]]
        if tau is None:
            lines.append(f"| {n} | — | | | | {unfit} |")
            continue
        row = next(r for r in rows if r["participants"] == n and r["tau"] == tau)
        lines.append(
            f"| {n} | {tau} | {_fmt(row['train_loss'])} | {_fmt(spread[n])} | {row['rounds']} "
            f"| {unfit or '—'} |"
        )
    verdict = "supported" if len(distinct) > 1 else "not supported"
    lines += [
        "",
        f"**Claim: the best fixed τ depends on N** — {verdict} here: the best τ per N is "
        f"{dict(best)}. How much it matters: the loss varies over τ by at most "
        f"{_fmt(max(spread.values()) if spread else 0.0)} for a given N, against a loss of "
        f"≈{_fmt(min(r['train_loss'] for r in rows))}; with η = {config.table1.eta} the loss is "
        "set mostly by the number of local steps T the budget buys, and the τ-to-τ differences "
        "mostly reflect whole rounds (T = Σ τ) rather than divergence between participants. The "
        "claim that it also depends on the data set needs both data sets' reports side by side.",
        "",
    ]
    return lines


def _energy_section(config: ExperimentConfig, rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"## fig4: loss vs energy budget ({config.dataset}, N = {config.fig4_participants}, "
        f"ξ = {_fmt(config.xi(config.fig4_xi_factor))} s {config.time_limit})",
        "",
        "| E (J) | joint | only-resource | only-aggregation | joint τ sequence |",
        "|---|---|---|---|---|",
    ]
    for e in sorted({r["energy"] for r in rows}):
        loss = {r["scheme"]: r for r in rows if r["energy"] == e}
        lines.append(
            f"| {_fmt(e)} | {_fmt(loss['joint']['train_loss'])} | "
            f"{_fmt(loss['only-resource']['train_loss'])} | "
            f"{_fmt(loss['only-aggregation']['train_loss'])} | {loss['joint']['taus']} |"
        )
    order = ordering_holds(rows, "energy")
    first = sum(a for _, a, _ in order)
    second = sum(b for _, _, b in order)
    gaps = gap_by_energy(rows)
    widest = max(gaps, key=lambda g: g[1])
    lines += [
        "",
        f"**Claim: joint ≤ only-resource ≤ only-aggregation** — joint ≤ only-resource at "
        f"{first}/{len(order)} budgets, only-resource ≤ only-aggregation at {second}/{len(order)}.",
        "",
        f"**Claim: the gap is widest at small energy** — the gap only-aggregation − joint is "
        f"largest at E = {_fmt(widest[0])} J ({_fmt(widest[1])}); smallest budget "
        f"{_fmt(gaps[0][0])} J: {_fmt(gaps[0][1])}, largest {_fmt(gaps[-1][0])} J: "
        f"{_fmt(gaps[-1][1])}. "
        + (
            "Supported."
            if widest[0] == gaps[0][0]
            else "Not supported: the gap does not peak at the smallest budget."
        ),
        "",
    ]
    return lines


def _participants_section(config: ExperimentConfig, rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"## fig5: loss vs N ({config.dataset}, E = {_fmt(config.budget)} J, "
        f"ξ = {_fmt(config.xi(config.sweep_xi_factor))} s {config.time_limit})",
        "",
        "| N | joint | only-resource | only-aggregation |",
        "|---|---|---|---|",
    ]
    for n in sorted({r["participants"] for r in rows}):
        loss = {r["scheme"]: r["train_loss"] for r in rows if r["participants"] == n}
        lines.append(
            f"| {n} | {_fmt(loss['joint'])} | {_fmt(loss['only-resource'])} | "
            f"{_fmt(loss['only-aggregation'])} |"
        )
    shrunk = [
        r["participants"]
        for r in rows
        if r["scheme"] == "only-resource"
        and r["taus"]
        and int(r["taus"].split()[0]) != ONLY_RESOURCE_TAU[config.dataset]
    ]
    if shrunk:
        lines += [
            "",
            f"For N in {shrunk} not one round of the only-resource τ = "
            f"{ONLY_RESOURCE_TAU[config.dataset]} fits; it ran one shorter round (the "
            "last-round rule).",
        ]
    order = ordering_holds(rows, "participants")
    best = sum(a for _, a, _ in order)
    lines += [
        "",
        f"**Claim: with the same N the joint scheme has the smallest loss** — joint ≤ "
        f"only-resource for {best}/{len(order)} values of N.",
        "",
    ]
    return lines


def run_experiments(
    config: ExperimentConfig,
    figures: Sequence[str],
    out_dir: str | Path,
    progress: Progress = _noop,
) -> dict[str, Path]:
    """Run ``figures`` (any of :data:`FIGURES`), write CSV, PNG and ``report_<dataset>.md``."""
    unknown = [f for f in figures if f not in FIGURES]
    if unknown:
        raise ConfigError(f"unknown figure(s) {unknown}; choose from {FIGURES} or 'all'")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ds = config.dataset
    paths: dict[str, Path] = {}
    literal = literal_feasibility(
        config, sorted({*config.participants, *config.fig5_participants, config.fig4_participants})
    )
    paths["literal"] = write_csv(literal, out / f"literal_{ds}.csv")
    mode = "encrypted (Paillier)" if config.encrypted else "plaintext reference"
    report = [
        f"# The paper's experiments on {ds}",
        "",
        f"Learning: {mode}; η = {config.table1.eta}; B0 = {config.table1.b0}; partition "
        f"{config.partition}; seed {config.seed}. Loss = training loss F(w(T)) (Eq. 3); test "
        "losses are in the CSV files.",
        "",
        "## Table 1 taken literally",
        "",
        f"ξ = {_fmt(config.table1.xi)} s as a *total* limit on the learning time (C3), every "
        f"node at f_max = {config.table1.f_max:.3g} Hz:",
        "",
        "| N | one local step (s) | aggregation (s) | largest τ of one round | most local steps |",
        "|---|---|---|---|---|",
    ]
    for r in literal:
        report.append(
            f"| {r['participants']} | {_fmt(r['local_step_seconds'])} | "
            f"{_fmt(r['aggregation_seconds'])} | {r['largest_tau_one_round']} | "
            f"{r['most_local_steps']} |"
        )
    too_short = [
        r["participants"] for r in literal if r["largest_tau_one_round"] < max(config.taus)
    ]
    verdict = (
        f"So the τ sweep {config.taus[0]}…{config.taus[-1]} cannot run as written for N in "
        f"{too_short}."
        if too_short
        else f"The τ sweep {config.taus[0]}…{config.taus[-1]} fits one round for every N here."
    )
    report += [
        "",
        f"{verdict} Treatment "
        f"(named, see `hefl.experiments.adaptive`): time_limit = `{config.time_limit}`; Figs. 2, "
        f"3 and 5 use ξ × {config.sweep_xi_factor:g} = {_fmt(config.xi(config.sweep_xi_factor))}"
        f" s; Fig. 4 uses ξ × {config.fig4_xi_factor:g} = "
        f"{_fmt(config.xi(config.fig4_xi_factor))} s.",
        "",
    ]
    for fig in figures:
        if fig in ("fig2", "fig3"):
            rows = run_sweep(config, progress)
            name = f"{fig}_{ds}"
            paths[name] = write_csv(rows, out / f"{name}.csv")
            paths[f"{name}_png"] = plot_lines(
                rows,
                x="tau",
                series="participants",
                path=out / f"{name}.png",
                title=f"{ds}: loss vs fixed τ (only-resource, E={_fmt(config.budget)} J)",
                xlabel="τ",
            )
            report += _sweep_section(config, fig, rows)
        elif fig == "fig4":
            rows = run_energy(config, progress)
            name = f"fig4_{ds}"
            paths[name] = write_csv(rows, out / f"{name}.csv")
            paths[f"{name}_png"] = plot_lines(
                rows,
                x="energy",
                series="scheme",
                path=out / f"{name}.png",
                title=f"{ds}: loss vs energy budget (N={config.fig4_participants})",
                xlabel="energy budget E (J)",
                logx=True,
            )
            report += _energy_section(config, rows)
        else:
            rows = run_participants(config, progress)
            name = f"fig5_{ds}"
            paths[name] = write_csv(rows, out / f"{name}.csv")
            paths[f"{name}_png"] = plot_lines(
                rows,
                x="participants",
                series="scheme",
                path=out / f"{name}.png",
                title=f"{ds}: loss vs N (E={_fmt(config.budget)} J)",
                xlabel="participants N",
            )
            report += _participants_section(config, rows)
    settings_path = out / f"settings_{ds}.json"
    settings_path.write_text(json.dumps(describe_settings(config), indent=2, default=str))
    paths["settings"] = settings_path
    report_path = out / f"report_{ds}.md"
    report_path.write_text("\n".join(report) + "\n")
    paths["report"] = report_path
    return paths
