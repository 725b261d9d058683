"""A run directory: what a job leaves behind, written round by round so that it outlives its
process.

Both modes write the same files (``hefl run --out DIR`` and the multi-process party's ``--dir``):

- ``deployment.json`` — where the ledger is (:class:`~hefl.chain.DeploymentRecord`), at deployment;
- ``config.json`` — the job's public configuration document (its hash is on chain), at deployment;
- ``history.json`` — every round's on-chain fields and submissions, plus the round's metrics;
- ``metrics.csv`` — one row of :data:`METRIC_COLUMNS` per round;
- ``model.npy`` — the model w(t) after the last round (the computing party's decryption);
- ``chain.db`` — the embedded chain's py-evm database (:meth:`hefl.chain.Chain.save`), so the
  ledger can be read with contract calls after the run's process has ended;
- ``run.json`` — the options ``hefl run`` was started with (what ``--resume`` continues);
- ``party.key`` — the in-process job's Paillier private key, encrypted under a scrypt key of
  ``$HEFL_KEYSTORE_PASSWORD`` / ``--password-file`` (mode 0600; written only when a password is
  given), which ``--resume`` needs to decrypt the next aggregate;
- ``blobs/`` — the blob store.

Every file is replaced atomically (:func:`hefl.files.atomic_write`) after every round, the chain's
database first: a reader (or a run killed at any instant) sees rounds 0…k−1 complete and
consistent with each other, never a torn file.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hefl.agents.audit import LedgerView, export_history
from hefl.chain import DeploymentRecord, RoundRecord
from hefl.errors import ConfigError
from hefl.files import atomic_write, read_json_object
from hefl.learning.strategy import RoundOutcome

#: Columns of ``metrics.csv`` (keys of a :class:`hefl.control.loop.RoundSummary`).
METRIC_COLUMNS = (
    "round", "iteration", "tau", "status", "train_loss", "test_loss", "phi", "omega",
    "attested", "disputed", "seconds", "energy",
)  # fmt: skip
#: Mode of the exported files: public data, readable by everyone.
PUBLIC_FILE_MODE = 0o644


@dataclass(frozen=True)
class RunDirectory:
    """The files of one run (see the module docstring); paths only, nothing is read eagerly."""

    root: Path

    @property
    def history(self) -> Path:
        return self.root / "history.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.csv"

    @property
    def deployment(self) -> Path:
        return self.root / "deployment.json"

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def model(self) -> Path:
        return self.root / "model.npy"

    @property
    def chain_state(self) -> Path:
        return self.root / "chain.db"

    @property
    def options(self) -> Path:
        return self.root / "run.json"

    @property
    def party_key(self) -> Path:
        return self.root / "party.key"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    def outputs(self) -> dict[str, Path]:
        """The exported files by name (what ``hefl run`` lists when it finishes)."""
        return {
            "history": self.history,
            "metrics": self.metrics,
            "deployment": self.deployment,
            "config": self.config,
        }

    # --- writing ----------------------------------------------------------------------------------
    def write_setup(self, deployment: DeploymentRecord, config_document: Mapping[str, Any]) -> None:
        """``deployment.json`` and ``config.json``, as soon as the ledger is deployed."""
        _write_json(self.deployment, deployment.to_json())
        _write_json(self.config, dict(config_document))

    def write_rounds(
        self, ledger: LedgerView, metrics: Sequence[Mapping[str, Any]]
    ) -> dict[str, Path]:
        """Rewrite ``history.json`` (read from ``ledger``) and ``metrics.csv`` for the rounds the
        ledger holds, each round with its entry of ``metrics`` (matched by ``"round"``)."""
        by_round = {int(m["round"]): m for m in metrics}
        history = export_history(ledger, by_round)
        history["deployment"] = self.load_deployment().to_json()
        _write_json(self.history, history)
        lines = [",".join(METRIC_COLUMNS)]
        for g in sorted(by_round):
            row = by_round[g]
            lines.append(",".join(_cell(row.get(c)) for c in METRIC_COLUMNS))
        atomic_write(self.metrics, "\n".join(lines) + "\n", mode=PUBLIC_FILE_MODE)
        return self.outputs()

    def record_round(self, ledger: LedgerView, entry: Mapping[str, Any]) -> bool:
        """Add one round's metrics to those already exported and rewrite the exports; ``False``
        (nothing written) if the round was recorded before (a restarted party may conclude a
        round again)."""
        done = self.exported_metrics()
        if any(int(m["round"]) == int(entry["round"]) for m in done):
            return False
        self.write_rounds(ledger, [*done, dict(entry)])
        return True

    def write_model(self, model: np.ndarray) -> Path:
        """``model.npy``: the model after the last round recorded."""
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(model, dtype=np.float64))
        return atomic_write(self.model, buffer.getvalue(), mode=PUBLIC_FILE_MODE)

    def load_model(self) -> np.ndarray:
        try:
            return np.load(self.model)
        except (OSError, ValueError) as error:
            raise ConfigError(f"cannot read the model {self.model}: {error}") from error

    def kept(self, *, resume: str | None = None) -> str:
        """What a run stopped by an error keeps, for its one error line (``resume``: the command
        that continues it, if any)."""
        done = len(self.exported_metrics())
        if not done:
            return f"no round finished; the deployment record is in {self.root}"
        rounds = "round 0 is" if done == 1 else f"rounds 0–{done - 1} are"
        then = f"; continue with {resume}" if resume else ""
        return f"{rounds} kept in {self.root} (hefl verify {self.root}{then})"

    def save_options(self, options: Mapping[str, Any]) -> None:
        _write_json(self.options, dict(options))

    # --- reading ----------------------------------------------------------------------------------
    def load_deployment(self) -> DeploymentRecord:
        if not self.deployment.exists():
            raise ConfigError(
                f"{self.root} has no deployment.json: not a run directory (hefl run --out DIR)"
            )
        return DeploymentRecord.load(self.deployment)

    def load_config(self) -> dict[str, Any]:
        return read_json_object(self.config, "configuration document")

    def load_options(self) -> dict[str, Any]:
        if not self.options.exists():
            raise ConfigError(
                f"{self.root} has no run.json: only a `hefl run --out DIR` directory can be "
                "resumed with --resume DIR"
            )
        return read_json_object(self.options, "run options")

    def exported_metrics(self) -> list[dict[str, Any]]:
        """Every round's metrics as ``history.json`` holds them (none before the first round)."""
        if not self.history.exists():
            return []
        history = read_json_object(self.history, "history")
        return [dict(r["metrics"]) for r in history.get("rounds", []) if r.get("metrics")]


def round_entry(
    record: RoundRecord,
    outcome: RoundOutcome,
    *,
    train_loss: float | None = None,
    test_loss: float | None = None,
) -> dict[str, Any]:
    """A finished round's metrics (:data:`METRIC_COLUMNS`, plus whom the aggregate covers) from
    its ledger record and the party's outcome — the multi-process party's counterpart of a
    :class:`hefl.control.loop.RoundSummary`."""
    estimates = outcome.estimates
    return {
        "round": record.round,
        "iteration": record.iteration + record.tau,
        "tau": record.tau,
        "status": record.status.name.lower(),
        "train_loss": train_loss,
        "test_loss": test_loss,
        "phi": float(estimates.phi) if estimates and estimates.phi is not None else None,
        "omega": float(estimates.omega) if estimates and estimates.omega is not None else None,
        "attested": record.attest_count,
        "disputed": record.dispute_count,
        "included": list(record.included_indices),
    }


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _write_json(path: Path, document: Any) -> None:
    atomic_write(path, json.dumps(document, indent=2) + "\n", mode=PUBLIC_FILE_MODE)
