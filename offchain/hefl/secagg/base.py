"""One harness for secure aggregation: a strategy interface and four schemes behind it.

A round, whatever the scheme (:func:`run_round` drives it)::

    scheme.setup(n_params, n_clients)                 once: keys, SysPara, …
    scheme.begin_round(round_index, online, model)    the server fixes the online set S
    msg_i = scheme.client_encrypt(i, ∇_i)             each client of S, bytes on the wire
    Σ ∇_i = scheme.aggregate({i: msg_i}, answering)   the server, over the clients that answer

Schemes (registry :data:`SCHEMES`, by name):

- ``plaintext`` — FedAvg/FedSGD baseline: float64 vectors in the clear, summed.
- ``paillier`` — per-element Paillier (PCFL [32] of the multi-key paper): every quantised
  coordinate its own ciphertext under the server's Paillier key; n ciphertexts per client.
- ``packed-paillier`` — BatchCrypt-style: quantised coordinates in b-bit slots (b = bits of N·2Q,
  so N additions never carry into the next slot), ⌊(|n|−1)/b⌋ slots per Paillier plaintext.
- ``multikey`` — Yang et al. (:mod:`hefl.secagg.multikey`): ⌈n/k⌉ + 2 ciphertexts per client,
  each client under its own key, only the server decrypts, the lone client aborts.

The Paillier baselines use hefl's engine (:mod:`hefl.crypto`: DJN short-exponent encryption of
residues, CRT decryption in parallel batches) through its raw residue API, on the quantised
coordinates. Key ownership: the server holds the Paillier key pair (as hefl's
computing party does), so they measure the cost of encrypting, aggregating and decrypting but do
not hide individual vectors from the server. PCFL splits the key among the clients with threshold
secret sharing (extra partial decryptions on top of these costs) and BatchCrypt lets the clients
hold it; the arithmetic is the same. Only ``multikey`` is a secure aggregation against the server.

All three encrypted schemes share one :class:`~hefl.secagg.quantise.Quantiser` (same clip bound and
scale), so they are compared at the same precision: their sums differ from the exact float sum by at
most |S|/(2s) per coordinate.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from gmpy2 import mpz

from hefl.crypto.keys import PrivateKey, PublicKey, generate_keypair
from hefl.errors import (
    ConfigError,
    InsecureKeyWarning,
    ProtocolError,
    RoundRestartRequired,
    SerializationError,
)
from hefl.secagg.multikey import (
    DEFAULT_KAPPA1,
    DEFAULT_Q_BITS,
    GroupParams,
    MultiKeyClient,
    MultiKeyServer,
    SuperIncreasingVector,
)
from hefl.secagg.quantise import Quantiser
from hefl.secagg.wire import decode_frame, encode_frame, frame_size, int_width, message_hash

#: Default Paillier modulus size for the baselines (bits of n).
DEFAULT_PAILLIER_BITS = 2048
#: Attempts of one round before :func:`run_round` gives up (multi-key restarts after dropouts).
DEFAULT_MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class SchemeSetup:
    """What ``setup`` returns: the sizes and a few scheme-specific facts for reports."""

    scheme: str
    n_params: int
    n_clients: int
    ciphertexts_per_client: int
    message_bytes: int
    details: Mapping[str, Any] = field(default_factory=dict)


class SecureAggregationScheme(ABC):
    """The strategy interface every aggregation scheme implements (simulates its clients).

    ``setup`` must be called first. ``begin_round`` fixes the online set; ``client_encrypt``
    produces one client's wire message; ``aggregate`` returns the float64 sum over the clients in
    ``online`` (default: every sender). A scheme that cannot finish without a client that sent
    nothing or did not answer raises :class:`RoundRestartRequired` (only ``multikey`` does).
    """

    name: ClassVar[str] = "scheme"

    def __init__(self, quantiser: Quantiser | None = None) -> None:
        self.quantiser = quantiser or Quantiser()
        self.n_params = 0
        self.n_clients = 0
        self.round_index = 0
        self.attempt = 0
        self.online: frozenset[int] = frozenset()

    # --- interface ----------------------------------------------------------------------------
    @abstractmethod
    def setup(self, n_params: int, n_clients: int) -> SchemeSetup:
        """Generate keys/parameters for ``n_clients`` clients and vectors of ``n_params``."""

    def begin_round(
        self,
        round_index: int,
        online: Collection[int],
        model: np.ndarray | None = None,
        *,
        attempt: int = 0,
    ) -> None:
        """Fix the online set S of a round (and, for ``multikey``, pk_S and W_i*)."""
        self._require_setup()
        members = frozenset(online)
        bad = [c for c in members if not 0 <= c < self.n_clients]
        if bad:
            raise ConfigError(f"unknown client ids {sorted(bad)}; ids are 0 … {self.n_clients - 1}")
        self.round_index, self.attempt, self.online = round_index, attempt, members

    @abstractmethod
    def client_encrypt(self, client_id: int, vector: np.ndarray) -> bytes:
        """Client ``client_id``'s message for the current round."""

    @abstractmethod
    def aggregate(
        self, messages: Mapping[int, bytes], online: Collection[int] | None = None
    ) -> np.ndarray:
        """The server's result: Σ ∇_i over the answering clients, float64."""

    @abstractmethod
    def message_size(self) -> int:
        """Bytes one client uploads per round (exact; messages have fixed size)."""

    @abstractmethod
    def ciphertexts_per_client(self) -> int:
        """Number of ciphertexts (or plain vectors: 0) one client uploads per round."""

    def tolerance(self, count: int) -> float:
        """Largest |result − exact float sum| per coordinate for ``count`` unclipped vectors."""
        return self.quantiser.tolerance(count)

    # --- helpers ------------------------------------------------------------------------------
    def _require_setup(self) -> None:
        if self.n_params <= 0:
            raise ProtocolError(f"{self.name}: call setup(n_params, n_clients) first")

    def _check_setup_args(self, n_params: int, n_clients: int) -> None:
        if not isinstance(n_params, int) or n_params < 1:
            raise ConfigError(f"n_params must be a positive integer, got {n_params!r}")
        if not isinstance(n_clients, int) or n_clients < 2:
            raise ConfigError(f"n_clients must be an integer ≥ 2, got {n_clients!r}")
        self.n_params, self.n_clients = n_params, n_clients

    def _check_vector(self, client_id: int, vector: np.ndarray) -> np.ndarray:
        self._require_setup()
        if client_id not in self.online:
            raise ProtocolError(f"client {client_id} is not in the online set of this round")
        x = np.asarray(vector, dtype=np.float64)
        if x.shape != (self.n_params,):
            raise ConfigError(f"client {client_id}: vector shape {x.shape} != ({self.n_params},)")
        return x

    def _select(
        self, messages: Mapping[int, bytes], online: Collection[int] | None
    ) -> dict[int, bytes]:
        self._require_setup()
        chosen = set(messages) if online is None else set(online) & set(messages)
        if not chosen:
            raise ProtocolError(f"{self.name}: no message from an answering client to aggregate")
        return {cid: messages[cid] for cid in sorted(chosen)}

    def _check_header(self, frame_client: int, frame_round: int, cid: int) -> None:
        if frame_client != cid or frame_round != self.round_index:
            raise SerializationError(
                f"message filed under client {cid} claims client {frame_client}, round "
                f"{frame_round} (current round {self.round_index})"
            )


