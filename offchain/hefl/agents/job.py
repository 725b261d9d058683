"""A whole learning job in one process: the computing party and N participants as agents with
distinct Ethereum accounts, real transactions on a real chain, the participants' encrypted
updates fanned out over a process pool.

The loop is Algorithm 1 of the main paper (:func:`hefl.control.loop.run_rounds`, the same loop
the plaintext simulation runs) with this module supplying the round: open a round with the
global model's hash, let every participant run τ local steps and submit, commit the aggregate
(Eq. 10), let every replica recompute it and attest (or dispute), decrypt and estimate φ̂ and ω̂;
the controller then plans the next round.

Losses are measured by an *evaluator* outside the protocol: the pooled training data and the
held-out test data, used only to report how learning goes (the paper's figures). No participant's
data leaves it inside the protocol.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hefl.agents.roles import ComputingPartyAgent, ParticipantAgent, Vote
from hefl.canonical import canonical_json
from hefl.chain import (
    BlobStore,
    Chain,
    DeploymentRecord,
    LedgerClient,
    RoundStatus,
    deploy_ledger,
)
from hefl.control import Controller, JobInfo, RoundPlan
from hefl.control.loop import Progress, RoundSummary, StepResult, Trace, run_rounds
from hefl.crypto import PublicKey, generate_keypair
from hefl.data import PreparedData, SplitConfig, load_dataset, prepare
from hefl.errors import ConfigError, HeflError
from hefl.learning import linear
from hefl.learning.paillier import FixedPointConfig
from hefl.learning.registry import STRATEGY_NAMES, StrategyName, build_strategy, strategy_spec
from hefl.learning.strategy import LearningConfig, LocalUpdate, RoundOutcome, Strategy

log = logging.getLogger(__name__)

#: Version of the configuration document committed on chain (2: one shape for both modes).
DOCUMENT_FORMAT = 2
#: How a job runs: every agent in one process (:class:`InProcessJob`), or each agent its own
#: process (:mod:`hefl.agents.network`).
JobMode = Literal["in-process", "multi-process"]


@dataclass(frozen=True)
class JobConfig:
    """Everything that defines a job; its canonical JSON is committed on chain (configHash).

    Attributes:
        dataset: a name from :data:`hefl.data.DATASET_NAMES` or a CSV path.
        target: the CSV's target column (CSV data sets only).
        split: sampling, split and partition across participants.
        learning: η, ridge γ, update mode.
        fixed_point: the encrypted model's fixed-point budget.
        strategy: a name of :data:`hefl.learning.registry.STRATEGIES`: ``"paillier"`` (the
            paper), ``"plain"`` (the unencrypted reference) or ``"secagg-…"``.
        key_bits: Paillier modulus size.
        allow_insecure_keys: permit keys below 2048 bits (tests, benchmarks).
        workers: processes for the participants' updates (1: in this process).
        submission_deadline_s: seconds of chain time a round takes submissions; with a deadline
            the party may leave unusable submissions out (the replicas check), without one
            (``None``) every submission must be used.
    """

    dataset: str = "diabetes"
    target: str | None = None
    split: SplitConfig = field(default_factory=lambda: SplitConfig(n_samples=None))
    learning: LearningConfig = field(default_factory=LearningConfig)
    fixed_point: FixedPointConfig = field(default_factory=FixedPointConfig)
    strategy: StrategyName = "paillier"
    key_bits: int = 2048
    allow_insecure_keys: bool = False
    workers: int = 2
    submission_deadline_s: float | None = 600.0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGY_NAMES:
            raise ConfigError(
                f"strategy {self.strategy!r} unknown; use one of {', '.join(STRATEGY_NAMES)}"
            )
        if self.workers < 1:
            raise ConfigError(f"workers must be ≥ 1, got {self.workers}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def scheme_options(self) -> dict[str, Any]:
        """Options of a secure-aggregation scheme: its key size, and leave to insecure sizes."""
        return strategy_spec(self.strategy).scheme_options(self.key_bits, self.allow_insecure_keys)


@dataclass(frozen=True)
class JobResult:
    """A finished job: where its ledger is, the rounds it ran, and its public configuration."""

    deployment: DeploymentRecord
    trace: Trace
    config_document: dict[str, Any]
    ledger: LedgerClient

    @property
    def rounds(self) -> tuple[RoundSummary, ...]:
        return self.trace.rounds

    @property
    def model(self) -> np.ndarray:
        """The final aggregated model w(T) in plaintext (zeros if no round ran)."""
        return self.trace.model


def config_document(
    mode: JobMode,
    strategy: Strategy,
    data_sizes: Sequence[int],
    model_size: int,
    initial_model_hash: bytes,
    *,
    job: Mapping[str, Any] | None = None,
    schedule: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The job's public configuration, the same fields in both modes: how it runs, the scheme's
    public parameters (hyper-parameters, key size, fixed point), |w|, the |D_i|, the initial
    (encrypted) model's hash, and what defines the rounds — the in-process job's
    :class:`JobConfig` (``job``) or the multi-process job's fixed schedule (``schedule``); the
    other is ``None``. Its canonical JSON bytes are stored in the blob store; their hash goes on
    chain (``configHash``)."""
    return {
        "format": DOCUMENT_FORMAT,
        "mode": mode,
        "job": None if job is None else dict(job),
        "strategy": strategy.describe(),
        "model_size": int(model_size),
        "data_sizes": [int(s) for s in data_sizes],
        "schedule": None if schedule is None else dict(schedule),
        "initial_model_hash": "0x" + initial_model_hash.hex(),
    }


