"""Yang et al.'s multi-key secure aggregation on Flower, recorded on ``FLLedger``.

:mod:`hefl.secagg.multikey` holds the protocol; here it is split along Flower's wire. The clients'
side is a **ClientApp mod** (:func:`multikey_mod`, in the manner of Flower's ``secaggplus_mod``)
that wraps any ClientApp whose ``train`` handler returns its weighted update; the server's side is
:class:`MultiKeyFedAvg`, run by the ServerApp. Three stages, all TRAIN messages carrying one
ConfigRecord under :data:`RECORD`:

1. ``setup`` (once) — the server sends SysPara (p, q, g, β̃_j, a, quantiser; SysGen §3.1) and the
   client's index; the mod validates SysPara, runs KeyGen (sk_i ∈ Z_q, pk_i = g^{sk_i}; §3.1),
   keeps sk_i in the node's own state (``Context.state``, never in a message) and replies pk_i
   and |D_i|;
2. ``encrypt`` — the server fixes the online set S, sends pk_S = Π_{i∈S} pk_i (AggPKGen) and the
   global model w encrypted for this client, W_i* = AES-GCM_{H(pk_i^α)}(w) (SE, §3.2); the mod
   runs the lone-client check (pk_S ≠ pk_i), DSE, hands w to the wrapped ClientApp, takes its
   update v_i = (|D_i|/|D|)·(w_i − w) (Eq. 5's weight), and replies only E(v̂_i) = (E_i1, E_i2)
   (Enc, Eq. 2): the plaintext update is removed from the reply;
3. ``respond`` — the server sends the challenge R = Π_{i∈S} g^{r_i2} (ChelGen, §3.3); the mod
   answers T_i = R^{sk_i} once per round attempt (ResGen).

The server then runs Agg, Dec and Algorithm 2 (:meth:`~hefl.secagg.multikey.MultiKeyServer.
finish`) and learns Σ_{i∈S} v_i only. A client of S that does not send its ciphertext or its
response makes the round restart over those that did (§4.2, Theorem 4), with fresh coins under
the new pk_S; the next model is w + (|D|/|D_S|)·Σ_{i∈S} v_i (Eq. 5 renormalised over S).

**On the ledger**, as ``hefl run --strategy secagg-multikey`` records a round
(:mod:`hefl.learning.secure`): each attempt of a round is one ``FLLedger`` round, opened by the
server (the computing party) with the hash of w's plain encoding. In ``encrypt`` the mod checks
that the model it decrypted hashes to that round's global model on chain, and submits its message
from the participant's **own account** (:meth:`~hefl.agents.roles.ParticipantAgent.deliver`:
sealed to the job, round and account); the server aggregates only the messages the chain names.
A restart voids the attempt's round (``FLLedger.voidRound``: the party may void an open round
without deadline at once) and opens the next one from the same w. After Dec the server commits
the transcript of :class:`~hefl.learning.secure.SecureAggregationStrategy` (the round, the
message hashes, |D_S| and the sum) through :meth:`~hefl.agents.roles.ComputingPartyAgent.commit`;
every client checks as a replica that the transcript covers exactly the committed messages and
sizes (``evaluate``: :func:`hefl.flower.client.verify`) and attests or disputes from its account;
the round is final at the contract's quorum, and only then does the server move to w(t + τ).

The job's identity is the main scheme's (:class:`~hefl.agents.network.JobFile`, checked against
the chain by every client before it answers): the ledger's public-key hash fixes SysPara's modulus
p and the configuration document names SysPara's fingerprint, which the mod checks before KeyGen.

Every message the ServerApp receives passes through :class:`RecordingGrid`, so a test can assert
what the server ever saw. Threat model as in :mod:`hefl.secagg.multikey`: an honest-but-curious
server; clients refuse to answer twice in one attempt and check every group element they get.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MessageType,
    MetricRecord,
    RecordDict,
)
from flwr.clientapp import ClientApp
from flwr.clientapp.typing import Mod
from flwr.serverapp import Grid, ServerApp

from hefl.agents.identity import KEYSTORE, open_secret, read_password, seal_secret
from hefl.agents.network import JOB_FORMAT, JobFile
from hefl.agents.roles import ComputingPartyAgent, open_submission
from hefl.canonical import keccak256
from hefl.chain import (
    Chain,
    LedgerClient,
    LocalBlobStore,
    RoundStatus,
    connect_rpc,
)
from hefl.control.loop import RoundSummary, Trace
from hefl.crypto import PublicKey
from hefl.data import PreparedData
from hefl.errors import (
    AgentError,
    ConfigError,
    HeflError,
    ProtocolError,
    RoundRestartRequired,
)
from hefl.flower import client, wire
from hefl.flower.server import Evaluator, committed_blobs, export_party_run, wait_for_decision
from hefl.flower.setup import (
    BLOBS_DIR,
    FUND_WEI,
    PARTY_DIR,
    PreparedJob,
    create_agents,
    deploy_job,
)
from hefl.learning import linear
from hefl.learning.blobs import pack_bundle
from hefl.learning.plain import encode_plain_vector
from hefl.learning.secure import SecureAggregationStrategy
from hefl.learning.strategy import LearningConfig, LocalUpdate
from hefl.secagg.base import DEFAULT_MAX_ATTEMPTS
from hefl.secagg.multikey import (
    DEFAULT_KAPPA1,
    DEFAULT_Q_BITS,
    MultiKeyClient,
    MultiKeyServer,
    SysPara,
)
from hefl.secagg.quantise import Quantiser
from hefl.secagg.wire import message_hash

log = logging.getLogger("hefl.flower")

#: The ConfigRecord of the mod's messages and the node-state record that keeps sk_i.
RECORD = "hefl-multikey"
#: Stages of the protocol (the ``stage`` field of :data:`RECORD`).
SETUP, ENCRYPT, RESPOND = "setup", "encrypt", "respond"
#: What the mod hands the wrapped ClientApp and takes back from it (Flower's conventions).
MODEL, UPDATE, CONFIG, METRICS, NUM_EXAMPLES = (
    "model",
    "update",
    "config",
    "metrics",
    "num-examples",
)
#: Run-config key: the client accepts SysPara below 2048 bits (tests, the paper's κ1 = 512).
RUN_ALLOW_INSECURE = "multikey-allow-insecure"
#: The configuration document's field naming SysPara's fingerprint (keccak256 of its JSON).
SYSPARA_FIELD = "multikey_syspara"
#: The party's SysGen output in its directory: SysPara and the secrets α_j, encrypted (0600).
SERVER_FILE = "multikey-server.json"
#: Its document type (an encrypted file: :func:`hefl.agents.identity.seal_secret`).
SERVER_FILE_TYPE = "hefl-multikey-server/v1"


# --- the client's side: a ClientApp mod -----------------------------------------------------------
@dataclass
class _ClientState:
    """What a node keeps between the stages (in ``Context.state``; never sent)."""

    client_id: int
    para: str
    sk: str
    pk_s: str = ""
    round: int = -1
    attempt: int = -1
    answered: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, context: Context) -> _ClientState:
        if RECORD not in context.state.config_records:
            raise ProtocolError("multi-key: a round message before the setup stage")
        record = context.state.config_records[RECORD]
        return cls(
            client_id=wire.get_int(record, "client_id"),
            para=wire.get_str(record, "para"),
            sk=wire.get_str(record, "sk"),
            pk_s=wire.get_str(record, "pk_s"),
            round=wire.get_int(record, "round"),
            attempt=wire.get_int(record, "attempt"),
            answered=wire.get_str_list(record, "answered"),
        )

    def save(self, context: Context) -> None:
        record: dict[str, Any] = {
            "client_id": self.client_id,
            "para": self.para,
            "sk": self.sk,
            "pk_s": self.pk_s,
            "round": self.round,
            "attempt": self.attempt,
        }
        if self.answered:
            record["answered"] = list(self.answered)
        context.state.config_records[RECORD] = ConfigRecord(record)

    def client(self, allow_insecure: bool) -> MultiKeyClient:
        para = _syspara(self.para, allow_insecure)
        return MultiKeyClient(self.client_id, para, int(self.sk, 16))


@dataclass(frozen=True)
class _Node:
    """This node's view of the run: its options and, in a job on a ledger, its participant."""

    allow_insecure: bool
    run_config: Mapping[str, Any]
    node_config: Mapping[str, Any]

    @property
    def on_ledger(self) -> bool:
        """Whether the run config names a job (off a ledger: the mod alone, as in its tests)."""
        return bool(self.run_config.get(wire.RUN_JOB))

    def participant(self) -> client.Participant:
        """This node's participant, its job checked against the chain (once per process)."""
        return client.load_participant(dict(self.run_config), dict(self.node_config))