# --- plaintext FedAvg -------------------------------------------------------------------------
class PlaintextScheme(SecureAggregationScheme):
    """FedAvg/FedSGD baseline: the vector in the clear (float64, 8 bytes per parameter)."""

    name = "plaintext"
    MAGIC = b"HFPT"

    def setup(self, n_params: int, n_clients: int) -> SchemeSetup:
        self._check_setup_args(n_params, n_clients)
        return SchemeSetup(self.name, n_params, n_clients, 0, self.message_size())

    def client_encrypt(self, client_id: int, vector: np.ndarray) -> bytes:
        x = self._check_vector(client_id, vector)
        ints = x.astype(">f8").view(">u8").tolist()
        return encode_frame(self.MAGIC, self.round_index, self.attempt, client_id, [(ints, 8)])

    def aggregate(
        self, messages: Mapping[int, bytes], online: Collection[int] | None = None
    ) -> np.ndarray:
        total = np.zeros(self.n_params)
        for cid, msg in self._select(messages, online).items():
            frame = decode_frame(msg, self.MAGIC, [(self.n_params, 8)])
            self._check_header(frame.client_id, frame.round_index, cid)
            x = np.array(frame.groups[0], dtype=np.uint64).astype(">u8").view(">f8")
            if not np.all(np.isfinite(x)):
                raise SerializationError(f"client {cid}: vector contains NaN or infinity")
            total += x.astype(np.float64)
        return total

    def message_size(self) -> int:
        return frame_size([(self.n_params, 8)])

    def ciphertexts_per_client(self) -> int:
        return 0

    def tolerance(self, count: int) -> float:
        return 1e-9 * max(count, 1)


