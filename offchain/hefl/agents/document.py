"""The job's public configuration document, the same in both modes (its hash goes on chain).

Kept apart from :mod:`hefl.agents.job` so that the multi-process party's set-up
(:mod:`hefl.agents.network`) writes it without importing the in-process job and its controllers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from hefl.learning.strategy import Strategy

__all__ = ["DOCUMENT_FORMAT", "JobMode", "config_document"]

#: Version of the configuration document committed on chain (2: one shape for both modes).
DOCUMENT_FORMAT = 2
#: How a job runs: every agent in one process (:class:`hefl.agents.job.InProcessJob`), or each
#: agent its own process (:mod:`hefl.agents.network`).
JobMode = Literal["in-process", "multi-process"]


def config_document(
    mode: JobMode,
    strategy: Strategy,
    data_sizes: Sequence[int],
    model_size: int,
    initial_model_hash: bytes,
    *,
    job: Mapping[str, Any] | None = None,
    schedule: Mapping[str, Any] | None = None,
    step_size_bounds: Sequence[float] | None = None,
) -> dict[str, Any]:
    """The job's public configuration, the same fields in both modes: how it runs, the scheme's
    public parameters (hyper-parameters, key size, fixed point), |w|, the |D_i|, the initial
    (encrypted) model's hash, and what defines the rounds — the in-process job's
    :class:`~hefl.agents.job.JobConfig` (``job``) or the multi-process job's fixed schedule
    (``schedule``); the other is ``None`` — and the step-size bounds 2/L_i the participants
    published (:mod:`hefl.learning.divergence`; ``None`` when not published). Its canonical JSON
    bytes are stored in the blob store; their hash goes on chain (``configHash``)."""
    return {
        "format": DOCUMENT_FORMAT,
        "mode": mode,
        "job": None if job is None else dict(job),
        "strategy": strategy.describe(),
        "model_size": int(model_size),
        "data_sizes": [int(s) for s in data_sizes],
        "schedule": None if schedule is None else dict(schedule),
        "initial_model_hash": "0x" + initial_model_hash.hex(),
        "step_size_bounds": None
        if step_size_bounds is None
        else [float(b) if math.isfinite(b) else None for b in step_size_bounds],
    }
