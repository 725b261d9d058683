"""Agents: the plaintext core (state, private randomness, update) and the encrypted agent around it.

:class:`AgentCore` is everything agent i computes in the clear: its state x_i, its private random
stream (seeded (seed, i)), Q(x_i), its weights a_{i→j}(k), its stepsize factor u_i(k), its
stochastic gradient, and the update. The draws of iteration k happen in one fixed order in
:meth:`AgentCore.begin`, so the encrypted run and the integer emulation (which both drive cores)
see the same numbers.

:class:`Agent` adds the cryptography: its OWN Paillier key pair and its neighbours' public keys —
never another private key, never another agent's state. What it ever holds of a neighbour j is
j's public key, j's request ciphertexts (under j's key), j's responses (under i's key) and, after
decrypting, the weighted differences A_{j→i}·(X_j − X_i) (``last_view``). Every received message
is checked (key fingerprint, canonical bytes, length, declared bound, iteration, sender) before
anything changes; a bad one raises :class:`~hefl.errors.DsoMessageError` and the iteration is
not applied (the state, the iteration counter and the pending draws stay as they were).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hefl.crypto import EncryptedVector, PrivateKey, PublicKey
from hefl.dso.config import DsoConfig
from hefl.dso.problems import LocalObjective
from hefl.dso.protocol import (
    REQUEST,
    RESPONSE,
    Message,
    OpCounts,
    PackingLayout,
    pack,
    packing_layout,
    transcript_hash,
    unpack,
)
from hefl.dso.quantise import quantise
from hefl.dso.update import UpdateRule, make_update_rule
from hefl.errors import DsoMessageError, HeflError, StateBoundError


@dataclass(frozen=True)
class IterationDraws:
    """Agent i's private numbers for iteration k (drawn once, reused if k is retried)."""

    k: int
    X: tuple[int, ...]
    weights: Mapping[int, tuple[int, ...]]
    u: np.ndarray
    gradient: np.ndarray


class AgentCore:
    """Agent i in the clear: see the module docstring."""

    def __init__(
        self,
        index: int,
        neighbours: Sequence[int],
        local: LocalObjective,
        config: DsoConfig,
        initial_state: np.ndarray,
        rule: UpdateRule | None = None,
    ) -> None:
        self.index = index
        self.neighbours = tuple(sorted(neighbours))
        self.local = local
        self.config = config
        self.rule = rule or make_update_rule(config)
        self.x = np.array(initial_state, dtype=np.float64)
        self.k = 0
        self._rng = np.random.default_rng([config.seed, index])
        self._pending: IterationDraws | None = None

    @property
    def d(self) -> int:
        return int(self.x.shape[0])

    def begin(self, k: int) -> IterationDraws:
        """Draw (once) Q(x_i(k)), a_{i→j}(k) for each neighbour, u_i(k) and g_i(x_i(k), ξ_i(k))."""
        if self._pending is not None and self._pending.k == k:
            return self._pending
        if k != self.k:
            raise DsoMessageError(f"agent {self.index} is at iteration {self.k}, not {k}")
        c = self.config
        largest = float(np.max(np.abs(self.x)))
        if not largest <= c.state_bound:
            raise StateBoundError(
                f"agent {self.index} at iteration {k}: |x| = {largest:g} exceeds state_bound "
                f"{c.state_bound:g}; raise --state-bound or lower the stepsizes"
            )
        d, rng = self.d, self._rng
        uniforms = rng.random(d)
        big_x = quantise(self.x, c.state_bits, uniforms, c.rounding)
        drawn = rng.integers(c.weight_min, c.weight_max + 1, (len(self.neighbours), d)).tolist()
        weights = {j: tuple(row) for j, row in zip(self.neighbours, drawn, strict=True)}
        low, high = c.stepsize_range
        u = rng.uniform(low, high, d if c.diagonal_stepsizes else 1)
        if c.equal_stepsizes:
            u = np.ones_like(u)
        gradient = self.local.gradient(self.x, rng)
        self._pending = IterationDraws(k, tuple(big_x), weights, u, gradient)
        return self._pending

    def finish(self, k: int, delta_sum: Sequence[int]) -> np.ndarray:
        """Apply step 5 with the integer Σ_j Δ_ij; returns the new state."""
        draws = self.begin(k)
        new = self.rule.step(self.x, delta_sum, k, draws.gradient, draws.u)
        if not np.all(np.isfinite(new)):
            raise StateBoundError(f"agent {self.index} at iteration {k}: the state is not finite")
        self.x = new
        self.k = k + 1
        self._pending = None
        return new


