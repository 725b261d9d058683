"""hefl.experiments: the papers' experiments.

* :mod:`hefl.experiments.adaptive` — the main paper's Figs. 2–5 over seeds, the sensitivity study
  and the figures under hefl's own (fused) cost model (``hefl experiment``);
* :mod:`hefl.experiments.calibrate` — that cost model's parameters timed on this machine
  (``hefl costs calibrate``);
* :mod:`hefl.experiments.secagg` and :mod:`hefl.experiments.dso` — the secure-aggregation and
  decentralised-optimisation comparisons.
"""