def _syspara(text: str, allow: bool) -> SysPara:
    """SysPara as received, validated (primes, generator, β̃_j, a) before anything uses it."""
    with warnings.catch_warnings():
        if allow:
            warnings.simplefilter("ignore")
        return SysPara.from_json(text, allow_insecure=allow)


def _inner(
    message: Message, context: Context, call_next: Callable[[Message, Context], Message],
    content: RecordDict,
) -> RecordDict:  # fmt: skip
    """Run the wrapped ClientApp on ``content``; its error becomes this node's error."""
    message.content = content
    reply = call_next(message, context)
    if reply.has_error():
        raise ProtocolError(f"the ClientApp failed: {reply.error.reason}")
    return reply.content


def _num_examples(content: RecordDict) -> int:
    metrics = content.metric_records.get(METRICS)
    value = None if metrics is None else metrics.get(NUM_EXAMPLES)
    if not isinstance(value, int) or value < 1:
        raise ProtocolError(f"the ClientApp's reply has no positive {METRICS}.{NUM_EXAMPLES}")
    return value


def _check_job_syspara(node: _Node, para: SysPara, client_id: int) -> None:
    """On a ledger: the index is this participant's and SysPara is the one the job committed."""
    participant = node.participant()
    if client_id != participant.index:
        raise ProtocolError(
            f"the server calls this node client {client_id}, the ledger registers it as "
            f"participant {participant.index}"
        )
    job = client.job_from_run_config(dict(node.run_config))
    committed = str(job.config.get(SYSPARA_FIELD, ""))
    if committed != "0x" + para.fingerprint().hex():
        raise ProtocolError(
            f"the server's SysPara (fingerprint 0x{para.fingerprint().hex()}) is not the one "
            f"the job committed ({committed or 'none'})"
        )


