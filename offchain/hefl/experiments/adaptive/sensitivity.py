"""The sensitivity study (``hefl experiment sensitivity``): Fig. 4's claim "joint ≤ only-resource"
under every combination of the readings of Algorithm 1 it rests on.

* first round (:data:`hefl.control.FIRST_ROUNDS`): the half-speed τ = 1 probe charged against E′
  and ξ (``probe``, Algorithm 1 as written), τ = 1 at the least-energy frequencies (``optimised``),
  or the probe run but not charged (``free``);
* growth cap: Wang et al.'s τ_max = 10 × the current τ on or off;
* only-resource's last round: Algorithm 1's shortened last round (``shortened``) or only whole
  rounds of its τ (``whole``; only-aggregation adapts τ by design, so this switch is
  only-resource's);
* ξ: Table 1's 300 s as a total limit (×1) or ×10.

Each cell runs Fig. 4's budgets at N = 5 over the seeds on the first partition arm. The joint
controller does not depend on the last-round switch, nor only-resource on the first two, so each
job runs once and is shared by the cells it belongs to.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hefl.control import FIRST_ROUNDS, FirstRound
from hefl.experiments.adaptive.config import ExperimentConfig
from hefl.experiments.adaptive.runs import Progress, no_progress, run_energy
from hefl.experiments.adaptive.verdicts import Comparison, compare, count, scheme_losses

#: The ξ multipliers the study crosses with the other readings.
XI_FACTORS: tuple[float, ...] = (1.0, 10.0)


@dataclass(frozen=True)
class Reading:
    """One combination of the readings (one cell of the study)."""

    first_round: FirstRound
    growth_cap: bool
    shorten_last_round: bool
    xi_factor: float

    @property
    def paper(self) -> bool:
        """Algorithm 1 as hefl runs it by default (probe charged, cap on, shortened last round)."""
        return self.first_round == "probe" and self.growth_cap and self.shorten_last_round

    def label(self) -> str:
        cap = "cap 10×" if self.growth_cap else "no cap"
        last = "shortened" if self.shorten_last_round else "whole"
        return f"{self.first_round}, {cap}, OR last {last}, ξ×{self.xi_factor:g}"


READINGS: tuple[Reading, ...] = tuple(
    Reading(f, c, s, x)
    for f, c, s, x in itertools.product(FIRST_ROUNDS, (True, False), (True, False), XI_FACTORS)
)


@dataclass(frozen=True)
class Cell:
    """The claim under one reading on one data set.

    Attributes:
        dataset: "boston" or "fish".
        reading: the combination.
        comparisons: per budget (J), joint ≤ only-resource over the seeds.
        joint_steps / resource_steps: mean T of each scheme per budget.
    """

    dataset: str
    reading: Reading
    comparisons: tuple[tuple[float, Comparison], ...]
    joint_steps: tuple[float, ...]
    resource_steps: tuple[float, ...]

    def counts(self) -> tuple[int, int, int]:
        c = count([cmp for _, cmp in self.comparisons])
        return c["holds"], c["ties"], c["fails"]


def run_sensitivity(
    config: ExperimentConfig,
    progress: Progress = no_progress,
    readings: Sequence[Reading] = READINGS,
) -> tuple[list[dict[str, Any]], list[Cell]]:
    """Per-seed rows of every job and the cells of ``config.dataset`` (first partition arm)."""
    base = dataclasses.replace(config, partitions=config.partitions[:1])
    joint: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    resource: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    rows: list[dict[str, Any]] = []
    cells: list[Cell] = []
    for reading in readings:
        cfg = dataclasses.replace(
            base,
            first_round=reading.first_round,
            growth_cap=reading.growth_cap,
            shorten_last_round=reading.shorten_last_round,
        )
        jkey = (reading.first_round, reading.growth_cap, reading.xi_factor)
        rkey = (reading.shorten_last_round, reading.xi_factor)
        if jkey not in joint:
            joint[jkey] = run_energy(cfg, progress, reading.xi_factor, schemes=("joint",))
        if rkey not in resource:
            resource[rkey] = run_energy(
                cfg, progress, reading.xi_factor, schemes=("only-resource",)
            )
        runs = joint[jkey] + resource[rkey]
        for r in runs:
            rows.append({**r, **dataclasses.asdict(reading)})
        losses = scheme_losses(runs, "energy")
        comparisons = tuple(
            (e, compare(v["joint"], v["only-resource"], config.tolerance, config.alpha))
            for e, v in losses.items()
        )
        steps = {
            s: tuple(
                float(
                    np.mean(
                        [r["iterations"] for r in runs if r["energy"] == e and r["scheme"] == s]
                    )
                )
                for e in losses
            )
            for s in ("joint", "only-resource")
        }
        cells.append(
            Cell(config.dataset, reading, comparisons, steps["joint"], steps["only-resource"])
        )
    return rows, cells


def summary_rows(cells: Sequence[Cell]) -> list[dict[str, Any]]:
    """One CSV row per cell and budget: the verdict, Δ, p and both schemes' mean T."""
    out = []
    for cell in cells:
        for i, (energy, cmp) in enumerate(cell.comparisons):
            out.append(
                {
                    "dataset": cell.dataset,
                    **dataclasses.asdict(cell.reading),
                    "energy": energy,
                    "verdict": cmp.verdict,
                    "difference": cmp.difference,
                    "tolerance": cmp.tolerance,
                    "p_value": cmp.p_value,
                    "seeds": cmp.n,
                    "joint_T": cell.joint_steps[i],
                    "only_resource_T": cell.resource_steps[i],
                }
            )
    return out