# --- Paillier baselines -------------------------------------------------------------------------
class _PaillierScheme(SecureAggregationScheme):
    """Shared key handling: the server owns the Paillier key pair, clients hold the public key."""

    MAGIC: ClassVar[bytes] = b"HFPX"

    def __init__(
        self,
        quantiser: Quantiser | None = None,
        *,
        key_bits: int = DEFAULT_PAILLIER_BITS,
        allow_insecure: bool = False,
    ) -> None:
        super().__init__(quantiser)
        self.key_bits = key_bits
        self.allow_insecure = allow_insecure
        self._pub: PublicKey | None = None
        self._priv: PrivateKey | None = None

    def _keygen(self) -> None:
        with warnings.catch_warnings():
            if self.allow_insecure:
                warnings.simplefilter("ignore", InsecureKeyWarning)
            self._pub, self._priv = generate_keypair(
                self.key_bits, allow_insecure=self.allow_insecure
            )

    def _keys(self) -> tuple[PublicKey, PrivateKey]:
        if self._pub is None or self._priv is None:
            raise ProtocolError(f"{self.name}: call setup(n_params, n_clients) first")
        return self._pub, self._priv

    @property
    def _n(self) -> mpz:
        return self._keys()[0].n

    @property
    def _width(self) -> int:
        return int_width(int(self._n) ** 2)

    def _encrypt_all(self, client_id: int, residues: list[int]) -> bytes:
        cts = self._keys()[0].encrypt_ints(residues)
        return encode_frame(
            self.MAGIC, self.round_index, self.attempt, client_id, [(cts, self._width)]
        )

    def _sum_ciphertexts(self, messages: dict[int, bytes], count: int) -> list[mpz]:
        pk = self._keys()[0]
        n2 = pk.nsquare
        acc = [mpz(1)] * count
        for cid, msg in messages.items():
            frame = decode_frame(msg, self.MAGIC, [(count, self._width)])
            self._check_header(frame.client_id, frame.round_index, cid)
            for i, c in enumerate(frame.groups[0]):
                c = mpz(c)
                if not pk.is_ciphertext(c):
                    raise SerializationError(
                        f"client {cid}: ciphertext {i} is not a unit mod n²; tampered or corrupt"
                    )
                acc[i] = acc[i] * c % n2
        return acc

    def _decrypt(self, cts: list[mpz]) -> list[int]:
        return [int(m) for m in self._keys()[1].decrypt_ints(cts)]

    def message_size(self) -> int:
        return frame_size([(self.ciphertexts_per_client(), self._width)])


class PerElementPaillierScheme(_PaillierScheme):
    """PCFL-style: each quantised coordinate x̂_j ∈ [0, 2Q] its own Paillier ciphertext.

    [[Σ x̂_j]] = Π_i [[x̂_ij]] mod n²; the server decrypts n sums and removes |S|·Q.
    """

    name = "paillier"
    MAGIC = b"HFPE"

    def setup(self, n_params: int, n_clients: int) -> SchemeSetup:
        self._check_setup_args(n_params, n_clients)
        self._keygen()
        if self.quantiser.sum_bound(n_clients) >= self._n:
            raise ConfigError("N·2Q does not fit the Paillier plaintext space; lower the scale")
        return SchemeSetup(
            self.name,
            n_params,
            n_clients,
            n_params,
            self.message_size(),
            {"key_bits": self.key_bits},
        )

    def client_encrypt(self, client_id: int, vector: np.ndarray) -> bytes:
        x = self._check_vector(client_id, vector)
        return self._encrypt_all(client_id, self.quantiser.encode(x).tolist())

    def aggregate(
        self, messages: Mapping[int, bytes], online: Collection[int] | None = None
    ) -> np.ndarray:
        chosen = self._select(messages, online)
        sums = self._decrypt(self._sum_ciphertexts(chosen, self.n_params))
        return self.quantiser.decode_sum(sums, len(chosen))

    def ciphertexts_per_client(self) -> int:
        return self.n_params