def public_key_blob(public_key: PublicKey) -> bytes:
    """The bytes whose keccak256 is the key's fingerprint (big-endian n), kept in the blob store
    so an auditor finds the key from the ledger's ``publicKeyHash`` alone."""
    return int(public_key.n).to_bytes(public_key.n_bytes, "big")


ProgressHook = Progress


class InProcessJob:
    """Sets up a job (keys, deployment, agents) and runs its rounds; see the module docstring."""

    def __init__(
        self,
        config: JobConfig,
        chain: Chain,
        blobs: BlobStore,
        *,
        data: PreparedData | None = None,
    ) -> None:
        self.config = config
        self.chain = chain
        self.blobs = blobs
        self.data = data or prepare(
            load_dataset(config.dataset, target=config.target), config.split
        )
        n = len(self.data.parts)
        accounts = chain.accounts_for(n + 1)
        self.party_address, self.participant_addresses = accounts[0], accounts[1:]

        public_key = private_key = None
        if strategy_spec(config.strategy).needs_keypair:
            public_key, private_key = generate_keypair(
                config.key_bits, allow_insecure=config.allow_insecure_keys
            )
        self.public_key = public_key
        party_strategy = build_strategy(
            config.strategy,
            config.learning,
            public_key=public_key,
            private_key=private_key,
            fixed_point=config.fixed_point,
            sizes=self.data.sizes,
            model_size=self.data.model_size,
            scheme_options=config.scheme_options(),
        )
        self.initial_model = party_strategy.initial_model(self.data.model_size)
        initial_hash = blobs.put(self.initial_model)
        self.document = config_document(
            "in-process",
            party_strategy,
            self.data.sizes,
            self.data.model_size,
            initial_hash,
            job=config.to_json(),
        )
        config_hash = blobs.put(canonical_json(self.document))
        key_hash = blobs.put(
            public_key_blob(public_key)
            if public_key
            else f"no Paillier key: {config.strategy}".encode()
        )

        ledger = deploy_ledger(
            chain,
            self.party_address,
            self.participant_addresses,
            self.data.sizes,
            key_hash,
            config_hash,
        )
        self.deployment = DeploymentRecord.from_client(ledger)
        self.party = ComputingPartyAgent(party_strategy, ledger, blobs)
        self.participants = [
            ParticipantAgent(
                address,
                part,
                party_strategy.for_participant(i),
                ledger.as_sender(address),
                blobs,
            )
            for i, (address, part) in enumerate(
                zip(self.participant_addresses, self.data.parts, strict=True)
            )
        ]
        self.ledger = ledger

    def job_info(self) -> JobInfo:
        return JobInfo(
            dataset_sizes=self.data.sizes,
            model_size=self.data.model_size,
            learning_rate=self.config.learning.eta,
        )

    def losses(self, w: np.ndarray) -> tuple[float, float]:
        """The evaluator's train and test loss F(w) (Eq. 3); outside the protocol."""
        ridge = self.config.learning.ridge
        d = self.data
        return (
            linear.loss(w, d.X_train, d.y_train, ridge),
            linear.loss(w, d.X_test, d.y_test, ridge),
        )

    def _updates(
        self, pool: Executor | None, work: list[tuple[ParticipantAgent, bytes, int]]
    ) -> list[LocalUpdate]:
        if pool is None:
            return [agent.strategy.local_update(g, agent.part, tau) for agent, g, tau in work]
        futures = [
            pool.submit(agent.strategy.local_update, g, agent.part, tau) for agent, g, tau in work
        ]
        return [future.result() for future in futures]

    def run_round(
        self, pool: Executor | None, global_model: bytes, iteration: int, plan: RoundPlan
    ) -> tuple[int, RoundOutcome]:
        """One round end to end; returns the round index and the party's outcome."""
        for agent in self.participants:  # refuse an impossible τ before anything goes on chain
            agent.strategy.check_tau(global_model, agent.part, plan.tau)
        deadline = 0
        if self.config.submission_deadline_s is not None:
            now = int(self.chain.w3.eth.get_block("latest")["timestamp"])
            deadline = now + math.ceil(self.config.submission_deadline_s)
        g = self.party.open_round(global_model, iteration, plan.tau, deadline)
        work = []
        for agent in self.participants:
            pending = agent.pending(g)
            if pending is not None:
                work.append((agent, *pending))
        for (agent, _, _), update in zip(work, self._updates(pool, work), strict=True):
            agent.deliver(g, update)
        self.party.commit(g)
        for agent in self.participants:
            if agent.verify(g) is Vote.DISPUTED:
                log.warning("round %d disputed by %s", g, agent.address)
        return g, self.party.conclude(g)

    def run(self, controller: Controller, progress: ProgressHook | None = None) -> JobResult:
        """Run rounds until the controller stops; every round lands on the ledger."""
        parallel = self.config.workers > 1 and self.party.strategy.parallel_updates
        pool = ProcessPoolExecutor(self.config.workers) if parallel else None
        global_model = self.initial_model

        def step(plan: RoundPlan, iteration: int) -> StepResult:
            nonlocal global_model
            g, outcome = self.run_round(pool, global_model, iteration, plan)
            record = self.ledger.get_round(g)
            status = record.status.name.lower()
            stop = None
            if record.status is RoundStatus.FINALISED:
                global_model = outcome.next_global
            else:
                stop = HeflError(
                    f"round {g} ended {status}, not finalised; the job stops so that nothing "
                    "builds on an unverified aggregate"
                )
            estimates = outcome.estimates
            return StepResult(
                round=g,
                model=outcome.model,
                phi=float(estimates.phi) if estimates and estimates.phi is not None else None,
                omega=estimates.omega if estimates else None,
                status=status,
                attested=record.attest_count,
                disputed=record.dispute_count,
                stop=stop,
            )

        try:
            trace = run_rounds(controller, self.job_info(), step, self.losses, progress)
        finally:
            if pool is not None:
                pool.shutdown()
        return JobResult(
            deployment=self.deployment,
            trace=trace,
            config_document=self.document,
            ledger=self.ledger,
        )


