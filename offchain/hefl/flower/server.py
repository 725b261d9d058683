"""The ServerApp side: the computing party C as a Flower message-API strategy.

:class:`HeflStrategy` implements Flower's four moves on hefl's round (main paper, Algorithm 1 with
the controller choosing τ):

* ``configure_train`` — open round g on ``FLLedger`` with the hash of [[w(t)]] and a submission
  deadline; one TRAIN message per SuperNode carrying the global model blob and g;
* ``aggregate_train`` — keep the blobs of the replies that arrived (each must hash to what its
  sender submitted on chain), wait until everyone submitted or the deadline passed, then Eq. 10
  over the usable submissions ([[Σ_i |D_i| w_i]] = Π_i [[w_i]]^{|D_i|}, the weights renormalised by
  1/Σ_{i included}|D_i| after decryption); dropouts, late replies and malformed or wrong-key blobs
  are left out and recorded on chain as ``excluded``; the hash is committed;
* ``configure_evaluate`` — one EVALUATE message per SuperNode with the committed blobs;
* ``aggregate_evaluate`` — the replicas attest or dispute on chain from their own accounts; the
  round is final at the contract's quorum q = ⌈(n + F + 1)/2⌉; C decrypts, estimates φ̂ and ω̂
  (Eqs. 22–23), and the controller picks the next τ (or stops).

:meth:`HeflStrategy.start` runs rounds until the controller stops (Flower's fixed ``num_rounds``
does not apply: the controller decides). The private key is loaded from the party's directory
inside the ServerApp's process and never goes into a message.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Message,
    MessageType,
    MetricRecord,
    RecordDict,
)
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy

from hefl.agents.identity import KEYSTORE, PAILLIER_KEY, load_private_key, read_password
from hefl.agents.job import JobResult, save_job
from hefl.agents.network import JobFile
from hefl.agents.roles import ComputingPartyAgent
from hefl.chain import (
    BlobStore,
    DeploymentRecord,
    LedgerClient,
    LocalBlobStore,
    RoundRecord,
    RoundStatus,
    connect_rpc,
)
from hefl.control import (
    Controller,
    FixedTauController,
    JobInfo,
    RoundPlan,
    RoundReport,
    make_controller,
)
from hefl.control.loop import RoundSummary, Trace
from hefl.errors import AgentError, ContractRevertError, HeflError, SerializationError
from hefl.flower import wire
from hefl.flower.setup import DEFAULT_TAU, DEPLOYMENT_FILE, FlowerJobSpec
from hefl.learning import linear
from hefl.learning.paillier import PaillierStrategy
from hefl.learning.registry import strategy_from_description
from hefl.learning.strategy import RoundOutcome

log = logging.getLogger("hefl.flower")

#: Seconds between two reads of the chain while waiting for submissions or the quorum.
POLL_S = 0.1


def build_controller(spec: FlowerJobSpec) -> Controller:
    tau = DEFAULT_TAU if spec.tau is None else spec.tau
    if spec.controller == FixedTauController.name:
        return FixedTauController(tau, spec.rounds)
    return make_controller(
        spec.controller, energy_budget=spec.energy, tau=spec.tau, dataset=spec.dataset
    )


@dataclass
class Evaluator:
    """Pooled training data and held-out test data, outside the protocol, for losses only."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    ridge: float

    @classmethod
    def load(cls, path: Path, ridge: float) -> Evaluator:
        with np.load(path) as data:
            return cls(data["X_train"], data["y_train"], data["X_test"], data["y_test"], ridge)

    def losses(self, w: np.ndarray) -> tuple[float, float]:
        return (
            linear.loss(w, self.X_train, self.y_train, self.ridge),
            linear.loss(w, self.X_test, self.y_test, self.ridge),
        )


@dataclass
class RoundState:
    """What the strategy carries between Flower's four moves of one round."""

    index: int
    iteration: int
    plan: RoundPlan
    global_model: bytes
    began: float
    replied: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)
    votes: dict[str, str] = field(default_factory=dict)
    outcome: RoundOutcome | None = None