class PackedPaillierScheme(_PaillierScheme):
    """BatchCrypt-style packing: k' quantised slots of b bits in one Paillier plaintext.

    b = bit length of N·2Q (so the sum of N slot values never carries into the next slot) and
    k' = the largest count with Σ_{j<k'} 2^{bj}·N·2Q < n; a vector needs ⌈n_params/k'⌉
    ciphertexts. Negative values use the quantiser's offset instead of BatchCrypt's two's
    complement with sign bits; the slot arithmetic is the same.
    """

    name = "packed-paillier"
    MAGIC = b"HFPP"

    def setup(self, n_params: int, n_clients: int) -> SchemeSetup:
        self._check_setup_args(n_params, n_clients)
        self._keygen()
        bound = self.quantiser.sum_bound(n_clients)
        k = min(SuperIncreasingVector.capacity(bound, int(self._n)), n_params)
        self._slots = SuperIncreasingVector.geometric(k, bound)
        return SchemeSetup(
            self.name,
            n_params,
            n_clients,
            self.ciphertexts_per_client(),
            self.message_size(),
            {"key_bits": self.key_bits, "slots": k},
        )

    def ciphertexts_per_client(self) -> int:
        return math.ceil(self.n_params / self._slots.k)

    def client_encrypt(self, client_id: int, vector: np.ndarray) -> bytes:
        x = self._check_vector(client_id, vector)
        ints = self.quantiser.encode(x).tolist()
        k = self._slots.k
        packed = [self._slots.pack(ints[i : i + k]) for i in range(0, self.n_params, k)]
        return self._encrypt_all(client_id, packed)

    def aggregate(
        self, messages: Mapping[int, bytes], online: Collection[int] | None = None
    ) -> np.ndarray:
        chosen = self._select(messages, online)
        u = self.ciphertexts_per_client()
        sums = self._decrypt(self._sum_ciphertexts(chosen, u))
        k = self._slots.k
        out = np.empty(self.n_params, dtype=np.int64)
        for j, value in enumerate(sums):
            lo, hi = j * k, min((j + 1) * k, self.n_params)
            out[lo:hi] = self._slots.unpack(value, hi - lo)
        return self.quantiser.decode_sum(out, len(chosen))


