"""The main paper's experiments (§3.2, Figs. 2–5) with Table 1's parameters.

* Figs. 2–3, loss vs fixed τ: the only-resource scheme (τ fixed, frequencies optimised) for
  τ = 10, 20, …, 90 and several N, on Boston (Fig. 2) or fish (Fig. 3).
* Fig. 4, loss vs energy budget: the three controllers (joint, only-resource, only-aggregation)
  at N = 5.
* Fig. 5, loss vs N: the three controllers at one energy budget.

**How ξ is treated — read this before the numbers.** Table 1 taken literally (ξ = 300 s bounding
the whole job's learning time, C3) leaves room for about 38 encrypted local steps on Boston with
N = 5: no τ above 38 fits even one round. Every report starts with that literal case
(:func:`literal_feasibility`); then *all four figures* run with one ξ, Table 1's × ``xi_factor``
(default 10, the smallest power of ten at which τ = 90 fits one round for every N ≥ 2), and Figs.
4 and 5 show ξ × ``alt_xi_factor`` (default 1, the literal one) beside it.

**Seeds and verdicts.** Every point is run over ``seeds`` (default 10: sample, split and
partition) and summarised by its mean and 95 % band (:mod:`~hefl.experiments.adaptive.stats`);
the claims are judged with a tolerance and a paired test over the seeds, as holds / ties / fails
(:mod:`~hefl.experiments.adaptive.verdicts`). The figures run on an iid and a skewed (non-iid)
partition arm. :mod:`~hefl.experiments.adaptive.sensitivity` re-runs Fig. 4's claim under every
reading of Algorithm 1's first round, growth cap and last round, and both ξ.

The learning runs in plaintext by default (:func:`simulate`, the reference distributed GD of
:mod:`hefl.learning.linear` with the φ̂/ω̂ estimates of :mod:`hefl.learning.estimates`); the
encrypted path follows the same trajectory (tested in the encrypted-learning issue), and
``encrypted=True`` runs every job through :class:`hefl.agents.job.InProcessJob` instead.

The package: :mod:`~hefl.experiments.adaptive.config` (the settings),
:mod:`~hefl.experiments.adaptive.runs` (the jobs and the figures' grids),
:mod:`~hefl.experiments.adaptive.stats` (Monte-Carlo means and bands),
:mod:`~hefl.experiments.adaptive.verdicts` (the paper's claims judged over seeds),
:mod:`~hefl.experiments.adaptive.sensitivity` (the readings of Algorithm 1),
:mod:`~hefl.experiments.adaptive.plots` and :mod:`~hefl.experiments.adaptive.report` (CSV, PNG,
the report and :func:`run_experiments`).
"""

from hefl.experiments.adaptive.config import (
    DEFAULT_ENERGY,
    FIGURES,
    PAPER_SAMPLES,
    SCHEMES,
    SWEEP_FIGURE,
    XI_FACTOR,
    ExperimentConfig,
    Scheme,
)
from hefl.experiments.adaptive.report import (
    STUDIES,
    cost_shares,
    describe_settings,
    run_experiments,
    write_csv,
)
from hefl.experiments.adaptive.runs import (
    Progress,
    RoundRecord,
    Trace,
    literal_feasibility,
    load_prepared,
    run_encrypted,
    run_energy,
    run_job,
    run_participants,
    run_sweep,
    scheme_controller,
    simulate,
)
from hefl.experiments.adaptive.sensitivity import READINGS, Cell, Reading, run_sensitivity
from hefl.experiments.adaptive.stats import Band, band, summarise
from hefl.experiments.adaptive.verdicts import (
    BestTau,
    Comparison,
    best_tau,
    best_tau_by_n,
    compare,
    gap_by_energy,
    orderings,
)

__all__ = [
    "DEFAULT_ENERGY",
    "FIGURES",
    "PAPER_SAMPLES",
    "READINGS",
    "SCHEMES",
    "STUDIES",
    "SWEEP_FIGURE",
    "XI_FACTOR",
    "Band",
    "BestTau",
    "Cell",
    "Comparison",
    "ExperimentConfig",
    "Progress",
    "Reading",
    "RoundRecord",
    "Scheme",
    "Trace",
    "band",
    "best_tau",
    "best_tau_by_n",
    "compare",
    "cost_shares",
    "describe_settings",
    "gap_by_energy",
    "literal_feasibility",
    "load_prepared",
    "orderings",
    "run_encrypted",
    "run_energy",
    "run_experiments",
    "run_job",
    "run_participants",
    "run_sensitivity",
    "run_sweep",
    "scheme_controller",
    "simulate",
    "summarise",
    "write_csv",
]