class HeflStrategy(Strategy):
    """The computing party as a Flower strategy; see the module docstring."""

    def __init__(
        self,
        party: ComputingPartyAgent,
        job: JobFile,
        controller: Controller,
        *,
        evaluator: Evaluator | None = None,
        reply_timeout_s: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.party = party
        self.ledger: LedgerClient = party.ledger
        self.blobs: BlobStore = party.blobs
        self.job = job
        self.spec = FlowerJobSpec.from_json(job.config["job"])
        self.controller = controller
        self.evaluator = evaluator
        self.reply_timeout_s = reply_timeout_s
        self.clock = clock
        self.state: RoundState | None = None
        self.rounds: list[RoundSummary] = []
        self.model = np.zeros(int(job.config["model_size"]))
        #: Every message content this ServerApp object received, in order (for the tests).
        self.received: list[RecordDict] = []
        self.node_ids: list[int] = []
        #: Why the job stopped early (None: it ran until the controller stopped it).
        self.error: HeflError | None = None

    def summary(self) -> None:
        log.info(
            "hefl: %s on ledger %s (chain %d), %d participants, controller %s",
            self.party.strategy.name,
            self.ledger.address,
            self.job.chain_id,
            len(self.job.config["data_sizes"]),
            self.spec.controller,
        )

    # --- helpers --------------------------------------------------------------------------------
    def _messages(self, kind: str, payload: dict[str, Any], grid: Grid) -> list[Message]:
        assert self.state is not None
        return [
            Message(
                RecordDict({wire.RECORD: ConfigRecord(payload)}),
                dst_node_id=node,
                message_type=kind,
                group_id=str(self.state.index),
                ttl=self.reply_timeout_s + 60,
            )
            for node in self.node_ids
        ]

    def _payloads(self, replies: Iterable[Message]) -> list[ConfigRecord]:
        assert self.state is not None
        payloads = []
        for reply in replies:
            node = reply.metadata.src_node_id
            self.state.replied.append(node)
            if reply.has_error():
                self.state.refused[node] = str(reply.error.reason)
                log.warning("C: node %d replied with an error: %s", node, reply.error.reason)
                continue
            self.received.append(reply.content)
            try:
                payloads.append(wire.payload(reply))
            except SerializationError as error:
                self.state.refused[node] = str(error)
                log.warning("C: node %d sent an unusable reply: %s", node, error)
        return payloads

    def exchange(
        self, grid: Grid, messages: Iterable[Message], settled: Callable[[], bool]
    ) -> list[Message]:
        """Push ``messages`` and pull replies until all arrived, ``settled()`` holds (the chain
        says the phase is over: nobody else can still count), or the reply timeout passes."""
        ids = [i for i in grid.push_messages(messages) if i]
        replies: list[Message] = []
        waiting = set(ids)
        deadline = time.monotonic() + self.reply_timeout_s
        while waiting and time.monotonic() < deadline:
            for reply in grid.pull_messages(list(waiting)):
                replies.append(reply)
                waiting.discard(reply.metadata.reply_to_message_id)
            if waiting and settled():
                break
            time.sleep(POLL_S)
        return replies

    def _submissions_closed(self) -> bool:
        assert self.state is not None
        record = self.ledger.get_round(self.state.index)
        return self.clock() > record.deadline + 1

    def _decided(self) -> bool:
        assert self.state is not None
        status = self.ledger.get_round(self.state.index).status
        return status in (RoundStatus.FINALISED, RoundStatus.DISPUTED)

    def wait_for_nodes(self, grid: Grid, count: int, timeout_s: float) -> list[int]:
        deadline = time.monotonic() + timeout_s
        while len(nodes := sorted(grid.get_node_ids())) < count:
            if time.monotonic() > deadline:
                raise AgentError(
                    f"only {len(nodes)} of {count} SuperNodes connected within {timeout_s:.0f} s"
                )
            time.sleep(POLL_S)
        return nodes

    def check_participants(self, grid: Grid) -> dict[int, str]:
        """Query every node: each checks the job against the chain and names its account."""
        self.state = RoundState(-1, 0, RoundPlan(tau=1), b"", time.perf_counter())
        replies = grid.send_and_receive(
            self._messages(MessageType.QUERY, {"action": "identity"}, grid),
            timeout=self.reply_timeout_s,
        )
        accounts = {}
        for reply in replies:
            if reply.has_error():
                log.error(
                    "C: node %d refused the job: %s", reply.metadata.src_node_id, reply.error.reason
                )
                continue
            node = reply.metadata.src_node_id
            try:
                accounts[node] = wire.get_str(wire.payload(reply), "address")
            except SerializationError as error:
                log.error("C: node %d: unusable identity reply: %s", node, error)
        return accounts

    # --- Flower's four moves ----------------------------------------------------------------------
    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        assert self.state is not None
        state = self.state
        deadline = math.ceil(self.clock() + self.spec.deadline_s)
        state.index = self.party.open_round(
            state.global_model, state.iteration, state.plan.tau, deadline
        )
        payload = {"round": state.index, "tau": state.plan.tau, "global": state.global_model}
        return self._messages(MessageType.TRAIN, payload, grid)

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        assert self.state is not None
        g = self.state.index
        for payload in self._payloads(replies):
            if payload.get("submitted"):
                # Stored under their hashes; only those the chain names are ever read back.
                try:
                    self.blobs.put(wire.get_bytes(payload, "model"))
                    self.blobs.put(wire.get_bytes(payload, "extra"))
                except SerializationError as error:
                    log.warning("C: round %d: a reply without its blobs: %s", g, error)
        self._wait_for_submissions(g)
        self._commit(g)
        record = self.ledger.get_round(g)
        return None, MetricRecord(
            {
                "included": len(record.included_indices),
                "submitted": record.submission_count,
            }
        )

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        assert self.state is not None
        g = self.state.index
        blobs = committed_blobs(self.ledger, self.blobs, g)
        return self._messages(MessageType.EVALUATE, {"round": g, "blobs": blobs}, grid)

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        assert self.state is not None
        g = self.state.index
        for payload in self._payloads(replies):
            self.state.votes[str(payload["address"])] = str(payload["vote"])
        record = self._wait_for_decision(g)
        if record.status is RoundStatus.FINALISED:
            self.state.outcome = self.party.conclude(g)
        return MetricRecord({"attested": record.attest_count, "disputed": record.dispute_count})

    # --- chain waits ------------------------------------------------------------------------------
    def _wait_for_submissions(self, g: int) -> None:
        """Until everyone submitted or the deadline passed (then the absentees are left out)."""
        everyone = len(self.ledger.participants())
        while True:
            record = self.ledger.get_round(g)
            # One second of slack: the commit's block must carry a timestamp after the deadline.
            if record.submission_count == everyone or self.clock() > record.deadline + 1:
                return
            time.sleep(POLL_S)

    def _commit(self, g: int) -> None:
        for _ in range(20):
            try:
                self.commit(g)
                return
            except ContractRevertError as error:  # a submission landed meanwhile: read again
                log.info("C: round %d commit retried (%s)", g, error.error_name)
                time.sleep(POLL_S * 5)
        raise AgentError(f"round {g}: the ledger refused every commit")

    def commit(self, g: int) -> None:
        """Eq. 10 over the usable submissions, committed on chain (the party's honest move)."""
        self.party.commit(g)

    def _wait_for_decision(self, g: int) -> RoundRecord:
        return wait_for_decision(self.ledger, g, self.reply_timeout_s)

    # --- the run ----------------------------------------------------------------------------------
    def start(  # type: ignore[override]
        self,
        grid: Grid,
        initial_arrays: ArrayRecord | None = None,
        num_rounds: int | None = None,
        timeout: float | None = None,
        train_config: ConfigRecord | None = None,
        evaluate_config: ConfigRecord | None = None,
        evaluate_fn: Any = None,
    ) -> list[RoundSummary]:
        """Rounds until the controller stops; each one final on the ledger, or the job stops."""
        self.summary()
        n = len(self.job.config["data_sizes"])
        self.node_ids = self.wait_for_nodes(grid, n, self.reply_timeout_s)
        accounts = self.check_participants(grid)
        log.info("C: %d of %d nodes accepted the job: %s", len(accounts), n, accounts)
        self.node_ids = sorted(accounts)
        if not self.node_ids:
            raise AgentError("no SuperNode accepted the job; see their errors above")
        initial = bytes.fromhex(self.job.config["initial_model_hash"][2:])
        global_model, iteration = self.blobs.get(initial), 0
        plan = self.controller.start(
            JobInfo(
                dataset_sizes=tuple(self.job.config["data_sizes"]),
                model_size=int(self.job.config["model_size"]),
                learning_rate=self.spec.learning.eta,
            )
        )
        server_round = 0
        while plan is not None:
            server_round += 1
            self.state = RoundState(-1, iteration, plan, global_model, time.perf_counter())
            train = self.exchange(
                grid,
                self.configure_train(server_round, ArrayRecord(), ConfigRecord(), grid),
                self._submissions_closed,
            )
            self.aggregate_train(server_round, train)
            votes = self.exchange(
                grid,
                self.configure_evaluate(server_round, ArrayRecord(), ConfigRecord(), grid),
                self._decided,
            )
            self.aggregate_evaluate(server_round, votes)
            summary = self._summarise()
            if summary.status != "finalised":
                raise AgentError(
                    f"round {summary.round} ended {summary.status}, not finalised; the job "
                    "stops so that nothing builds on an unverified aggregate"
                )
            assert self.state.outcome is not None
            iteration += plan.tau
            global_model = self.state.outcome.next_global
            plan = self.controller.observe(
                RoundReport(
                    round_index=summary.round,
                    iteration=iteration,
                    tau=plan.tau,
                    train_loss=summary.train_loss,
                    phi_hat=summary.phi,
                    omega_hat=summary.omega,
                    extra={"test_loss": summary.test_loss},
                )
            )
        return self.rounds

    def trace(self) -> Trace:
        """The job as hefl's round loop reports it (losses before the first round included)."""
        initial = self.evaluator.losses(np.zeros_like(self.model)) if self.evaluator else (0, 0)
        return Trace(
            initial_train_loss=float(initial[0]),
            initial_test_loss=float(initial[1]),
            rounds=tuple(self.rounds),
            model=self.model,
        )

    def _summarise(self) -> RoundSummary:
        assert self.state is not None
        state = self.state
        record = self.ledger.get_round(state.index)
        outcome = state.outcome
        train_loss = test_loss = math.nan
        phi = omega = None
        if outcome is not None:
            self.model = outcome.model
            if self.evaluator is not None:
                train_loss, test_loss = self.evaluator.losses(outcome.model)
            if outcome.estimates is not None:
                phi = None if outcome.estimates.phi is None else float(outcome.estimates.phi)
                omega = outcome.estimates.omega
        summary = RoundSummary(
            round=state.index,
            iteration=state.iteration + state.plan.tau,
            tau=state.plan.tau,
            status=record.status.name.lower(),
            train_loss=train_loss,
            test_loss=test_loss,
            phi=phi,
            omega=omega,
            attested=record.attest_count,
            disputed=record.dispute_count,
            seconds=time.perf_counter() - state.began,
            energy=state.plan.energy,
        )
        self.rounds.append(summary)
        log.info("C: round %d %s (%.2f s)", summary.round, summary.status, summary.seconds)
        return summary


def committed_blobs(ledger: LedgerClient, blobs: BlobStore, g: int) -> list[bytes]:
    """The blobs a replica needs to check round g's commitment: the global model, the committed
    aggregate and every submitter's blobs (those this store holds; the replicas fetch the rest
    from the chain's calldata and check every hash)."""
    record = ledger.get_round(g)
    hashes = [record.global_model_hash, record.aggregate_hash]
    for submission in ledger.submissions(g):
        if submission.submitted:
            hashes += [submission.model_hash, submission.extra_hash]
    return [blobs.get(h) for h in hashes if blobs.has(h)]


def wait_for_decision(ledger: LedgerClient, g: int, timeout_s: float) -> RoundRecord:
    """Round g once it is finalised or disputed; :class:`AgentError` if neither within
    ``timeout_s`` (the replicas fell silent)."""
    deadline = time.monotonic() + timeout_s
    while True:
        record = ledger.get_round(g)
        if record.status in (RoundStatus.FINALISED, RoundStatus.DISPUTED):
            return record
        if time.monotonic() > deadline:
            raise AgentError(
                f"round {g} reached no quorum within {timeout_s:.0f} s "
                f"({record.attest_count} attestations, {record.dispute_count} disputes)"
            )
        time.sleep(POLL_S)


def party_strategy(
    job: JobFile, party_dir: Path, spec: FlowerJobSpec, password: str
) -> PaillierStrategy:
    """The party's strategy with the private key from its directory (encrypted at rest under the
    party's password; once decrypted it stays in this process)."""
    private_key = load_private_key(
        party_dir / PAILLIER_KEY, password, allow_insecure=spec.allow_insecure_keys
    )
    if private_key.public_key != job.public_key:
        raise AgentError("the party's Paillier key is not the job's key")
    public = strategy_from_description(job.config["strategy"], job.public_key)
    assert isinstance(public, PaillierStrategy)
    return PaillierStrategy(
        job.public_key, public.config, public.fixed_point, private_key=private_key
    )


def export_party_run(
    config: Mapping[str, Any],
    party_dir: Path,
    job: JobFile,
    ledger: LedgerClient,
    trace: Trace,
    model: np.ndarray,
    error: Exception | None,
) -> None:
    """Write the run's files to the run config's ``out`` (if set) as ``hefl run`` does: the
    deployment record, history, metrics and config (:func:`save_job`), ``model.npy``, and
    ``error.txt`` naming why the job stopped, if it did."""
    out = config.get(wire.RUN_OUT)
    if not out:
        return
    deployment = DeploymentRecord.load(party_dir / DEPLOYMENT_FILE)
    result = JobResult(
        deployment=deployment, trace=trace, config_document=job.config, ledger=ledger
    )
    save_job(result, Path(str(out)))
    np.save(Path(str(out)) / "model.npy", model)
    if error is not None:
        (Path(str(out)) / "error.txt").write_text(str(error) + "\n")


def run_party(
    grid: Grid, config: dict[str, Any], *, strategy_class: type[HeflStrategy] = HeflStrategy
) -> HeflStrategy:
    """The ServerApp's main: load the party, run the job, write the run's files (``out``).

    ``strategy_class``: a subclass of :class:`HeflStrategy` (the tests' dishonest party)."""
    party_dir = Path(str(config[wire.RUN_PARTY_DIR]))
    job = JobFile.load(str(config.get(wire.RUN_JOB_FILE) or party_dir))
    chain = connect_rpc(str(config[wire.RUN_RPC_URL]))
    password = read_password(config.get(wire.RUN_PASSWORD_FILE) or None)
    party_address = chain.add_keystore(party_dir / KEYSTORE, password)
    ledger = LedgerClient.at(chain, job.ledger, sender=party_address)
    job.check(ledger)
    blobs = LocalBlobStore(str(config[wire.RUN_BLOBS]))
    spec = FlowerJobSpec.from_json(job.config["job"])
    strategy = party_strategy(job, party_dir, spec, password)
    evaluator_path = config.get(wire.RUN_EVALUATOR)
    evaluator = (
        Evaluator.load(Path(str(evaluator_path)), spec.learning.ridge) if evaluator_path else None
    )
    hefl_strategy = strategy_class(
        ComputingPartyAgent(strategy, ledger, blobs),
        job,
        build_controller(spec),
        evaluator=evaluator,
        reply_timeout_s=float(config.get(wire.RUN_REPLY_TIMEOUT, 120.0)),
    )
    error: HeflError | None = None
    try:
        hefl_strategy.start(grid)
    except HeflError as failure:
        error = failure
        log.error("C: the job stopped: %s", failure)
    export_party_run(config, party_dir, job, ledger, hefl_strategy.trace(), hefl_strategy.model,
                     error)  # fmt: skip
    hefl_strategy.error = error
    return hefl_strategy
