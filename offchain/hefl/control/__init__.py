"""Controllers: who decides τ and CPU frequencies each round (Algorithm 1)."""

from hefl.control.base import Controller, FixedTauController, JobInfo, RoundPlan, RoundReport

__all__ = ["Controller", "FixedTauController", "JobInfo", "RoundPlan", "RoundReport"]