METRIC_COLUMNS = (
    "round", "iteration", "tau", "status", "train_loss", "test_loss", "phi", "omega",
    "attested", "disputed", "seconds", "energy",
)  # fmt: skip


def save_job(result: JobResult, out_dir: str | Path) -> dict[str, Path]:
    """Write ``history.json`` (every round's on-chain fields plus the losses), ``metrics.csv``,
    ``deployment.json`` and ``config.json`` into ``out_dir``; return their paths."""
    from hefl.agents.audit import export_history

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = {s.round: asdict(s) for s in result.rounds}
    history = export_history(result.ledger, metrics)
    history["deployment"] = result.deployment.to_json()
    paths = {
        "history": out / "history.json",
        "metrics": out / "metrics.csv",
        "deployment": out / "deployment.json",
        "config": out / "config.json",
    }
    paths["history"].write_text(json.dumps(history, indent=2))
    lines = [",".join(METRIC_COLUMNS)]
    for summary in result.rounds:
        row = asdict(summary)
        lines.append(",".join("" if row[c] is None else str(row[c]) for c in METRIC_COLUMNS))
    paths["metrics"].write_text("\n".join(lines) + "\n")
    paths["deployment"].write_text(json.dumps(result.deployment.to_json(), indent=2))
    paths["config"].write_text(json.dumps(result.config_document, indent=2))
    return paths
