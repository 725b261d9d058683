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

import logging
import math
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from hefl.agents.document import config_document
from hefl.agents.export import RunDirectory
from hefl.agents.identity import PASSWORD_ENV, load_private_key, save_private_key
from hefl.agents.roles import (
    Assessment,
    ComputingPartyAgent,
    ParticipantAgent,
    RoundSnapshot,
    Vote,
    check_replicas,
)
from hefl.canonical import canonical_json
from hefl.chain import (
    BlobStore,
    Chain,
    DeploymentRecord,
    LedgerClient,
    LocalBlobStore,
    RoundStatus,
    blob_hash,
    deploy_ledger,
)
from hefl.chain.availability import blobs_on_chain_for
from hefl.control import Controller, JobInfo, RoundPlan
from hefl.control.loop import Progress, RoundSummary, StepResult, Trace, run_rounds
from hefl.costs.work import paillier_work
from hefl.crypto import PrivateKey, PublicKey, generate_keypair
from hefl.crypto.pool import products_on
from hefl.data import PreparedData, SplitConfig, load_dataset, prepare
from hefl.errors import ConfigError, CryptoError, DivergenceError, HeflError
from hefl.learning import linear
from hefl.learning.divergence import (
    check_round,
    published_bound,
    safe_model_bits,
    step_size_bound,
)
from hefl.learning.paillier import FixedPointConfig
from hefl.learning.registry import STRATEGY_NAMES, StrategyName, build_strategy, strategy_spec
from hefl.learning.strategy import LearningConfig, LocalUpdate, RoundOutcome, Strategy

log = logging.getLogger(__name__)


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


ProgressHook = Progress