def _setup(
    message: Message, context: Context, call_next: Callable[[Message, Context], Message],
    config: ConfigRecord, node: _Node,
) -> dict[str, Any]:  # fmt: skip
    """KeyGen on the client; sk_i stays in the node's state. Replies pk_i and |D_i|."""
    text = wire.get_str(config, "para")
    para = _syspara(text, node.allow_insecure)
    client_id = wire.get_int(config, "client_id")
    if node.on_ledger:
        _check_job_syspara(node, para, client_id)
    key = MultiKeyClient.key_gen(client_id, para)
    size = _num_examples(_inner(message, context, call_next, RecordDict()))
    _ClientState(key.client_id, text, hex(key.secret_key)).save(context)
    return {"pk": hex(key.pk), "size": size}


def _check_global_model(node: _Node, ledger_round: int, model: np.ndarray) -> bytes:
    """The decrypted w must be ledger round g's global model (its plain encoding's hash)."""
    blob = encode_plain_vector(model)
    record = node.participant().ledger.get_round(ledger_round)
    if record.status is not RoundStatus.OPEN:
        raise ProtocolError(f"ledger round {ledger_round} is {record.status.name}, not open")
    if keccak256(blob) != record.global_model_hash:
        raise ProtocolError(
            f"the model the server sent is not ledger round {ledger_round}'s global model "
            f"(0x{record.global_model_hash.hex()})"
        )
    return blob


def _submit(node: _Node, ledger_round: int, global_blob: bytes, message: bytes) -> LocalUpdate:
    """Submit the message from the participant's own account (sealed to job, round, account);
    returns what went on chain."""
    participant = node.participant()
    store = wire.MemoryBlobStore()
    store.put(global_blob)
    agent = participant.agent(store)
    if agent.pending(ledger_round) is None:
        raise ProtocolError(f"ledger round {ledger_round} takes no submission from this node")
    # The same update as hefl run's participant (SecureAggregationStrategy.local_update).
    return agent.deliver(ledger_round, LocalUpdate(model=message, extra=pack_bundle([])))


def _encrypt(
    message: Message, context: Context, call_next: Callable[[Message, Context], Message],
    config: ConfigRecord, node: _Node,
) -> dict[str, Any]:  # fmt: skip
    """Lone-client check, DSE, the wrapped ClientApp's update, Enc (and on a ledger, the
    submission). Replies E(v̂_i) only (sealed, on a ledger)."""
    state = _ClientState.load(context)
    key = state.client(node.allow_insecure)
    round_index, attempt = wire.get_int(config, "round"), wire.get_int(config, "attempt")
    pk_s = wire.get_str(config, "pk_s")
    key.begin_round(round_index, int(pk_s, 16), attempt=attempt)
    model = key.dse(wire.get_bytes(config, "model"))
    global_blob = b""
    if node.on_ledger:
        global_blob = _check_global_model(node, wire.get_int(config, "ledger-round"), model)
    train_config = {
        k: config[k] for k in ("round", "tau", "eta", "ridge", "total-size") if k in config
    }
    content = _inner(
        message,
        context,
        call_next,
        RecordDict({MODEL: ArrayRecord([model]), CONFIG: ConfigRecord(train_config)}),
    )
    if UPDATE not in content.array_records:
        raise ProtocolError(f"the ClientApp's train reply has no {UPDATE!r} ArrayRecord")
    (update,) = content.array_records[UPDATE].to_numpy_ndarrays()
    ciphertext = key.enc(np.asarray(update, dtype=np.float64))
    content.array_records.clear()  # the plaintext update never leaves the client
    state.pk_s, state.round, state.attempt = pk_s, round_index, attempt
    state.save(context)
    if not node.on_ledger:
        return {"ciphertext": ciphertext}
    sealed = _submit(node, wire.get_int(config, "ledger-round"), global_blob, ciphertext)
    return {"ciphertext": sealed.model, "extra": sealed.extra}


def _respond(
    message: Message, context: Context, call_next: Callable[[Message, Context], Message],
    config: ConfigRecord, node: _Node,
) -> dict[str, Any]:  # fmt: skip
    """ResGen: T_i = R^{sk_i}, once per round attempt, for the attempt this client encrypted in."""
    state = _ClientState.load(context)
    round_index, attempt = wire.get_int(config, "round"), wire.get_int(config, "attempt")
    if (round_index, attempt) != (state.round, state.attempt):
        raise ProtocolError(
            f"challenge for round {round_index} attempt {attempt}, but this client encrypted "
            f"for round {state.round} attempt {state.attempt}"
        )
    tag = f"{round_index}:{attempt}"
    if tag in state.answered:
        raise ProtocolError(f"client {state.client_id} already answered round {tag}")
    key = state.client(node.allow_insecure)
    key.begin_round(round_index, int(state.pk_s, 16), attempt=attempt)
    response = key.res_gen(int(wire.get_str(config, "challenge"), 16))
    state.answered = [*state.answered[-7:], tag]
    state.save(context)
    return {"response": hex(response)}


