"""The figures: Monte-Carlo means with their 95 % bands, one column per data set (or ξ), the loss
on top and the local steps T (solid) and aggregations G (dashed) beneath; the legend sits below
the axes, never over a curve; ξ and the seeds are in every title."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hefl.experiments.adaptive.stats import band


@dataclass(frozen=True)
class Panel:
    """One column of a figure: summary rows (:func:`~hefl.experiments.adaptive.stats.summarise`)
    drawn as one line per value of ``series`` against ``x``; with a ``reference`` value of the
    series, a middle row shows each series' loss minus the reference's, paired by seed (the seeds
    share their sample, so the paired band is far narrower than the loss's own)."""

    title: str
    rows: Sequence[dict[str, Any]]
    x: str
    series: str
    logx: bool = False
    reference: object | None = None


def plot_bands(panels: Sequence[Panel], path: Path, title: str, xlabel: str) -> Path:
    """Loss (mean and band) on the top row, T and G on the bottom row, a column per panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    cols = len(panels)
    paired = any(p.reference is not None for p in panels)
    heights = (3, 2, 2) if paired else (3, 2)
    fig, axes = plt.subplots(len(heights), cols, figsize=(4.6 * cols, 2.2 * sum(heights) / 2 + 3),
                             squeeze=False, height_ratios=heights, sharex="col")  # fmt: skip
    handles: dict[str, Any] = {}
    for col, panel in enumerate(panels):
        top, bottom = axes[0][col], axes[-1][col]
        if paired:
            _plot_paired(axes[1][col], panel)
        rounds_axis = bottom.twinx()
        values = sorted({r[panel.series] for r in panel.rows}, key=str)
        for i, value in enumerate(values):
            pts = sorted(
                (r for r in panel.rows if r[panel.series] == value), key=lambda r: r[panel.x]
            )
            xs = [r[panel.x] for r in pts]
            color = f"C{i}"
            label = f"{panel.series} = {value}"
            (line,) = top.plot(xs, [r["train_loss_mean"] for r in pts], marker="o", ms=3,
                               color=color, label=label)  # fmt: skip
            low = [r["train_loss_low"] for r in pts]
            high = [r["train_loss_high"] for r in pts]
            top.fill_between(xs, low, high, color=color, alpha=0.2)
            bottom.plot(xs, [r["iterations_mean"] for r in pts], color=color, marker=".")
            low = [r["iterations_low"] for r in pts]
            high = [r["iterations_high"] for r in pts]
            bottom.fill_between(xs, low, high, color=color, alpha=0.15)
            rounds_axis.plot(xs, [r["rounds_mean"] for r in pts], color=color, ls="--", lw=1)
            handles.setdefault(label, line)
        top.set_title(panel.title, fontsize=9)
        top.set_ylabel("training loss F(w(T)), mean ± 95 %")
        bottom.set_ylabel("local steps T (solid)")
        rounds_axis.set_ylabel("aggregations G (dashed)")
        bottom.set_xlabel(xlabel)
        for ax in axes[:, col]:
            ax.grid(alpha=0.3)
            if panel.logx:
                ax.set_xscale("log")
                ax.set_xticks(sorted({r[panel.x] for r in panel.rows}))
                ax.xaxis.set_major_formatter(ScalarFormatter())
                ax.xaxis.set_minor_formatter(NullFormatter())
    fig.suptitle(title, fontsize=10)
    fig.legend(list(handles.values()), list(handles), loc="lower center",
               ncol=min(len(handles), 6), fontsize=8, frameon=False)  # fmt: skip
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_grid(
    cells: dict[str, list[list[tuple[int, int, int]]]],
    rows: Sequence[str],
    cols: Sequence[str],
    path: Path,
    title: str,
) -> Path:
    """One heat map per data set: cell colour = budgets where "joint ≤ only-resource" is not
    contradicted (holds + ties), annotated holds/ties/fails."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(cells)
    fig, axes = plt.subplots(1, len(names), figsize=(5.2 * len(names), 0.5 * len(rows) + 2.6),
                             squeeze=False)  # fmt: skip
    for ax, name in zip(axes[0], names, strict=True):
        grid = cells[name]
        total = sum(grid[0][0])
        values = [[h + t for h, t, _ in row] for row in grid]
        ax.imshow(values, cmap="RdYlGn", vmin=0, vmax=max(total, 1), aspect="auto")
        for i, row in enumerate(grid):
            for j, (h, t, f) in enumerate(row):
                ax.text(j, i, f"{h}/{t}/{f}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(cols)), cols, fontsize=7, rotation=20)
        ax.set_yticks(range(len(rows)), rows, fontsize=7)
        ax.set_title(f"{name}: holds/ties/fails over {total} budgets", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_paired(ax: Any, panel: Panel) -> None:
    """Loss minus the reference series' loss, per seed, as mean and 95 % band."""
    seeds = sorted(
        {int(k.rsplit("_s", 1)[1]) for r in panel.rows for k in r if k.startswith("train_loss_s")}
    )
    ref = {r[panel.x]: r for r in panel.rows if r[panel.series] == panel.reference}
    values = sorted({r[panel.series] for r in panel.rows}, key=str)
    for i, value in enumerate(values):
        pts = sorted(
            (r for r in panel.rows if r[panel.series] == value and r[panel.x] in ref),
            key=lambda r: r[panel.x],
        )
        xs, mean, low, high = [], [], [], []
        for r in pts:
            other = ref[r[panel.x]]
            b = band(r[f"train_loss_s{s}"] - other[f"train_loss_s{s}"] for s in seeds)
            xs.append(r[panel.x])
            mean.append(b.mean)
            low.append(b.low)
            high.append(b.high)
        ax.plot(xs, mean, color=f"C{i}", marker="o", ms=3)
        ax.fill_between(xs, low, high, color=f"C{i}", alpha=0.2)
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_ylabel(f"loss − {panel.reference}'s\n(paired by seed)")