@dataclass(frozen=True)
class CheckpointRecord:
    """What agent i commits at a checkpoint: its transcript hash and its encrypted state."""

    agent: int
    checkpoint: int
    last_iteration: int
    transcript_hash: bytes
    state_blob: bytes

    @property
    def state_hash(self) -> bytes:
        from hefl.crypto import keccak256

        return keccak256(self.state_blob)


class Agent:
    """Agent i with its own key pair, talking to neighbours only through :class:`Message` s."""

    def __init__(
        self,
        core: AgentCore,
        private_key: PrivateKey,
        neighbour_keys: Mapping[int, PublicKey],
        *,
        on_send: Callable[[Message], None] | None = None,
        on_receive: Callable[[Message], None] | None = None,
    ) -> None:
        if set(neighbour_keys) != set(core.neighbours):
            raise HeflError(f"agent {core.index} needs exactly its neighbours' public keys")
        self.core = core
        self._private_key = private_key
        self.neighbour_keys: dict[int, PublicKey] = dict(neighbour_keys)
        self.layout: PackingLayout = packing_layout(core.config, core.d)
        self.counts = OpCounts()
        self._digests: list[bytes] = []
        self._on_send = on_send
        self._on_receive = on_receive
        #: Agent i's view of the last iteration: {j: A_{j→i}·(X_j − X_i)} it decrypted.
        self.last_view: dict[int, tuple[int, ...]] = {}
        #: Its own weights A_{i→j} of the last applied iteration (to form Δ_ij from ``last_view``).
        self.last_weights: dict[int, tuple[int, ...]] = {}

    @property
    def index(self) -> int:
        return self.core.index

    @property
    def public_key(self) -> PublicKey:
        return self._private_key.public_key

    # --- step 1–3 ----------
    def requests(self, k: int) -> list[Message]:
        """⟦−X_i⟧_i for every neighbour (one encryption of d coordinates, sent deg(i) times)."""
        draws = self.core.begin(k)
        bound = self.core.config.state_int_bound
        vector = EncryptedVector.encrypt_ints(self.public_key, [-x for x in draws.X], bound=bound)
        self.counts.encryptions += len(vector)
        payload = vector.to_bytes()
        return [
            self._sent(Message(k, self.index, j, REQUEST, payload)) for j in self.core.neighbours
        ]

    def answer(self, message: Message) -> Message:
        """⟦A_{i→j}·(X_i − X_j)⟧_j from j's request ⟦−X_j⟧_j, packed and re-randomised."""
        self._received(message)
        j = self._check_envelope(message, REQUEST)
        draws = self.core.begin(message.iteration)
        request = self._decode(
            message, self.neighbour_keys[j], self.core.d, self.core.config.state_int_bound
        )
        weighted = request.add_plain_ints(list(draws.X)).mul_int(list(draws.weights[j]))
        self.counts.exponentiations += len(weighted)
        response = pack(weighted, self.layout).rerandomize()
        self.counts.rerandomizations += len(response)
        return self._sent(Message(message.iteration, self.index, j, RESPONSE, response.to_bytes()))

    def apply(self, k: int, responses: Sequence[Message]) -> np.ndarray:
        """Decrypt every neighbour's response, Δ_ij = A_{i→j}·v_ij, update. All or nothing."""
        for m in responses:
            self._received(m)
        draws = self.core.begin(k)
        by_sender: dict[int, Message] = {}
        for m in responses:
            j = self._check_envelope(m, RESPONSE)
            if m.iteration != k:
                raise DsoMessageError(
                    f"agent {self.index}: {m.describe()} is not for iteration {k}"
                )
            if j in by_sender:
                raise DsoMessageError(
                    f"agent {self.index}: two responses from {j} at iteration {k}"
                )
            by_sender[j] = m
        missing = set(self.core.neighbours) - set(by_sender)
        if missing:
            raise DsoMessageError(
                f"agent {self.index}: no response from {sorted(missing)} at iteration {k}"
            )
        layout = self.layout
        vectors = {
            j: self._decode(
                by_sender[j], self.public_key, layout.ciphertexts, layout.packed_bound(layout.slots)
            )
            for j in self.core.neighbours
        }
        joined = EncryptedVector.concat([vectors[j] for j in self.core.neighbours])
        try:
            plain = joined.decrypt_ints(self._private_key)
        except HeflError:  # a response decrypts outside its bound: name whose it was
            for j in self.core.neighbours:
                try:
                    vectors[j].decrypt_ints(self._private_key)
                except HeflError as error:
                    raise DsoMessageError(
                        f"agent {self.index} refused iteration {k} response {j}→{self.index}: it "
                        f"does not decrypt within its bound ({error}); iteration not applied"
                    ) from None
            raise
        self.counts.decryptions += len(joined)
        view: dict[int, tuple[int, ...]] = {}
        total = [0] * self.core.d
        c = layout.ciphertexts
        for pos, j in enumerate(self.core.neighbours):
            try:
                values = unpack(plain[pos * c : (pos + 1) * c], layout)
            except DsoMessageError as error:
                raise DsoMessageError(
                    f"agent {self.index}: response from {j} at iteration {k}: {error}"
                ) from None
            if any(abs(v) > layout.value_bound for v in values):
                raise DsoMessageError(
                    f"agent {self.index}: response from {j} at iteration {k} holds a value beyond "
                    f"the bound A_max·2·B_x = {layout.value_bound}; not applied"
                )
            view[j] = tuple(values)
            for pos_l, (a, v) in enumerate(zip(draws.weights[j], values, strict=True)):
                total[pos_l] += a * v
        self.last_view = view
        self.last_weights = dict(draws.weights)
        return self.core.finish(k, total)

    # --- checkpoints ----------
    def checkpoint(self, checkpoint: int) -> CheckpointRecord:
        """Hash of what this agent sent since the last checkpoint, and ⟦x_i⟧_i (scale S_x)."""
        c = self.core.config
        digest = transcript_hash(checkpoint, self.index, self._digests)
        state = EncryptedVector.encrypt(
            self.public_key, self.core.x, c.state_bits, value_bound=c.state_bound
        )
        self.counts.state_encryptions += len(state)
        self._digests = []
        return CheckpointRecord(self.index, checkpoint, self.core.k, digest, state.to_bytes())

    # --- plumbing ----------
    def _sent(self, message: Message) -> Message:
        self._digests.append(message.digest())
        if self._on_send is not None:
            self._on_send(message)
        return message

    def _received(self, message: Message) -> None:
        if self._on_receive is not None:
            self._on_receive(message)

    def _check_envelope(self, message: Message, kind: int) -> int:
        if message.recipient != self.index:
            raise DsoMessageError(f"agent {self.index} got a message for {message.recipient}")
        if message.kind != kind:
            raise DsoMessageError(
                f"agent {self.index}: expected a {('request', 'response')[kind]}, "
                f"got {message.describe()}"
            )
        if message.sender not in self.neighbour_keys:
            raise DsoMessageError(
                f"agent {self.index}: {message.describe()} is not from a "
                f"neighbour {list(self.core.neighbours)}"
            )
        return message.sender

    def _decode(self, message: Message, key: PublicKey, length: int, bound: int) -> EncryptedVector:
        owner = "its sender's" if message.kind == REQUEST else "the recipient's"
        try:
            vector = EncryptedVector.from_bytes(message.payload, key)
        except HeflError as error:
            raise DsoMessageError(
                f"agent {self.index} refused {message.describe()}: not a valid vector under "
                f"{owner} key ({error}); iteration not applied"
            ) from None
        if len(vector) != length or vector.scale_bits != 0 or vector.bound > bound:
            raise DsoMessageError(
                f"agent {self.index} refused {message.describe()}: expected {length} "
                f"ciphertexts at scale 0 with bound ≤ {bound}, got {len(vector)} at scale "
                f"{vector.scale_bits} "
                f"with bound {vector.bound}; iteration not applied"
            )
        return vector