_STAGES = {SETUP: _setup, ENCRYPT: _encrypt, RESPOND: _respond}


def make_multikey_mod(
    *, allow_insecure: bool = False, overrides: Mapping[str, Any] | None = None
) -> Mod:
    """The clients' side of the multi-key protocol as a Flower mod (see the module docstring).

    ``allow_insecure`` (or ``multikey-allow-insecure`` in the node's or the run's config): accept
    SysPara below 2048 bits (tests, the paper's κ1 = 512). ``overrides``: run-config entries
    fixed by the app (``run_simulation`` passes no run config). When the run config names a job
    (``job``), the mod takes part on its ledger (see the module docstring). Messages that are
    not TRAIN messages of this protocol pass through to the ClientApp.
    """
    fixed = dict(overrides or {})

    def multikey_mod(
        message: Message, context: Context, call_next: Callable[[Message, Context], Message]
    ) -> Message:
        if (
            message.metadata.message_type != MessageType.TRAIN
            or RECORD not in message.content.config_records
        ):
            return call_next(message, context)
        config = message.content.config_records[RECORD]
        stage = wire.get_str(config, "stage")
        if stage not in _STAGES:
            raise ProtocolError(f"multi-key: unknown stage {stage!r}")
        run_config = {**dict(context.run_config), **fixed}
        options = {**run_config, **dict(context.node_config)}
        allow = allow_insecure or bool(options.get(RUN_ALLOW_INSECURE, False))
        node = _Node(allow, run_config, dict(context.node_config))
        payload = _STAGES[stage](message, context, call_next, config, node)
        return Message(RecordDict({RECORD: ConfigRecord(payload)}), reply_to=message)

    return multikey_mod


#: The mod with hefl's key-size floor (2048-bit groups).
multikey_mod = make_multikey_mod()


