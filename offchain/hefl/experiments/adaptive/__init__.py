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

The package in four parts: :mod:`~hefl.experiments.adaptive.config` (the settings),
:mod:`~hefl.experiments.adaptive.runs` (the jobs and the figures' grids),
:mod:`~hefl.experiments.adaptive.verdicts` (the paper's claims as functions of the rows) and
:mod:`~hefl.experiments.adaptive.report` (CSV, PNG, the report and :func:`run_experiments`).
"""

from hefl.experiments.adaptive.config import (
    DEFAULT_ENERGY,
    FIGURES,
    PAPER_SAMPLES,
    SCHEMES,
    SWEEP_FIGURE,
    ExperimentConfig,
    Scheme,
)
from hefl.experiments.adaptive.report import (
    describe_settings,
    plot_lines,
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
from hefl.experiments.adaptive.verdicts import best_tau_by_n, gap_by_energy, ordering_holds

__all__ = [
    "DEFAULT_ENERGY",
    "FIGURES",
    "PAPER_SAMPLES",
    "SCHEMES",
    "SWEEP_FIGURE",
    "ExperimentConfig",
    "Progress",
    "RoundRecord",
    "Scheme",
    "Trace",
    "best_tau_by_n",
    "describe_settings",
    "gap_by_energy",
    "literal_feasibility",
    "load_prepared",
    "ordering_holds",
    "plot_lines",
    "run_encrypted",
    "run_energy",
    "run_experiments",
    "run_job",
    "run_participants",
    "run_sweep",
    "scheme_controller",
    "simulate",
    "write_csv",
]
