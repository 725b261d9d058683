"""Yang et al.'s multi-key secure aggregation on Flower: each client's side runs on the client.

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

Every message the ServerApp receives passes through :class:`RecordingGrid`, so a test can assert
what the server ever saw. Threat model as in :mod:`hefl.secagg.multikey`: an honest-but-curious
server; clients refuse to answer twice in one attempt and check every group element they get.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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

from hefl.agents.identity import load_data
from hefl.data.prepare import Part
from hefl.errors import (
    ConfigError,
    HeflError,
    LoneClientError,
    ProtocolError,
    RoundRestartRequired,
)
from hefl.flower import client, wire
from hefl.learning import linear
from hefl.secagg.base import DEFAULT_MAX_ATTEMPTS
from hefl.secagg.multikey import (
    DEFAULT_KAPPA1,
    DEFAULT_Q_BITS,
    MultiKeyClient,
    MultiKeyServer,
    SysPara,
)
from hefl.secagg.quantise import Quantiser

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


def _setup(
    message: Message, context: Context, call_next: Callable[[Message, Context], Message],
    config: ConfigRecord, allow_insecure: bool,
) -> dict[str, Any]:  # fmt: skip
    """KeyGen on the client; sk_i stays in the node's state. Replies pk_i and |D_i|."""
    text = wire.get_str(config, "para")
    para = _syspara(text, allow_insecure)
    client = MultiKeyClient.key_gen(wire.get_int(config, "client_id"), para)
    size = _num_examples(_inner(message, context, call_next, RecordDict()))
    _ClientState(client.client_id, text, hex(client.secret_key)).save(context)
    return {"pk": hex(client.pk), "size": size}


def _encrypt(
    message: Message, context: Context, call_next: Callable[[Message, Context], Message],
    config: ConfigRecord, allow_insecure: bool,
) -> dict[str, Any]:  # fmt: skip
    """Lone-client check, DSE, the wrapped ClientApp's update, Enc. Replies E(v̂_i) only."""
    state = _ClientState.load(context)
    client = state.client(allow_insecure)
    round_index, attempt = wire.get_int(config, "round"), wire.get_int(config, "attempt")
    pk_s = wire.get_str(config, "pk_s")
    client.begin_round(round_index, int(pk_s, 16), attempt=attempt)
    model = client.dse(wire.get_bytes(config, "model"))
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
    ciphertext = client.enc(np.asarray(update, dtype=np.float64))
    content.array_records.clear()  # the plaintext update never leaves the client
    state.pk_s, state.round, state.attempt = pk_s, round_index, attempt
    state.save(context)
    return {"ciphertext": ciphertext}


