"""The paper's claims as functions of the figures' rows: which τ is best per N, whether the
schemes keep their order, and where the gap between them is widest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


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