# --- the server's side --------------------------------------------------------------------------
class RecordingGrid:
    """A Grid that keeps every message it hands the ServerApp (what the server ever received)."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.received: list[Message] = []

    def get_node_ids(self) -> Iterable[int]:
        return self.grid.get_node_ids()

    def send_and_receive(self, messages: Iterable[Message], *, timeout: float) -> list[Message]:
        replies = list(self.grid.send_and_receive(messages, timeout=timeout))
        self.received.extend(replies)
        return replies


@dataclass(frozen=True)
class MultiKeySpec:
    """A multi-key FedAvg job on Flower (committed on chain inside the configuration document).

    Attributes:
        clients: SuperNodes to wait for (N of SysGen; the ledger's participants).
        rounds / tau / eta / ridge: FedAvg with τ local steps of Eq. 4 per round.
        kappa1 / q_bits / allow_insecure: the group's sizes (2048/256 unless insecure).
        clip / scale: the quantiser (∇_max and s; see :mod:`hefl.secagg.quantise`).
        reply_timeout_s: how long a stage waits for replies; a client silent by then is out.
    """

    clients: int
    rounds: int = 3
    tau: int = 5
    eta: float = 0.05
    ridge: float = 0.0
    kappa1: int = DEFAULT_KAPPA1
    q_bits: int = DEFAULT_Q_BITS
    allow_insecure: bool = False
    clip: float = 1.0
    scale: float = float(2**16)
    reply_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if self.clients < 2:
            raise ConfigError(
                f"multi-key needs ≥ 2 clients (a lone sum is no secret), got {self.clients}"
            )
        if self.rounds < 1 or self.tau < 1:
            raise ConfigError(f"rounds and tau must be ≥ 1, got {self.rounds}, {self.tau}")

    @property
    def learning(self) -> LearningConfig:
        return LearningConfig(eta=self.eta, ridge=self.ridge)


@dataclass(frozen=True)
class MultiKeyRound:
    """One finished round: who was in S, after how many attempts, the model after it, and the
    ledger rounds it took (the attempts' voided ones, then the finalised one)."""

    round: int
    included: tuple[int, ...]
    attempts: int
    model: np.ndarray
    ledger_round: int = -1
    voided: tuple[int, ...] = ()


class MultiKeyTranscript(SecureAggregationStrategy):
    """The party's ``secagg-multikey`` strategy on Flower: the sum comes from the Flower exchange
    (the clients' responses live on their nodes), and :meth:`aggregate` commits its transcript
    (:meth:`SecureAggregationStrategy._transcript`) once the messages the chain names are exactly
    those the sum covers. Replicas and auditors check it with the plain
    :class:`SecureAggregationStrategy` the job's description rebuilds."""

    def __init__(self, config: LearningConfig, sizes: Sequence[int]) -> None:
        super().__init__("multikey", config, sizes=sizes)
        self._settled: tuple[frozenset[bytes], np.ndarray] | None = None

    def settle(self, messages: Iterable[bytes], total: np.ndarray) -> None:
        """The sum Σ_{i∈S} v_i that Dec gave over ``messages`` (the client messages of S)."""
        self._settled = (frozenset(message_hash(m) for m in messages), np.asarray(total))

    def aggregate(self, local_models: Sequence[bytes], sizes: Sequence[int]) -> bytes:
        """The transcript over the submissions the sum covers; any other submission on chain
        (a registered client outside S that submitted anyway) is named as excluded, so that
        one faulty node cannot stall the round (replicas: :meth:`check_aggregate`)."""
        if self._settled is None:
            raise ProtocolError("multi-key: no decrypted sum to commit for this round")
        covered, total = self._settled
        hashes = [message_hash(m) for m in local_models]
        if not covered <= frozenset(hashes):
            raise ProtocolError(
                "multi-key: the round's submissions on chain lack messages the sum covers"
            )
        inside = [h in covered for h in hashes]
        excluded = [m for m, keep in zip(local_models, inside, strict=True) if not keep]
        if excluded:
            log.warning(
                "multi-key: %d submission(s) from outside the online set left out", len(excluded)
            )
        self._settled = None
        return self._transcript(
            [m for m, keep in zip(local_models, inside, strict=True) if keep],
            [s for s, keep in zip(sizes, inside, strict=True) if keep],
            total,
            excluded,
        )

    def _begin(self, model: np.ndarray) -> None:
        """Nothing: the Flower exchange runs the scheme's rounds (:class:`MultiKeyFedAvg`)."""


class MultiKeyFedAvg:
    """The server: SysGen's output, then per round AggPKGen/SE, ChelGen, Agg/Dec, each attempt a
    ledger round, the transcript committed and attested (see the module docstring)."""

    def __init__(
        self,
        spec: MultiKeySpec,
        server: MultiKeyServer,
        party: ComputingPartyAgent,
        *,
        evaluator: Evaluator | None = None,
    ) -> None:
        if not isinstance(party.strategy, MultiKeyTranscript):
            raise ConfigError("the multi-key party commits through a MultiKeyTranscript")
        self.spec = spec
        self.server = server
        self.party = party
        self.strategy: MultiKeyTranscript = party.strategy
        self.ledger: LedgerClient = party.ledger
        self.evaluator = evaluator
        self.n_params = server.para.n_params
        registry = self.ledger.participants()
        self.addresses = {p.index: p.address for p in registry}
        self.sizes_on_chain = {p.index: p.data_size for p in registry}
        self.clients: dict[int, int] = {}  # participant index → node id
        self.sizes: dict[int, int] = {}  # the clients whose KeyGen the server registered
        self.rounds: list[MultiKeyRound] = []
        self.summaries: list[RoundSummary] = []
        self.model = np.zeros(self.n_params)
        self.recording: RecordingGrid | None = None
        self.error: HeflError | None = None

    # --- messages -----------------------------------------------------------------------------
    def _exchange(
        self,
        grid: RecordingGrid,
        payloads: Mapping[int, Mapping[str, Any]],
        *,
        record: str = RECORD,
        kind: str = MessageType.TRAIN,
        nodes: Mapping[int, int] | None = None,
    ) -> dict[int, ConfigRecord]:
        """One message per client; the usable replies by client index (errors logged)."""
        nodes = self.clients if nodes is None else nodes
        messages = [
            Message(
                RecordDict({record: ConfigRecord(dict(payload))}),
                dst_node_id=nodes[cid],
                message_type=kind,
                ttl=self.spec.reply_timeout_s + 60,
            )
            for cid, payload in sorted(payloads.items())
        ]
        by_node = {node: cid for cid, node in nodes.items()}
        replies: dict[int, ConfigRecord] = {}
        for reply in grid.send_and_receive(messages, timeout=self.spec.reply_timeout_s):
            cid = by_node.get(reply.metadata.src_node_id)
            if cid is None:
                continue
            if reply.has_error():
                log.warning(
                    "multi-key: client %d replied with an error: %s", cid, reply.error.reason
                )
                continue
            if record in reply.content.config_records:
                replies[cid] = reply.content.config_records[record]
        return replies

    def identify(self, grid: RecordingGrid) -> None:
        """Each node checks the job against the chain and names its account; a node is client i
        when the ledger registers its account as participant i."""
        deadline = time.monotonic() + self.spec.reply_timeout_s
        while len(nodes := sorted(grid.get_node_ids())) < self.spec.clients:
            if time.monotonic() > deadline:
                raise AgentError(f"only {len(nodes)} of {self.spec.clients} SuperNodes connected")
            time.sleep(0.1)
        by_position = dict(enumerate(nodes))
        replies = self._exchange(
            grid,
            {position: {"action": "identity"} for position in by_position},
            record=wire.RECORD,
            kind=MessageType.QUERY,
            nodes=by_position,
        )
        for position, reply in replies.items():
            try:
                address, index = wire.get_str(reply, "address"), wire.get_int(reply, "index")
            except HeflError as error:
                log.warning(
                    "multi-key: node %d: unusable identity: %s", by_position[position], error
                )
                continue
            if self.addresses.get(index) != address or index in self.clients:
                log.warning(
                    "multi-key: node %d claims participant %d wrongly", by_position[position], index
                )
                continue
            self.clients[index] = by_position[position]
        if len(self.clients) < 2:
            raise AgentError(
                f"{len(self.clients)} SuperNodes accepted the job; multi-key needs ≥ 2"
            )

    def setup(self, grid: RecordingGrid) -> None:
        """Each client's KeyGen on its own node under the job's SysPara; registers the pk_i."""
        para = self.server.para.to_json()
        replies = self._exchange(
            grid, {cid: {"stage": SETUP, "para": para, "client_id": cid} for cid in self.clients}
        )
        for cid, reply in replies.items():
            try:
                size = wire.get_int(reply, "size")
                if size != self.sizes_on_chain[cid]:
                    raise ProtocolError(
                        f"|D_i| = {size}, the ledger registers {self.sizes_on_chain[cid]}"
                    )
                self.server.register(cid, int(wire.get_str(reply, "pk"), 16))
                self.sizes[cid] = size
            except (HeflError, ValueError) as error:
                log.warning("multi-key: client %d's key is refused: %s", cid, error)

    # --- a round ------------------------------------------------------------------------------
    def _messages_on_chain(self, g: int, online: Iterable[int]) -> dict[int, bytes]:
        """The client messages of S that ledger round g names, opened and received by the
        server (a message off chain, not in the store, or refused by the scheme is absent)."""
        messages: dict[int, bytes] = {}
        for cid in sorted(online):
            submission = self.ledger.get_submission(g, self.addresses[cid])
            if not submission.submitted:
                continue
            try:
                update = open_submission(self.ledger, self.party.store, g, submission)
                ciphertext = self.server.receive(update.model)
                if ciphertext.client_id != cid:
                    raise ProtocolError(f"client {cid} sent client {ciphertext.client_id}'s")
            except HeflError as error:  # left out: the round restarts without it
                log.warning("multi-key: client %d's ciphertext is refused: %s", cid, error)
                continue
            messages[cid] = update.model
        return messages

    def _sum(self, grid: RecordingGrid, r: int, attempt: int, online: set[int]) -> np.ndarray:
        """ChelGen, the clients' ResGen on their nodes, Agg, Dec (RoundRestartRequired if any
        client of S sent nothing or did not answer)."""
        challenge = hex(self.server.chel_gen())
        replies = self._exchange(
            grid,
            {cid: {"stage": RESPOND, "round": r, "attempt": attempt, "challenge": challenge}
             for cid in sorted(online)},
        )  # fmt: skip
        responses = {}
        for cid, reply in replies.items():
            try:
                responses[cid] = int(wire.get_str(reply, "response"), 16)
            except (HeflError, ValueError) as error:
                log.warning("multi-key: client %d's response is refused: %s", cid, error)
        return self.server.finish(responses)

    def _finalise(self, grid: RecordingGrid, g: int) -> np.ndarray:
        """Commit the transcript, let every client check it and vote, conclude at the quorum."""
        self.party.commit(g)
        blobs = committed_blobs(self.ledger, self.party.blobs, g)
        votes = self._exchange(
            grid,
            {cid: {"round": g, "blobs": blobs} for cid in self.clients},
            record=wire.RECORD,
            kind=MessageType.EVALUATE,
        )
        log.info(
            "multi-key: ledger round %d votes %s", g, {c: v.get("vote") for c, v in votes.items()}
        )
        record = wait_for_decision(self.ledger, g, self.spec.reply_timeout_s)
        if record.status is not RoundStatus.FINALISED:
            raise AgentError(
                f"ledger round {g} ended {record.status.name.lower()}, not finalised; the job "
                "stops so that nothing builds on an unverified aggregate"
            )
        return self.party.conclude(g).model

    def run_round(
        self, grid: RecordingGrid, r: int, model: np.ndarray, iteration: int
    ) -> MultiKeyRound:
        """One FedAvg round; each attempt a ledger round, restarts over the clients that did
        everything (§4.2), the voided attempts left on chain."""
        server, spec = self.server, self.spec
        online = set(server.public_keys) & set(self.sizes)
        total = sum(self.sizes_on_chain.values())
        global_blob = encode_plain_vector(model)
        voided: list[int] = []
        for attempt in range(DEFAULT_MAX_ATTEMPTS):
            g = self.party.open_round(global_blob, iteration, spec.tau)
            offer = server.begin_round(r, online, model, attempt=attempt)
            common = {"stage": ENCRYPT, "round": r, "attempt": attempt, "ledger-round": g,
                      "pk_s": hex(offer.pk_s), "tau": spec.tau, "eta": spec.eta,
                      "ridge": spec.ridge, "total-size": total}  # fmt: skip
            replies = self._exchange(
                grid, {cid: {**common, "model": offer.models[cid]} for cid in sorted(online)}
            )
            for cid, reply in replies.items():
                try:  # stored under their hashes; only those the chain names are read back
                    self.party.blobs.put(wire.get_bytes(reply, "ciphertext"))
                    self.party.blobs.put(wire.get_bytes(reply, "extra"))
                except HeflError as error:
                    log.warning("multi-key: client %d's reply lacks its blobs: %s", cid, error)
            messages = self._messages_on_chain(g, online)
            try:
                summed = self._sum(grid, r, attempt, online)
            except RoundRestartRequired as restart:
                self.party.void(g, f"round {r} restarts: {restart}")
                voided.append(g)
                online = set(restart.remaining)
                continue
            self.strategy.settle((messages[cid] for cid in sorted(online)), summed)
            next_model = self._finalise(grid, g)
            return MultiKeyRound(
                r, tuple(sorted(online)), attempt + 1, next_model, g, tuple(voided)
            )
        raise ProtocolError(f"round {r} did not complete in {DEFAULT_MAX_ATTEMPTS} attempts")

    def _summarise(self, finished: MultiKeyRound, iteration: int, began: float) -> None:
        record = self.ledger.get_round(finished.ledger_round)
        train_loss = test_loss = float("nan")
        if self.evaluator is not None:
            train_loss, test_loss = self.evaluator.losses(finished.model)
        self.summaries.append(
            RoundSummary(
                round=finished.ledger_round,
                iteration=iteration,
                tau=self.spec.tau,
                train_loss=train_loss,
                test_loss=test_loss,
                phi=None,
                omega=None,
                status=record.status.name.lower(),
                attested=record.attest_count,
                disputed=record.dispute_count,
                seconds=time.perf_counter() - began,
            )
        )

    def start(self, grid: Grid) -> RecordingGrid:
        """Identities, KeyGen and the rounds; returns the recording of every message the server
        received. A failure stops the job (kept in :attr:`error`); the rounds done stay."""
        recording = RecordingGrid(grid)
        self.recording = recording
        model, iteration = np.zeros(self.n_params), 0
        try:
            self.identify(recording)
            self.setup(recording)
            for r in range(self.spec.rounds):
                began = time.perf_counter()
                finished = self.run_round(recording, r, model, iteration)
                iteration += self.spec.tau
                self.rounds.append(finished)
                model = self.model = finished.model
                self._summarise(finished, iteration, began)
        except HeflError as error:  # a lone client (LoneClientError), no quorum, a restart loop…
            log.error("multi-key: the job stopped: %s", error)
            self.error = error
        return recording

    def trace(self) -> Trace:
        """The job as hefl's round loop reports it (losses before the first round included)."""
        initial = (float("nan"),) * 2
        if self.evaluator is not None:
            initial = self.evaluator.losses(np.zeros(self.n_params))
        return Trace(
            initial_train_loss=float(initial[0]),
            initial_test_loss=float(initial[1]),
            rounds=tuple(self.summaries),
            model=self.model,
        )


# --- the job: prepared before the first message, run by the ServerApp -----------------------------
def prepare_multikey_job(
    spec: MultiKeySpec,
    chain: Chain,
    root: Path,
    password: str,
    data: PreparedData,
    *,
    data_description: Mapping[str, Any] | None = None,
    fund_wei: int = FUND_WEI,
) -> PreparedJob:
    """The agents' directories, SysGen (SysPara and α_j kept 0600 in the party's directory) and
    the ledger, as :func:`hefl.flower.setup.prepare_job` lays them out; the configuration
    document describes the ``secagg-multikey`` strategy and names SysPara's fingerprint."""
    root = Path(root)
    if len(data.parts) != spec.clients:
        raise ConfigError(f"the split has {len(data.parts)} parts for {spec.clients} clients")
    party, identities = create_agents(chain, root, password, data, fund_wei=fund_wei)
    with warnings.catch_warnings():
        if spec.allow_insecure:
            warnings.simplefilter("ignore")
        server = MultiKeyServer.sys_gen(
            data.model_size,
            spec.clients,
            Quantiser(spec.clip, spec.scale),
            kappa1=spec.kappa1,
            q_bits=spec.q_bits,
            allow_insecure=spec.allow_insecure,
        )
    secrets = {"para": server.para.to_json(), "alphas": [hex(a) for a in server.secret_alphas]}
    seal_secret(
        root / PARTY_DIR / SERVER_FILE,
        SERVER_FILE_TYPE,
        json.dumps(secrets).encode(),
        password,
        keystore=root / PARTY_DIR / KEYSTORE,
        public={"syspara": "0x" + server.para.fingerprint().hex()},
    )
    strategy = SecureAggregationStrategy("multikey", spec.learning, sizes=data.sizes)
    initial_hash = LocalBlobStore(root / BLOBS_DIR).put(strategy.initial_model(data.model_size))
    document = {
        "format": JOB_FORMAT,
        "mode": "flower",
        "job": asdict(spec),
        "data": dict(data_description or {}),
        "strategy": strategy.describe(),
        "model_size": data.model_size,
        "data_sizes": list(data.sizes),
        "initial_model_hash": "0x" + initial_hash.hex(),
        SYSPARA_FIELD: "0x" + server.para.fingerprint().hex(),
    }
    # The ledger's public-key hash fixes SysPara's modulus p (the group every pk_i lives in).
    job = deploy_job(chain, root, party, identities, data, document, PublicKey(server.para.group.p))
    return PreparedJob(root, job, data)


def load_multikey_server(
    party_dir: Path, job: JobFile, spec: MultiKeySpec, password: str
) -> MultiKeyServer:
    """The party's SysGen output from its directory (encrypted at rest under the party's
    password), checked against the job's fingerprint."""
    plain = open_secret(
        party_dir / SERVER_FILE, SERVER_FILE_TYPE, password, "multi-key server file"
    )
    try:
        secrets = json.loads(plain)
        para = _syspara(str(secrets["para"]), spec.allow_insecure)
        alphas = [int(a, 16) for a in secrets["alphas"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(
            f"{party_dir / SERVER_FILE} is not a multi-key server file: {error}"
        ) from None
    if job.config.get(SYSPARA_FIELD) != "0x" + para.fingerprint().hex():
        raise ConfigError(f"{party_dir / SERVER_FILE} holds another job's SysPara")
    return MultiKeyServer(para, alphas)


def run_multikey_party(grid: Grid, config: Mapping[str, Any]) -> MultiKeyFedAvg:
    """The ServerApp's main: load the party and SysGen's output, run the job, write the run's
    files (``out``) as ``hefl run`` does."""
    party_dir = Path(str(config[wire.RUN_PARTY_DIR]))
    job = JobFile.load(str(config.get(wire.RUN_JOB_FILE) or party_dir))
    chain = connect_rpc(str(config[wire.RUN_RPC_URL]))
    password = read_password(config.get(wire.RUN_PASSWORD_FILE) or None)
    party_address = chain.add_keystore(party_dir / KEYSTORE, password)
    ledger = LedgerClient.at(chain, job.ledger, sender=party_address)
    job.check(ledger)
    spec = MultiKeySpec(**job.config["job"])
    server = load_multikey_server(party_dir, job, spec, password)
    evaluator_path = config.get(wire.RUN_EVALUATOR)
    evaluator = Evaluator.load(Path(str(evaluator_path)), spec.ridge) if evaluator_path else None
    strategy = MultiKeyTranscript(spec.learning, job.config["data_sizes"])
    blobs = LocalBlobStore(str(config[wire.RUN_BLOBS]))
    fedavg = MultiKeyFedAvg(
        spec, server, ComputingPartyAgent(strategy, ledger, blobs), evaluator=evaluator
    )
    fedavg.start(grid)
    export_party_run(config, party_dir, job, ledger, fedavg.trace(), fedavg.model, fedavg.error)
    return fedavg


# --- the wrapped ClientApp's learning ---------------------------------------------------------
def weighted_update(model: np.ndarray, part: Any, config: ConfigRecord) -> np.ndarray:
    """v_i = (|D_i|/|D|)·(w_i − w), w_i after τ local steps of Eq. 4 from w (FedAvg's weight)."""
    tau, total = wire.get_int(config, "tau"), wire.get_int(config, "total-size")
    eta, ridge = wire.get_float(config, "eta"), wire.get_float(config, "ridge")
    local = linear.local_steps(model, part.X, part.y, eta, tau, ridge)
    return (local - model) * (part.size / total)


#: An extension point of the multi-key ClientApp: (node config, round, v_i) → the v_i it hands the
#: mod. None in hefl's app; the tests make clients drop out with it (it raises).
MultiKeyHook = Callable[[dict[str, Any], int, np.ndarray], np.ndarray]


def build_multikey_apps(
    overrides: Mapping[str, Any] | None = None, *, update_hook: MultiKeyHook | None = None
) -> tuple[ServerApp, ClientApp]:
    """A ServerApp running :class:`MultiKeyFedAvg` and a ClientApp wrapped in :func:`multikey_mod`
    whose ``train`` handler is plain FedAvg on the node's own data, ``query`` the job check and
    ``evaluate`` the replica's vote (:mod:`hefl.flower.client`)."""
    fixed = dict(overrides or {})
    allow = bool(fixed.get(RUN_ALLOW_INSECURE, False))
    client_app = ClientApp(mods=[make_multikey_mod(allow_insecure=allow, overrides=fixed)])
    server_app = ServerApp()

    def participant(context: Context) -> client.Participant:
        run_config = {**dict(context.run_config), **fixed}
        return client.load_participant(run_config, dict(context.node_config))

    def reply(message: Message, payload: dict[str, Any]) -> Message:
        return Message(wire.record(payload), reply_to=message)

    @client_app.query()
    def query(message: Message, context: Context) -> Message:
        return reply(message, client.identity_reply(participant(context)))

    @client_app.train()
    def train(message: Message, context: Context) -> Message:
        part = participant(context).part
        records: dict[str, Any] = {METRICS: MetricRecord({NUM_EXAMPLES: part.size})}
        content = message.content
        if MODEL in content.array_records:
            config = content.config_records[CONFIG]
            (model,) = content.array_records[MODEL].to_numpy_ndarrays()
            update = weighted_update(model, part, config)
            if update_hook is not None:
                update = update_hook(
                    dict(context.node_config), wire.get_int(config, "round"), update
                )
            records[UPDATE] = ArrayRecord([update])
        return Message(RecordDict(records), reply_to=message)

    @client_app.evaluate()
    def evaluate(message: Message, context: Context) -> Message:
        payload = wire.payload(message)
        g, blobs = wire.get_int(payload, "round"), wire.get_bytes_list(payload, "blobs")
        return reply(message, client.verify(participant(context), g, blobs))

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        LAST_MULTIKEY.append(run_multikey_party(grid, {**dict(context.run_config), **fixed}))

    return server_app, client_app


#: The multi-key strategy of the last ServerApp run in this process (simulation engine).
LAST_MULTIKEY: list[MultiKeyFedAvg] = []