class InProcessJob:
    """Sets up a job (keys, deployment, agents) and runs its rounds; see the module docstring.

    With a :class:`~hefl.agents.export.RunDirectory`, the job leaves its run behind round by
    round: the deployment record and configuration at deployment, then after every round the
    embedded chain's database and the exports (history, metrics), each replaced atomically —
    a job stopped at round k (an error, SIGKILL) keeps rounds 0…k−1, and :meth:`resume`
    continues it on the same ledger.
    """

    def __init__(
        self,
        config: JobConfig,
        chain: Chain,
        blobs: BlobStore,
        *,
        data: PreparedData | None = None,
        run_dir: RunDirectory | None = None,
        key_password: str | None = None,
    ) -> None:
        """With ``run_dir`` and ``key_password``, the party's Paillier key is kept in the run
        directory encrypted under a scrypt key of the password (what :meth:`resume` needs);
        without a password it is never written, and the run cannot be resumed."""
        self._prepare(config, chain, blobs, data, run_dir)
        n = len(self.data.parts)
        accounts = chain.accounts_for(n + 1)
        party_address, participant_addresses = accounts[0], accounts[1:]

        public_key = private_key = None
        if strategy_spec(config.strategy).needs_keypair:
            public_key, private_key = generate_keypair(
                config.key_bits, allow_insecure=config.allow_insecure_keys
            )
        party_strategy = self._strategy(public_key, private_key)
        self.initial_model = party_strategy.initial_model(self.data.model_size)
        initial_hash = blobs.put(self.initial_model)
        document = config_document(
            "in-process",
            party_strategy,
            self.data.sizes,
            self.data.model_size,
            initial_hash,
            job=config.to_json(),
            step_size_bounds=self.published_bounds,
        )
        config_hash = blobs.put(canonical_json(document))
        key_hash = blobs.put(
            public_key.modulus_bytes()
            if public_key
            else f"no Paillier key: {config.strategy}".encode()
        )

        ledger = deploy_ledger(
            chain, party_address, participant_addresses, self.data.sizes, key_hash, config_hash,
            blobs_on_chain=blobs_on_chain_for(self.initial_model),
        )  # fmt: skip
        self._attach(ledger, DeploymentRecord.from_client(ledger), document, party_strategy)
        self.public_key = public_key
        if run_dir is not None:
            if private_key is not None and key_password is not None:
                save_private_key(run_dir.party_key, private_key, key_password)
            elif private_key is not None:
                log.info("the party's key is not kept (no password): %s cannot be resumed",
                         run_dir.root)  # fmt: skip
            run_dir.write_setup(self.deployment, document)
            self._save_chain()

    @classmethod
    def resume(
        cls,
        config: JobConfig,
        chain: Chain,
        run_dir: RunDirectory,
        *,
        data: PreparedData | None = None,
        key_password: str | None = None,
    ) -> InProcessJob:
        """Attach to the ledger a run directory records (its chain re-opened by the caller) and
        rebuild the party and participants, checking every piece against the chain; :meth:`run`
        then continues after the last round the ledger holds."""
        spec = strategy_spec(config.strategy)
        if not (spec.multi_process or not spec.takes_key_size):
            raise ConfigError(
                f"--resume cannot continue the {config.strategy!r} strategy: its party keeps "
                "secrets beyond a Paillier key; start a new run"
            )
        job = cls.__new__(cls)
        job._prepare(config, chain, LocalBlobStore(run_dir.blobs), data, run_dir)
        deployment = run_dir.load_deployment()
        if deployment.chain_id != chain.chain_id:
            raise ConfigError(
                f"{run_dir.root} ran on chain {deployment.chain_id}, this node is chain "
                f"{chain.chain_id}; pass the run's --rpc URL"
            )
        ledger = LedgerClient.at(chain, deployment.address, sender=deployment.party)
        document = run_dir.load_config()
        if ledger.config_hash() != blob_hash(canonical_json(document)):
            raise ConfigError(
                f"{run_dir.config} is not the configuration the ledger at {ledger.address} "
                "committed; the run directory was altered"
            )
        held = set(chain.accounts())
        missing = [a for a in (deployment.party, *deployment.participants) if a not in held]
        if missing:
            raise ConfigError(
                f"the chain holds no key for {', '.join(missing)}; --resume continues runs whose "
                "accounts are the node's own"
            )
        if tuple(deployment.data_sizes) != tuple(job.data.sizes):
            raise ConfigError(
                f"the data give sizes {list(job.data.sizes)}, the ledger registered "
                f"{list(deployment.data_sizes)}; resume with the run's data set and seed"
            )
        public_key = private_key = None
        if spec.needs_keypair:
            if not run_dir.party_key.exists():
                raise ConfigError(
                    f"{run_dir.root} kept no Paillier key (it was started without "
                    f"${PASSWORD_ENV} or --password-file), so it cannot be resumed"
                )
            if key_password is None:
                raise ConfigError(
                    f"--resume decrypts {run_dir.party_key}: set ${PASSWORD_ENV} or pass "
                    "--password-file FILE"
                )
            private_key = load_private_key(
                run_dir.party_key, key_password, allow_insecure=config.allow_insecure_keys
            )
            public_key = private_key.public_key
            if ledger.public_key_hash() != blob_hash(public_key.modulus_bytes()):
                raise ConfigError(f"{run_dir.party_key} is not the key of the run's ledger")
        party_strategy = job._strategy(public_key, private_key)
        job.initial_model = job.blobs.get(bytes.fromhex(document["initial_model_hash"][2:]))
        job._attach(ledger, deployment, document, party_strategy)
        job.public_key = public_key
        return job

    # --- construction -----------------------------------------------------------------------------
    def _prepare(
        self,
        config: JobConfig,
        chain: Chain,
        blobs: BlobStore,
        data: PreparedData | None,
        run_dir: RunDirectory | None,
    ) -> None:
        self.config = config
        self.chain = chain
        # Every agent of the job reads through this one chain: one answer per (block, view).
        chain.enable_view_cache()
        self.blobs = blobs
        self.run_dir = run_dir
        self.data = data or prepare(
            load_dataset(config.dataset, target=config.target), config.split
        )
        # Each participant publishes 2/L_i from its own data; the job is safe below the least.
        self.published_bounds = [
            published_bound(part, config.learning.ridge) for part in self.data.parts
        ]
        self.eta_bound = step_size_bound(self.published_bounds)

    def _strategy(self, public_key: PublicKey | None, private_key: PrivateKey | None) -> Strategy:
        config = self.config
        return build_strategy(
            config.strategy,
            config.learning,
            public_key=public_key,
            private_key=private_key,
            fixed_point=config.fixed_point,
            sizes=self.data.sizes,
            model_size=self.data.model_size,
            scheme_options=config.scheme_options(),
        )

    def _attach(
        self,
        ledger: LedgerClient,
        deployment: DeploymentRecord,
        document: dict[str, Any],
        party_strategy: Strategy,
    ) -> None:
        self.ledger = ledger
        self.deployment = deployment
        self.document = document
        self.party_address = deployment.party
        self.participant_addresses = deployment.participants
        self.party = ComputingPartyAgent(party_strategy, ledger, self.blobs)
        self.participants = [
            ParticipantAgent(
                address,
                part,
                party_strategy.for_participant(i),
                ledger.as_sender(address),
                self.blobs,
            )
            for i, (address, part) in enumerate(
                zip(deployment.participants, self.data.parts, strict=True)
            )
        ]

    def _save_chain(self) -> None:
        if self.run_dir is not None and self.chain.kind == "embedded":
            self.chain.save(self.run_dir.chain_state)

    # --- running ----------------------------------------------------------------------------------
    def job_info(self) -> JobInfo:
        """Sizes and η, and for the Paillier strategy the round's counted work (the ``planned``
        cost model of :mod:`hefl.costs.work`)."""
        config = self.config
        work = None
        if config.strategy == "paillier":
            work = paillier_work(self.data.parts, config.learning, config.fixed_point,
                                 config.key_bits)  # fmt: skip
        return JobInfo(
            dataset_sizes=self.data.sizes,
            model_size=self.data.model_size,
            learning_rate=config.learning.eta,
            work=work,
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
        self,
        pool: Executor | None,
        global_model: bytes,
        iteration: int,
        plan: RoundPlan,
        *,
        round_index: int | None = None,
    ) -> tuple[int, RoundOutcome]:
        """One round end to end; returns the round index and the party's outcome.

        ``round_index`` continues a round already open on the ledger (``--resume`` on a node,
        after a stop mid-round): whoever has not submitted submits, the party commits if it has
        not, and every replica votes. A round whose submission deadline passed meanwhile is
        voided by the party (``FLLedger.voidRound``) and run again from the same global model, so
        that the job reaches the model an uninterrupted run reaches."""
        if round_index is not None and self._expired(round_index):
            self.ledger.void_round(round_index)
            log.warning(
                "round %d voided: its deadline passed while the job was stopped", round_index
            )
            round_index = None
        if round_index is None:
            for agent in self.participants:  # refuse an impossible τ before anything goes on chain
                agent.strategy.check_tau(global_model, agent.part, plan.tau)
            deadline = 0
            if self.config.submission_deadline_s is not None:
                now = self.chain.block_timestamp()
                deadline = now + math.ceil(self.config.submission_deadline_s)
            g = self.party.open_round(global_model, iteration, plan.tau, deadline)
        else:
            g = round_index
        work = []
        for agent in self.participants:
            pending = agent.pending(g)
            if pending is not None:
                work.append((agent, *pending))
        for (agent, _, _), update in zip(work, self._updates(pool, work), strict=True):
            agent.deliver(g, update)
        if self.ledger.get_round(g).status is RoundStatus.OPEN:
            self.party.commit(g)
        for agent, assessment in self._assess(pool, g):
            if agent.vote(g, assessment) is Vote.DISPUTED:
                log.warning("round %d disputed by %s", g, agent.address)
        return g, self.party.conclude(g)

    def _assess(self, pool: Executor | None, g: int) -> list[tuple[ParticipantAgent, Assessment]]:
        """Every replica's assessment of round g, all at the block of the commitment (one
        view-cache answer for all reads); they vote afterwards, one by one.

        The first replica checks here, reading any blob the local store lacks back from the
        chain into it. With a process pool, the others' checks — each replica's own, in full —
        run in the workers on a snapshot of the round at that block and the local store
        (:func:`~hefl.agents.roles.check_replicas`), one chunk per worker; a replica of another
        kind than the protocol's (a test's attacker overriding ``assess``) makes every check run
        here, in order."""
        first, *rest = self.participants
        out = [(first, first.assess(g))]
        honest = all(type(a).assess is ParticipantAgent.assess for a in rest)
        if pool is None or not rest or not honest:
            return out + [(agent, agent.assess(g)) for agent in rest]
        ready = [(agent, agent.ready_to_check(g)) for agent in rest]
        checking = [(agent, r) for agent, r in ready if not isinstance(r, Vote)]
        snapshot = RoundSnapshot.read(self.ledger, g)
        chunks = max(1, min(self.config.workers, len(checking)))
        size = -(-len(checking) // chunks) if checking else 1
        futures = [
            pool.submit(
                check_replicas,
                [agent.strategy for agent, _ in checking[i : i + size]],
                snapshot,
                self.blobs,
                g,
            )
            for i in range(0, len(checking), size)
        ]
        verdicts = iter([v for future in futures for v in future.result()])
        return out + [
            (agent, r if isinstance(r, Vote) else (r, next(verdicts))) for agent, r in ready
        ]

    def _expired(self, round_index: int) -> bool:
        """Whether an open round can no longer take every participant's submission."""
        record = self.ledger.get_round(round_index)
        if record.status is not RoundStatus.OPEN or not record.deadline:
            return False
        if record.submission_count == len(self.participants):
            return False
        now = self.chain.block_timestamp()
        return now > record.deadline

    def _model_bits(self) -> int:
        fixed = self.config.fixed_point
        return safe_model_bits(self.config.key_bits, fixed.model_scale_bits, fixed.significant_bits)

    def _divergence(self, g: int, error: HeflError) -> HeflError:
        """A numeric failure of round g, told as divergence when η is beyond the safe bound."""
        eta = self.config.learning.eta
        if eta < self.eta_bound:
            return error
        return DivergenceError(
            f"round {g} failed ({error}) with η = {eta:g}, above the largest safe η < "
            f"{self.eta_bound:.4g} (2/L for this data); rerun with --eta auto"
        )

    def _done_rounds(self) -> tuple[Trace, bytes, int | None]:
        """What the ledger already holds, for :meth:`run` to continue: the rounds done (their
        metrics from the run directory's export, or re-derived from the chain by decrypting),
        the next global model blob and a round left open to finish (``None``: open a new one)."""
        exported = {}
        if self.run_dir is not None:
            exported = {int(m["round"]): m for m in self.run_dir.exported_metrics()}
        records = self.ledger.history()
        initial_train, initial_test = self.losses(np.zeros(self.data.model_size))
        summaries: list[RoundSummary] = []
        model, global_model, pending = np.zeros(self.data.model_size), self.initial_model, None
        iteration = 0
        for record in records:
            g = record.round
            if (
                record.status in (RoundStatus.OPEN, RoundStatus.AGGREGATED)
                and g == len(records) - 1
            ):
                pending = g
                break
            if record.status is RoundStatus.VOIDED:
                continue  # no verdict, no model: the next round starts where this one did
            if record.status is not RoundStatus.FINALISED:
                raise HeflError(
                    f"round {g} ended {record.status.name.lower()}; nothing may build on it, so "
                    "the run cannot be resumed"
                )
            outcome = self.party.conclude(g)
            model, global_model = outcome.model, outcome.next_global
            iteration = record.iteration + record.tau
            if g in exported:
                summaries.append(RoundSummary(**{k: exported[g][k] for k in SUMMARY_FIELDS}))
                continue
            train, test = self.losses(model)
            estimates = outcome.estimates
            summaries.append(
                RoundSummary(
                    round=g,
                    iteration=iteration,
                    tau=record.tau,
                    train_loss=train,
                    test_loss=test,
                    phi=float(estimates.phi) if estimates and estimates.phi is not None else None,
                    omega=estimates.omega if estimates else None,
                    status=record.status.name.lower(),
                    attested=record.attest_count,
                    disputed=record.dispute_count,
                )
            )
        trace = Trace(initial_train, initial_test, tuple(summaries), model)
        return trace, global_model, pending

    def run(
        self,
        controller: Controller,
        progress: ProgressHook | None = None,
        *,
        resume: bool = False,
    ) -> JobResult:
        """Run rounds until the controller stops; every round lands on the ledger (and in the run
        directory, if any). ``resume`` continues after the rounds the ledger holds.

        The divergence guard (:func:`hefl.learning.divergence.check_round`) stops the job after a
        round whose loss explodes or whose model leaves the fixed-point budget's safe range."""
        parallel = self.config.workers > 1 and self.party.strategy.parallel_updates
        global_model = self.initial_model
        done: Trace | None = None
        pending: int | None = None
        if resume:
            done, global_model, pending = self._done_rounds()
        summaries: list[RoundSummary] = list(done.rounds) if done else []
        loss_before = [
            done.final_train_loss if done else self.losses(np.zeros(self.data.model_size))[0]
        ]
        pool = ProcessPoolExecutor(self.config.workers) if parallel else None

        latest = [done.model if done else None]

        def step(plan: RoundPlan, iteration: int) -> StepResult:
            nonlocal global_model, pending
            continuing, pending = pending, None
            try:
                g, outcome = self.run_round(
                    pool, global_model, iteration, plan, round_index=continuing
                )
            except CryptoError as error:
                raise self._divergence(self.ledger.round_count() - 1, error) from error
            record = self.ledger.get_round(g)
            status = record.status.name.lower()
            stop: HeflError | None = None
            if record.status is RoundStatus.FINALISED:
                global_model, latest[0] = outcome.next_global, outcome.model
                train_loss = self.losses(outcome.model)[0]
                stop = check_round(
                    g,
                    self.config.learning.eta,
                    self.eta_bound,
                    loss_before[0],
                    train_loss,
                    outcome.model,
                    self._model_bits(),
                )
                loss_before[0] = train_loss
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

        def record(summary: RoundSummary) -> None:
            summaries.append(summary)
            if self.run_dir is not None:
                self._save_chain()  # the chain first: an export never names a round it lacks
                self.run_dir.write_rounds(self.ledger, [asdict(s) for s in summaries])
                if latest[0] is not None:
                    self.run_dir.write_model(latest[0])
            if progress is not None:
                progress(summary)

        try:
            # --workers bounds the threads of this process's own products too (the pool's
            # workers run theirs on one thread: hefl.crypto.pool.product_workers)
            with products_on(self.config.workers):
                trace = run_rounds(
                    controller, self.job_info(), step, self.losses, record, done=done
                )
        finally:
            if pool is not None:
                pool.shutdown()
        return JobResult(
            deployment=self.deployment,
            trace=trace,
            config_document=self.document,
            ledger=self.ledger,
        )


#: The fields of a :class:`RoundSummary`, as a round's exported metrics hold them.
SUMMARY_FIELDS = tuple(f.name for f in fields(RoundSummary))


def save_job(result: JobResult, out_dir: str | Path) -> dict[str, Path]:
    """Write ``history.json`` (every round's on-chain fields plus the losses), ``metrics.csv``,
    ``deployment.json`` and ``config.json`` into ``out_dir``; return their paths (a job run
    with a :class:`RunDirectory` has written them already, round by round)."""
    run_dir = RunDirectory(Path(out_dir))
    run_dir.write_setup(result.deployment, result.config_document)
    return run_dir.write_rounds(result.ledger, [asdict(s) for s in result.rounds])