def _respond(
    message: Message, context: Context, call_next: Callable[[Message, Context], Message],
    config: ConfigRecord, allow_insecure: bool,
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
    client = state.client(allow_insecure)
    client.begin_round(round_index, int(state.pk_s, 16), attempt=attempt)
    response = client.res_gen(int(wire.get_str(config, "challenge"), 16))
    state.answered = [*state.answered[-7:], tag]
    state.save(context)
    return {"response": hex(response)}


_STAGES = {SETUP: _setup, ENCRYPT: _encrypt, RESPOND: _respond}


def make_multikey_mod(*, allow_insecure: bool = False) -> Mod:
    """The clients' side of the multi-key protocol as a Flower mod (see the module docstring).

    ``allow_insecure`` (or ``multikey-allow-insecure`` in the node's or the run's config): accept
    SysPara below 2048 bits (tests, the paper's κ1 = 512). Messages that are not TRAIN messages of
    this protocol pass through to the ClientApp.
    """

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
        options = {**context.run_config, **context.node_config}
        allow = allow_insecure or bool(options.get(RUN_ALLOW_INSECURE, False))
        payload = _STAGES[stage](message, context, call_next, config, allow)
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
    """A multi-key FedAvg job on Flower.

    Attributes:
        clients: SuperNodes to wait for (N of SysGen).
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


@dataclass(frozen=True)
class MultiKeyRound:
    """One finished round: who was in S, after how many attempts, and the model after it."""

    round: int
    included: tuple[int, ...]
    attempts: int
    model: np.ndarray


class MultiKeyFedAvg:
    """The server: SysGen, then per round AggPKGen/SE, ChelGen, Agg/Dec (see the module doc)."""

    def __init__(self, spec: MultiKeySpec, n_params: int) -> None:
        self.spec = spec
        self.n_params = n_params
        self.server: MultiKeyServer | None = None
        self.clients: dict[int, int] = {}  # client index → node id
        self.sizes: dict[int, int] = {}
        self.rounds: list[MultiKeyRound] = []
        self.recording: RecordingGrid | None = None

    def _messages(self, payloads: dict[int, dict[str, Any]]) -> list[Message]:
        return [
            Message(
                RecordDict({RECORD: ConfigRecord(payload)}),
                dst_node_id=self.clients[cid],
                message_type=MessageType.TRAIN,
                ttl=self.spec.reply_timeout_s + 60,
            )
            for cid, payload in sorted(payloads.items())
        ]

    def _exchange(
        self, grid: RecordingGrid, payloads: dict[int, dict[str, Any]]
    ) -> dict[int, ConfigRecord]:
        """Send one message per client; the usable replies by client index (errors logged)."""
        by_node = {node: cid for cid, node in self.clients.items()}
        replies: dict[int, ConfigRecord] = {}
        for reply in grid.send_and_receive(
            self._messages(payloads), timeout=self.spec.reply_timeout_s
        ):
            cid = by_node.get(reply.metadata.src_node_id)
            if cid is None:
                continue
            if reply.has_error():
                log.warning(
                    "multi-key: client %d replied with an error: %s", cid, reply.error.reason
                )
                continue
            if RECORD in reply.content.config_records:
                replies[cid] = reply.content.config_records[RECORD]
        return replies

    def setup(self, grid: RecordingGrid) -> MultiKeyServer:
        """SysGen, then each client's KeyGen on its own node; registers the pk_i that came back."""
        deadline = time.monotonic() + self.spec.reply_timeout_s
        while len(nodes := sorted(grid.get_node_ids())) < self.spec.clients:
            if time.monotonic() > deadline:
                raise ProtocolError(
                    f"only {len(nodes)} of {self.spec.clients} SuperNodes connected"
                )
            time.sleep(0.1)
        self.clients = dict(enumerate(nodes[: self.spec.clients]))
        with warnings.catch_warnings():
            if self.spec.allow_insecure:
                warnings.simplefilter("ignore")
            server = MultiKeyServer.sys_gen(
                self.n_params,
                len(self.clients),
                Quantiser(self.spec.clip, self.spec.scale),
                kappa1=self.spec.kappa1,
                q_bits=self.spec.q_bits,
                allow_insecure=self.spec.allow_insecure,
            )
        para = server.para.to_json()
        replies = self._exchange(
            grid, {cid: {"stage": SETUP, "para": para, "client_id": cid} for cid in self.clients}
        )
        for cid, reply in replies.items():
            try:
                server.register(cid, int(wire.get_str(reply, "pk"), 16))
                self.sizes[cid] = wire.get_int(reply, "size")
            except (HeflError, ValueError) as error:
                log.warning("multi-key: client %d's key is refused: %s", cid, error)
        self.server = server
        return server

    def run_round(self, grid: RecordingGrid, round_index: int, model: np.ndarray) -> MultiKeyRound:
        """One FedAvg round; restarts over the clients that did everything (§4.2)."""
        server = self.server
        assert server is not None
        online = set(server.public_keys) & set(self.sizes)
        total = sum(self.sizes.values())
        spec = self.spec
        for attempt in range(DEFAULT_MAX_ATTEMPTS):
            offer = server.begin_round(round_index, online, model, attempt=attempt)
            common = {"stage": ENCRYPT, "round": round_index, "attempt": attempt,
                      "pk_s": hex(offer.pk_s), "tau": spec.tau, "eta": spec.eta,
                      "ridge": spec.ridge, "total-size": total}  # fmt: skip
            replies = self._exchange(
                grid, {cid: {**common, "model": offer.models[cid]} for cid in sorted(online)}
            )
            for cid, reply in replies.items():
                try:
                    ciphertext = server.receive(wire.get_bytes(reply, "ciphertext"))
                    if ciphertext.client_id != cid:
                        raise ProtocolError(f"client {cid} sent client {ciphertext.client_id}'s")
                except HeflError as error:  # left out: the round restarts without it
                    log.warning("multi-key: client %d's ciphertext is refused: %s", cid, error)
            try:
                challenge = server.chel_gen()
                replies = self._exchange(
                    grid,
                    {
                        cid: {"stage": RESPOND, "round": round_index, "attempt": attempt,
                              "challenge": hex(challenge)}
                        for cid in sorted(online)
                    },
                )  # fmt: skip
                responses = {}
                for cid, reply in replies.items():
                    try:
                        responses[cid] = int(wire.get_str(reply, "response"), 16)
                    except (HeflError, ValueError) as error:
                        log.warning("multi-key: client %d's response is refused: %s", cid, error)
                summed = server.finish(responses)
            except RoundRestartRequired as restart:
                log.info(
                    "multi-key: round %d restarts without %s", round_index, sorted(restart.missing)
                )
                online = set(restart.remaining)
                continue
            included = sum(self.sizes[cid] for cid in online)
            next_model = model + summed * (total / included)
            return MultiKeyRound(round_index, tuple(sorted(online)), attempt + 1, next_model)
        raise ProtocolError(
            f"round {round_index} did not complete in {DEFAULT_MAX_ATTEMPTS} attempts"
        )

    def start(self, grid: Grid) -> RecordingGrid:
        """SysGen and the rounds; returns the recording of every message the server received."""
        recording = RecordingGrid(grid)
        self.setup(recording)
        model = np.zeros(self.n_params)
        for round_index in range(self.spec.rounds):
            try:
                finished = self.run_round(recording, round_index, model)
            except LoneClientError as error:
                log.error("multi-key: the job stops: %s", error)
                break
            self.rounds.append(finished)
            model = finished.model
        return recording


# --- the wrapped ClientApp's learning ---------------------------------------------------------
def weighted_update(model: np.ndarray, part: Part, config: ConfigRecord) -> np.ndarray:
    """v_i = (|D_i|/|D|)·(w_i − w), w_i after τ local steps of Eq. 4 from w (FedAvg's weight)."""
    tau, total = wire.get_int(config, "tau"), wire.get_int(config, "total-size")
    eta, ridge = wire.get_float(config, "eta"), wire.get_float(config, "ridge")
    local = linear.local_steps(model, part.X, part.y, eta, tau, ridge)
    return (local - model) * (part.size / total)


#: Job description in the run config: ``{"spec": MultiKeySpec fields, "n_params": |w|}``.
RUN_MULTIKEY = "multikey"


#: An extension point of the multi-key ClientApp: (node config, round, v_i) → the v_i it hands the
#: mod. None in hefl's app; the tests make clients drop out with it (it raises).
MultiKeyHook = Callable[[dict[str, Any], int, np.ndarray], np.ndarray]


def build_multikey_apps(
    overrides: dict[str, Any] | None = None, *, update_hook: MultiKeyHook | None = None
) -> tuple[ServerApp, ClientApp]:
    """A ServerApp running :class:`MultiKeyFedAvg` and a ClientApp wrapped in :func:`multikey_mod`
    whose ``train`` handler is plain FedAvg on the node's own data (``participant-dir`` or the
    simulation's partition, as :func:`hefl.flower.client.participant_directory`)."""
    fixed = dict(overrides or {})
    allow = bool(fixed.get(RUN_ALLOW_INSECURE, False))
    client_app = ClientApp(mods=[make_multikey_mod(allow_insecure=allow)])
    server_app = ServerApp()

    @client_app.train()
    def train(message: Message, context: Context) -> Message:
        run_config = {**dict(context.run_config), **fixed}
        node_config = dict(context.node_config)
        part = load_data(client.participant_directory(run_config, node_config))
        records: dict[str, Any] = {METRICS: MetricRecord({NUM_EXAMPLES: part.size})}
        content = message.content
        if MODEL in content.array_records:
            config = content.config_records[CONFIG]
            (model,) = content.array_records[MODEL].to_numpy_ndarrays()
            update = weighted_update(model, part, config)
            if update_hook is not None:
                update = update_hook(node_config, wire.get_int(config, "round"), update)
            records[UPDATE] = ArrayRecord([update])
        return Message(RecordDict(records), reply_to=message)

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        config = {**dict(context.run_config), **fixed}
        job = json.loads(str(config[RUN_MULTIKEY]))
        strategy = MultiKeyFedAvg(MultiKeySpec(**job["spec"]), int(job["n_params"]))
        strategy.recording = strategy.start(grid)
        LAST_MULTIKEY.append(strategy)

    return server_app, client_app


#: The multi-key strategy of the last ServerApp run in this process (simulation engine).
LAST_MULTIKEY: list[MultiKeyFedAvg] = []