# --- Yang et al. multi-key --------------------------------------------------------------------
class MultiKeyScheme(SecureAggregationScheme):
    """Yang et al.'s multi-private-key scheme, server and clients simulated in one process.

    ``aggregate(messages, online)`` runs ChelGen, asks every client of ``online`` for its
    response T_i = R^{sk_i}, and finishes Agg/Dec/Algorithm 2. Clients of S outside ``online``
    (they did not answer the challenge) make the server raise :class:`RoundRestartRequired`;
    :func:`run_round` then restarts the round over the remaining clients.
    """

    name = "multikey"

    def __init__(
        self,
        quantiser: Quantiser | None = None,
        *,
        kappa1: int = DEFAULT_KAPPA1,
        q_bits: int = DEFAULT_Q_BITS,
        allow_insecure: bool = False,
        group: GroupParams | None = None,
    ) -> None:
        super().__init__(quantiser)
        self.kappa1 = kappa1 if group is None else group.kappa1
        self.q_bits = q_bits
        self.allow_insecure = allow_insecure
        self.group = group
        self.server: MultiKeyServer | None = None
        self.clients: dict[int, MultiKeyClient] = {}

    def setup(self, n_params: int, n_clients: int) -> SchemeSetup:
        self._check_setup_args(n_params, n_clients)
        with warnings.catch_warnings():
            if self.allow_insecure:
                warnings.simplefilter("ignore")
            self.server = MultiKeyServer.sys_gen(
                n_params,
                n_clients,
                self.quantiser,
                kappa1=self.kappa1,
                q_bits=self.q_bits,
                allow_insecure=self.allow_insecure,
                group=self.group,
            )
        para = self.server.para
        self.clients = {i: MultiKeyClient.key_gen(i, para) for i in range(n_clients)}
        for cid, client in self.clients.items():
            self.server.register(cid, client.pk)
        return SchemeSetup(
            self.name,
            n_params,
            n_clients,
            self.ciphertexts_per_client(),
            self.message_size(),
            {"kappa1": para.group.kappa1, "q_bits": para.group.q.bit_length(), "k": para.k},
        )

    def _server(self) -> MultiKeyServer:
        if self.server is None:
            raise ProtocolError("multikey: call setup(n_params, n_clients) first")
        return self.server

    def begin_round(
        self,
        round_index: int,
        online: Collection[int],
        model: np.ndarray | None = None,
        *,
        attempt: int = 0,
    ) -> None:
        super().begin_round(round_index, online, model, attempt=attempt)
        offer = self._server().begin_round(round_index, self.online, model, attempt=attempt)
        for cid in sorted(self.online):
            client = self.clients[cid]
            client.begin_round(round_index, offer.pk_s, attempt=attempt)
            if model is not None:
                client.dse(offer.models[cid])

    def client_encrypt(self, client_id: int, vector: np.ndarray) -> bytes:
        x = self._check_vector(client_id, vector)
        return self.clients[client_id].enc(x)

    def aggregate(
        self, messages: Mapping[int, bytes], online: Collection[int] | None = None
    ) -> np.ndarray:
        server = self._server()
        for cid in sorted(messages):
            ct = server.receive(messages[cid])
            if ct.client_id != cid:
                raise SerializationError(f"message filed under client {cid} claims {ct.client_id}")
        challenge = server.chel_gen()
        answering = set(messages) if online is None else set(online) & set(messages)
        responses = {cid: self.clients[cid].res_gen(challenge) for cid in sorted(answering)}
        return server.finish(responses)

    def message_size(self) -> int:
        return self._server().para.message_size

    def ciphertexts_per_client(self) -> int:
        return self._server().para.segments + 2


#: Registry: scheme name → class.
SCHEMES: dict[str, type[SecureAggregationScheme]] = {
    cls.name: cls
    for cls in (PlaintextScheme, PerElementPaillierScheme, PackedPaillierScheme, MultiKeyScheme)
}


def make_scheme(name: str, **options: Any) -> SecureAggregationScheme:
    """Instantiate a scheme by its registry name (options go to its constructor)."""
    try:
        cls = SCHEMES[name]
    except KeyError:
        raise ConfigError(
            f"unknown secure-aggregation scheme {name!r}; choose from {sorted(SCHEMES)}"
        ) from None
    return cls(**options)


@dataclass(frozen=True)
class RoundResult:
    """The outcome of :func:`run_round`."""

    total: np.ndarray
    online: frozenset[int]
    attempts: int
    message_hashes: Mapping[int, bytes]


def run_round(
    scheme: SecureAggregationScheme,
    round_index: int,
    vectors: Mapping[int, np.ndarray],
    *,
    responders: Collection[int] | None = None,
    model: np.ndarray | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> RoundResult:
    """Run one round over the clients in ``vectors``; those outside ``responders`` drop out.

    Clients that do not answer are removed and the round restarts over the rest (multikey), or
    are simply left out of the sum (the other schemes); the result is the sum over the clients
    that completed the round. ``message_hashes`` (keccak256 of each accepted message) is what the
    ledger records.
    """
    online = set(vectors)
    for attempt in range(max_attempts):
        scheme.begin_round(round_index, online, model, attempt=attempt)
        messages = {cid: scheme.client_encrypt(cid, vectors[cid]) for cid in sorted(online)}
        answering = online if responders is None else online & set(responders)
        try:
            total = scheme.aggregate(messages, answering)
        except RoundRestartRequired as exc:
            online = set(exc.remaining)
            continue
        return RoundResult(
            total,
            frozenset(answering),
            attempt + 1,
            {cid: message_hash(messages[cid]) for cid in sorted(answering)},
        )
    raise ProtocolError(f"round {round_index} did not complete within {max_attempts} attempts")