def table(cells: Sequence[Cell]) -> list[str]:
    """The report's table: one row per reading, holds/ties/fails and T per data set."""
    names = sorted({c.dataset for c in cells})
    by = {(c.dataset, c.reading): c for c in cells}
    readings = list(dict.fromkeys(c.reading for c in cells))
    head = "| first round | growth cap | only-resource last round | ξ |"
    rule = "|---|---|---|---|"
    for name in names:
        head += f" {name}: holds/ties/fails | {name}: T joint − T only-resource (per budget) |"
        rule += "---|---|"
    lines = [head, rule]
    for r in readings:
        line = (
            f"| {r.first_round} | {'10×' if r.growth_cap else 'off'} | "
            f"{'shortened' if r.shorten_last_round else 'whole rounds'} | ×{r.xi_factor:g} |"
        )
        for name in names:
            cell = by.get((name, r))
            if cell is None:
                line += " | |"
                continue
            h, t, f = cell.counts()
            dt = " ".join(
                f"{j - o:+.0f}" for j, o in zip(cell.joint_steps, cell.resource_steps, strict=True)
            )
            mark = " ◀ default" if r.paper else ""
            line += f" {h}/{t}/{f}{mark} | {dt} |"
        lines.append(line)
    return lines


def paragraph(cells: Sequence[Cell]) -> list[str]:
    """Which readings give the paper's ordering (no budget fails) and by how much."""
    good = [c for c in cells if c.counts()[2] == 0]
    total = len(cells[0].comparisons) if cells else 0
    lines = []
    for name in sorted({c.dataset for c in cells}):
        mine = [c for c in cells if c.dataset == name]
        ok = [c for c in good if c.dataset == name]
        default = [c for c in mine if c.reading.paper]
        lines.append(
            f"- **{name}**: the paper's ordering (joint ≤ only-resource, no budget failing) holds "
            f"in {len(ok)} of {len(mine)} readings."
        )
        for c in default:
            h, t, f = c.counts()
            lines.append(
                f"  Default reading at ξ×{c.reading.xi_factor:g}: {h} holds / {t} ties / {f} fails "
                f"of {total} budgets."
            )
        for c in ok:
            wins = [cmp.difference for _, cmp in c.comparisons]
            steps = [j - o for j, o in zip(c.joint_steps, c.resource_steps, strict=True)]
            lines.append(
                f"  - {c.reading.label()}: holds {c.counts()[0]}, ties {c.counts()[1]}; mean loss "
                f"difference {min(wins):+.2g} … {max(wins):+.2g}; joint's extra local steps "
                f"{min(steps):+.0f} … {max(steps):+.0f}."
            )
    return lines
