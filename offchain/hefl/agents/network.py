"""The multi-process mode: the computing party and each participant as separate OS processes.

Each agent has its own Ethereum account (an encrypted keystore in its own directory) and its own
files, and coordinates with the others only through the contract and the blob store: it wakes
at each new block of the ledger's chain (:class:`Follower`) and never shares a Python object.

Setting a job up (:func:`setup_job`, the party): generate the Paillier key pair, deploy the ledger
with the participants' addresses and |D_i|, and write the *job file* the participants receive —
ledger address, chain id, public key, the configuration document — whose hashes each participant
checks against the chain before taking part (:meth:`JobFile.check`).

Running it: :class:`PartyDaemon` opens rounds, waits for submissions until everyone submitted or
the submission deadline passed (absentees are left out of the round and Eq. 10's weights
renormalise over those who submitted, as the ``included`` bitmap records), commits, waits for the
quorum, decrypts and opens the next round. :class:`ParticipantDaemon` submits once per open
round and verifies every aggregate. Both re-derive where they are from the chain and their own
files at every step, so either can be killed at any point and started again.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hefl.agents.export import RunDirectory, round_entry
from hefl.agents.identity import (
    IDENTITY,
    KEYSTORE,
    PAILLIER_KEY,
    Identity,
    create_agent,
    load_data,
    load_private_key,
    save_private_key,
)
from hefl.agents.roles import ComputingPartyAgent, ParticipantAgent, Vote
from hefl.canonical import canonical_json
from hefl.chain import (
    BlobStore,
    Chain,
    DeploymentRecord,
    LedgerClient,
    RoundRecord,
    RoundStatus,
    blob_hash,
    deploy_ledger,
)
from hefl.chain.availability import blobs_on_chain_for
from hefl.chain.fl_ledger import DEFAULT_VOID_TIMEOUT_S, NEVER
from hefl.chain.node import NewBlocks
from hefl.crypto import PublicKey, generate_keypair
from hefl.errors import AgentError, ChainError, ConfigError, ContractRevertError
from hefl.learning import linear
from hefl.learning.paillier import FixedPointConfig
from hefl.learning.registry import (
    StrategyName,
    build_strategy,
    strategy_from_description,
    strategy_spec,
)
from hefl.learning.strategy import LearningConfig, RoundOutcome

log = logging.getLogger("hefl.agents")

JOB_FILE = "job.json"
JOB_FORMAT = 1


@dataclass(frozen=True)
class Schedule:
    """How the rounds of a multi-process job run.

    Attributes:
        tau: local steps per round (fixed τ).
        rounds: finalised rounds the job runs.
        submission_deadline_s: seconds after a round opens (its block's timestamp) after which the
            party aggregates whoever submitted.
        poll_min_s / poll_max_s: the back-off range of a waiting agent (:class:`Follower`).
        void_timeout_s: the ledger's ``voidTimeout``: seconds after a round's deadline (Open) or
            commit (Aggregated) after which a round without verdict is voided (by the party, or
            by anyone); at least :data:`~hefl.chain.node.NODE_OUTAGE_LIMIT_S`, so a node
            outage an agent rides out never costs a live round.
        report_every_s: how often a waiting agent says on whom and for what it waits.
    """

    tau: int = 5
    rounds: int = 3
    submission_deadline_s: float = 60.0
    poll_min_s: float = 0.2
    poll_max_s: float = 2.0
    void_timeout_s: int = DEFAULT_VOID_TIMEOUT_S
    report_every_s: float = 30.0

    def __post_init__(self) -> None:
        if self.tau < 1 or self.rounds < 1:
            raise ConfigError(f"tau and rounds must be ≥ 1, got {self.tau}, {self.rounds}")
        if self.submission_deadline_s <= 0:
            raise ConfigError(f"deadline must be > 0 s, got {self.submission_deadline_s}")
        if self.void_timeout_s < 0 or self.report_every_s <= 0:
            raise ConfigError(
                f"--void-timeout must be ≥ 0 s and the report interval > 0 s, got "
                f"{self.void_timeout_s}, {self.report_every_s}"
            )


@dataclass(frozen=True)
class JobFile:
    """What the participants receive: where the ledger is and what they agree to."""

    chain_id: int
    ledger: str
    public_key_n: int
    config: dict[str, Any]

    @property
    def public_key(self) -> PublicKey:
        return PublicKey(self.public_key_n)

    @property
    def schedule(self) -> Schedule:
        return Schedule(**self.config["schedule"])

    def to_text(self, indent: int | None = None) -> str:
        """The job file's JSON text (what :meth:`save` writes; Flower's run config carries it)."""
        payload = {"format": JOB_FORMAT, **asdict(self), "public_key_n": hex(self.public_key_n)}
        return json.dumps(payload, indent=indent)

    def save(self, path: Path) -> Path:
        path.write_text(self.to_text(indent=2))
        return path

    @classmethod
    def from_text(cls, text: str, source: str = "the job") -> JobFile:
        """Parse a job file's JSON text; ``source`` names it in the error."""
        try:
            data = json.loads(text)
            if data.get("format") != JOB_FORMAT:
                raise ConfigError(f"job file format {data.get('format')!r} is not {JOB_FORMAT}")
            return cls(
                chain_id=int(data["chain_id"]),
                ledger=str(data["ledger"]),
                public_key_n=int(data["public_key_n"], 16),
                config=dict(data["config"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ConfigError(f"{source} is not a hefl job file: {error}") from error

    @classmethod
    def load(cls, path: str | Path) -> JobFile:
        file = Path(path)
        if file.is_dir():
            file = file / JOB_FILE
        try:
            text = file.read_text()
        except OSError as error:
            raise ConfigError(f"{file} is not a hefl job file: {error}") from error
        return cls.from_text(text, str(file))

    def check(self, ledger: LedgerClient, identity: Identity | None = None) -> None:
        """Refuse to take part unless the chain holds exactly this job (and this participant)."""
        if ledger.chain.chain_id != self.chain_id:
            raise AgentError(
                f"the node's chain id is {ledger.chain.chain_id}, the job file says "
                f"{self.chain_id}; connect to the job's chain"
            )
        if ledger.public_key_hash() != blob_hash(self.public_key.modulus_bytes()):
            raise AgentError("the ledger's public-key hash does not match the job file's key")
        if ledger.config_hash() != blob_hash(canonical_json(self.config)):
            raise AgentError("the ledger's configuration hash does not match the job file")
        if identity is None:
            return
        registry = {str(p.address): p for p in ledger.participants()}
        me = registry.get(identity.address)
        if me is None:
            raise AgentError(f"{identity.address} is not a registered participant of this job")
        if identity.data_size is not None and me.data_size != identity.data_size:
            raise AgentError(
                f"the ledger registers |D_i| = {me.data_size} for {identity.address}, but this "
                f"participant holds {identity.data_size} samples"
            )
        if identity.model_size is not None and identity.model_size != self.config["model_size"]:
            raise AgentError(
                f"this participant's data has {identity.model_size} columns, the job's model "
                f"{self.config['model_size']}"
            )


def setup_job(
    chain: Chain,
    party_dir: Path,
    password: str,
    participants: Sequence[Identity],
    blobs: BlobStore,
    *,
    schedule: Schedule,
    learning: LearningConfig,
    fixed_point: FixedPointConfig | None = None,
    key_bits: int = 2048,
    allow_insecure_keys: bool = False,
    fund_wei: int = 0,
    strategy: StrategyName = "paillier",
    force: bool = False,
) -> JobFile:
    """The party's side of setting up a job; writes ``party_dir/job.json`` and returns it.

    The Paillier private key is stored encrypted under the keystore's password
    (:func:`~hefl.agents.identity.save_private_key`). A setup that fails removes the party files
    it wrote, so it can simply be run again; a directory that already holds a party's files is
    refused unless ``force`` (``--force``) replaces them."""
    existing = [name for name in PARTY_FILES if (party_dir / name).exists()]
    if existing and not force:
        raise ConfigError(
            f"{party_dir} already holds a party's files ({', '.join(existing)}); pass --force to "
            "replace them (a ledger deployed from them stays on chain)"
        )
    for name in existing:
        (party_dir / name).unlink()
    try:
        return _setup_job(
            chain, party_dir, password, participants, blobs, schedule=schedule,
            learning=learning, fixed_point=fixed_point, key_bits=key_bits,
            allow_insecure_keys=allow_insecure_keys, fund_wei=fund_wei, strategy=strategy,
        )  # fmt: skip
    except BaseException:
        for name in PARTY_FILES:
            (party_dir / name).unlink(missing_ok=True)
        raise


#: The files a party's setup writes into its directory (removed again if the setup fails).
PARTY_FILES = (KEYSTORE, IDENTITY, PAILLIER_KEY, JOB_FILE)


def _setup_job(
    chain: Chain,
    party_dir: Path,
    password: str,
    participants: Sequence[Identity],
    blobs: BlobStore,
    *,
    schedule: Schedule,
    learning: LearningConfig,
    fixed_point: FixedPointConfig | None,
    key_bits: int,
    allow_insecure_keys: bool,
    fund_wei: int,
    strategy: StrategyName,
) -> JobFile:
    from hefl.agents.document import config_document

    spec = strategy_spec(strategy)
    if not (spec.multi_process and spec.needs_keypair):
        raise ConfigError(
            f"the multi-process mode cannot run the {strategy!r} strategy: its party must be "
            "rebuilt from the job file and a Paillier key alone"
        )
    sizes = [p.data_size for p in participants]
    models = {p.model_size for p in participants}
    if None in sizes or None in models or len(models) != 1:
        raise ConfigError("every participant identity must state its data size and model size")
    data_sizes = [int(s) for s in sizes if s is not None]
    (model_size,) = (int(m) for m in models if m is not None)
    identity = create_agent(party_dir, password)
    party = chain.add_keystore(party_dir / KEYSTORE, password)
    if fund_wei:
        funder = chain.node_accounts()[0] if chain.node_accounts() else None
        if funder is None:
            raise ConfigError("--fund needs a node with an unlocked, funded account")
        for address in [party, *(p.address for p in participants)]:
            chain.transact({"from": funder, "to": address, "value": fund_wei})
    public_key, private_key = generate_keypair(key_bits, allow_insecure=allow_insecure_keys)
    save_private_key(party_dir / PAILLIER_KEY, private_key, password, keystore=party_dir / KEYSTORE)
    party_strategy = build_strategy(
        strategy,
        learning,
        public_key=public_key,
        private_key=private_key,
        fixed_point=fixed_point,
        sizes=data_sizes,
    )
    initial_model = party_strategy.initial_model(model_size)
    initial_hash = blobs.put(initial_model)
    document = config_document(
        "multi-process",
        party_strategy,
        data_sizes,
        model_size,
        initial_hash,
        schedule=asdict(schedule),
    )
    config_hash = blobs.put(canonical_json(document))
    key_hash = blobs.put(public_key.modulus_bytes())
    ledger = deploy_ledger(
        chain, party, [p.address for p in participants], data_sizes, key_hash, config_hash,
        void_timeout_s=schedule.void_timeout_s,
        blobs_on_chain=blobs_on_chain_for(initial_model),
    )  # fmt: skip
    job = JobFile(chain.chain_id, ledger.address, int(public_key.n), document)
    job.save(party_dir / JOB_FILE)
    RunDirectory(party_dir).write_setup(DeploymentRecord.from_client(ledger), document)
    log.info(
        "C %s: job deployed at %s for %d participants",
        identity.address,
        ledger.address,
        len(participants),
    )
    return job


#: How many times per ``poll_min_s`` a waiting agent asks the node whether a block was mined: a
#: new block (every transaction mines one) wakes the agent within ``poll_min_s / HEAD_CHECKS``.
HEAD_CHECKS = 4


class Follower:
    """Waits for the ledger's next block, event-driven where it matters: every
    ``poll_min_s / HEAD_CHECKS`` seconds it asks the node whether a block was mined — through a
    block filter where the node offers one (``eth_getFilterChanges``: the node names the new
    blocks), else by its head (``eth_blockNumber``); see :class:`hefl.chain.node.NewBlocks`,
    which also survives a node that drops or refuses filters — and returns as soon as one was,
    so an agent reacts to another's transaction within a fraction of ``poll_min_s``. Without new
    blocks it still returns after a back-off growing from ``poll_min_s`` to ``poll_max_s``, so a
    step whose trigger is the clock (a submission deadline, a void timeout) runs on time."""

    def __init__(
        self,
        ledger: LedgerClient,
        schedule: Schedule,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ledger = ledger
        self.delay = schedule.poll_min_s
        self.min_s, self.max_s = schedule.poll_min_s, schedule.poll_max_s
        self.tick = schedule.poll_min_s / HEAD_CHECKS
        self.clock, self.sleep = clock, sleep
        self.blocks = NewBlocks(ledger.chain)

    def wait(self) -> None:
        """Return at the next new block, or after the current back-off without one."""
        until = self.clock() + self.delay
        while True:
            self.sleep(self.tick)
            if self.blocks.arrived():
                self.delay = self.min_s
                return
            if self.clock() >= until - self.tick / 2:  # (half a tick: float sums)
                self.delay = min(self.delay * 2, self.max_s)
                return

    def close(self) -> None:
        """Uninstall the block filter from the node."""
        self.blocks.close()


class Waiting:
    """Makes waiting visible: what an agent waits for, said when it changes and then every
    ``every_s`` seconds, at info level (so a stuck job tells on whom it waits)."""

    def __init__(self, who: str, every_s: float, clock: Callable[[], float] = time.monotonic):
        self.who, self.every_s, self.clock = who, every_s, clock
        self._last: tuple[str, float] | None = None

    def on(self, message: str) -> None:
        now = self.clock()
        if self._last is None or self._last[0] != message or now - self._last[1] >= self.every_s:
            log.info("%s: waiting %s", self.who, message)
            self._last = (message, now)


def _names(indices: Sequence[int]) -> str:
    return ", ".join(str(i) for i in indices) or "nobody"


#: Consecutive failed steps (node errors, transactions overtaken by others) before giving up.
MAX_FAILED_STEPS = 20


def follow(step: Callable[[], bool], ledger: LedgerClient, schedule: Schedule, who: str) -> None:
    """Run ``step`` after every ledger event until it reports the job complete.

    A step that fails on the chain (a transaction overtaken by another agent's, a node hiccup)
    is retried from the ledger's fresh state; only repeated failures end the agent."""
    follower = Follower(ledger, schedule)
    failures = 0
    while True:
        try:
            if step():
                follower.close()  # (after a failure the node may be gone: it drops the filter)
                return
            failures = 0
        except ChainError as error:
            failures += 1
            if failures >= MAX_FAILED_STEPS:
                raise
            log.warning("%s: step failed (%s); retrying from the ledger's state", who, error)
        follower.wait()


def _finalised(rounds: Sequence[RoundRecord]) -> int:
    return sum(1 for r in rounds if r.status is RoundStatus.FINALISED)


class PartyDaemon:
    """The computing party as a long-running process; see the module docstring."""

    def __init__(
        self,
        directory: Path,
        ledger: LedgerClient,
        blobs: BlobStore,
        job: JobFile,
        *,
        test_data: tuple[np.ndarray, np.ndarray] | None = None,
        clock: Callable[[], float] = time.time,
        password: str,
    ) -> None:
        # The key's size was judged when setup made it (--allow-insecure-keys or not).
        private_key = load_private_key(directory / PAILLIER_KEY, password, allow_insecure=True)
        if private_key.public_key != job.public_key:
            raise AgentError("the party's Paillier key is not the job's key")
        job.check(ledger)
        strategy = strategy_from_description(
            job.config["strategy"], job.public_key, private_key=private_key
        )
        self.agent = ComputingPartyAgent(strategy, ledger, blobs)
        self.ledger, self.blobs, self.job = ledger, blobs, job
        self.schedule = job.schedule
        self.run_dir = RunDirectory(directory)  # the files `hefl run` writes, round by round
        self.test_data = test_data
        self.clock = clock
        self.quorum = ledger.quorum()
        self.waiting = Waiting("C", self.schedule.report_every_s)

    def _deadline_passed(self, record: RoundRecord) -> bool:
        # One second of slack: the commit's block must carry a timestamp after the deadline.
        return self.clock() > record.deadline + 1

    def _open(self, global_model: bytes, iteration: int) -> None:
        deadline = math.ceil(self.clock() + self.schedule.submission_deadline_s)
        self.agent.open_round(global_model, iteration, self.schedule.tau, deadline)

    def step(self) -> bool:
        """Do whatever the ledger's state calls for; ``True`` once the job is complete.

        A round the party cannot finalise is given up by the contract's rule (``voidRound``):
        an Open round past its deadline with nothing usable, an Aggregated one without verdict
        :attr:`Schedule.void_timeout_s` after the commit; then the round is redone from the same
        t, as after a dispute. While it waits, it says every :attr:`Schedule.report_every_s`
        seconds on whom and for what."""
        count = self.ledger.round_count()
        if count == 0:
            initial = bytes.fromhex(self.job.config["initial_model_hash"][2:])
            self._open(self.blobs.get(initial), 0)
            return False
        g = count - 1
        record = self.ledger.get_round(g)
        people = self.ledger.participants()
        if record.status is RoundStatus.OPEN:
            return self._step_open(record, len(people))
        if record.status is RoundStatus.AGGREGATED:
            return self._step_aggregated(record, [p.index for p in people])
        if record.status in (RoundStatus.DISPUTED, RoundStatus.VOIDED):
            log.warning(
                "C: round %d %s; redoing it from t=%d",
                g, record.status.name.lower(), record.iteration,
            )  # fmt: skip
            self._open(self.blobs.get(record.global_model_hash), record.iteration)
            return False
        outcome = self.agent.conclude(g)
        self._record(record, outcome)
        if _finalised(self.ledger.history()) >= self.schedule.rounds:
            return True
        self._open(outcome.next_global, record.iteration + record.tau)
        return False

    def _step_open(self, record: RoundRecord, participants: int) -> bool:
        g = record.round
        if record.submission_count == participants or self._deadline_passed(record):
            try:
                if record.submission_count:
                    self.agent.commit(g)  # voids the round itself when nothing is usable
                else:
                    self.agent.void(g, "nobody submitted before the deadline")
            except ContractRevertError as error:  # a submission landed meanwhile: read again
                log.info("C: round %d commit retried (%s)", g, error)
            return False
        missing = [i for i in range(participants) if not record.included >> i & 1]
        self.waiting.on(
            f"for submissions to round {g} from participants {_names(missing)} "
            f"(deadline in {record.deadline - self.clock():.0f} s)"
        )
        return False

    def _step_aggregated(self, record: RoundRecord, indices: Sequence[int]) -> bool:
        g = record.round
        voted = record.attested | record.disputed
        silent = [i for i in indices if not voted >> i & 1]
        allowed = self.ledger.void_allowed_from(record, str(self.ledger.sender))
        if allowed != NEVER and self.clock() > allowed + 1:
            try:
                self.agent.void(
                    g, f"no verdict {self.ledger.void_timeout()} s after the commit "
                    f"(participants {_names(silent)} did not vote)",
                )  # fmt: skip
            except ContractRevertError as error:  # decided meanwhile
                log.info("C: round %d not voided (%s)", g, error)
            return False
        self.waiting.on(
            f"for votes on round {g} from participants {_names(silent)} ({record.votes} votes of "
            f"{self.quorum} needed, {record.dispute_count} disputes; void in "
            f"{allowed - self.clock():.0f} s)"
        )
        return False

    def _record(self, record: RoundRecord, outcome: RoundOutcome) -> None:
        """Export the round once (a restarted party may conclude a round again)."""
        test_loss = None if self.test_data is None else linear.loss(outcome.model, *self.test_data)
        entry = round_entry(record, outcome, test_loss=test_loss)
        if self.run_dir.record_round(self.ledger, entry):
            self.run_dir.write_model(outcome.model)
            log.info("C: round %d finalised %s", record.round, entry)

    def run(self) -> None:
        follow(self.step, self.ledger, self.schedule, "C")
        log.info("C: job complete after %d finalised rounds", self.schedule.rounds)


class ParticipantDaemon:
    """A participant (and PBFT replica) as a long-running process."""

    def __init__(
        self, directory: Path, ledger: LedgerClient, blobs: BlobStore, job: JobFile
    ) -> None:
        identity = Identity.load(directory / IDENTITY)
        job.check(ledger, identity)
        strategy = strategy_from_description(job.config["strategy"], job.public_key)
        self.agent = ParticipantAgent(
            identity.address, load_data(directory), strategy, ledger, blobs
        )
        self.ledger, self.schedule = ledger, job.schedule
        self.waiting = Waiting(f"P {identity.address}", self.schedule.report_every_s)

    def step(self) -> bool:
        """Submit or vote if the latest round calls for it; ``True`` once the job is complete.
        Otherwise say (every :attr:`Schedule.report_every_s` seconds) what it waits for."""
        count = self.ledger.round_count()
        if count == 0:
            self.waiting.on("for the party to open round 0")
            return False
        g = count - 1
        record = self.ledger.get_round(g)
        if record.status is RoundStatus.OPEN:
            try:
                if not self.agent.take_part(g):
                    self.waiting.on(f"for the party to commit round {g}")
            except ContractRevertError as error:
                log.warning(
                    "P %s: round %d closed before our submission (%s)", self.agent.address, g, error
                )
        elif record.status is RoundStatus.AGGREGATED:
            if self.agent.verify(g) is Vote.ALREADY_VOTED:
                voted = record.attested | record.disputed
                silent = [p.index for p in self.ledger.participants() if not voted >> p.index & 1]
                self.waiting.on(f"for votes on round {g} from participants {_names(silent)}")
        elif record.status is RoundStatus.FINALISED:
            if _finalised(self.ledger.history()) >= self.schedule.rounds:
                return True
            self.waiting.on(f"for the party to open round {g + 1}")
        else:
            self.waiting.on(f"for the party to redo round {g} ({record.status.name.lower()})")
        return False

    def run(self) -> None:
        follow(self.step, self.ledger, self.schedule, f"P {self.agent.address}")
        log.info("P %s: job complete", self.agent.address)
