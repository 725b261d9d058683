"""Wire objects of the protocol: messages, their digests, the response packing, operation counts.

Iteration k, edge {i, j} (Ruan, Gao and Wang, IEEE TAC 2019, as issue 14 adapts it):

1. i sends REQUEST  ⟦−X_i⟧_i  (d ciphertexts under i's own key, one per coordinate);
2. j returns RESPONSE ⟦A_{j→i}·(X_j − X_i)⟧_i: it adds X_j as a plaintext, raises each coordinate to
   its own private weight, packs the coordinates (below) and re-randomises;
3. i decrypts and multiplies by A_{i→j}: Δ_ij = A_{i→j}·A_{j→i}·(X_j − X_i), an exact integer.

Packing. Paillier multiplies a whole plaintext by a scalar, so per-coordinate weights need one
ciphertext per coordinate in the request; the response, though, is only decrypted, so j folds its
d coordinates v_l (|v_l| ≤ V = A_max·2·B_x) into ⌈d/m⌉ ciphertexts of Σ_l v_l·B^l, B = 2^s with
V < B/2 (balanced base-B digits decode uniquely), m the most slots with V·(B^m − 1)/(B − 1) below
the smallest n/3 of a key of that size. Packing happens under i's key, before re-randomising, so i
decrypts exactly the same values A_{j→i,l}·(X_jl − X_il) as unpacked — a neighbour sees nothing
more or less; only the number of decryptions drops from 2|E|·d to 2|E|·⌈d/m⌉ per iteration.

Digests (what the ledger's transcript hashes are made of)::

    message digest  = keccak256("hefl/dso/msg/v1" ‖ k:uint64 ‖ from:uint32 ‖ to:uint32 ‖ kind:uint8
                                ‖ keccak256(payload))
    transcript hash = keccak256("hefl/dso/transcript/v1" ‖ checkpoint:uint64 ‖ agent:uint32
                                ‖ digest_1 ‖ … ‖ digest_m)      (messages the agent sent, in order)
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gmpy2

from hefl.crypto import EncryptedVector, keccak256
from hefl.dso.config import DsoConfig
from hefl.errors import DsoMessageError

REQUEST = 0
RESPONSE = 1
KIND_NAMES = {REQUEST: "request", RESPONSE: "response"}
MESSAGE_DOMAIN = b"hefl/dso/msg/v1"
TRANSCRIPT_DOMAIN = b"hefl/dso/transcript/v1"
_HEADER = struct.Struct(">QIIB")
_TRANSCRIPT_HEADER = struct.Struct(">QI")


@dataclass(frozen=True)
class Message:
    """One message on a directed edge: a serialised :class:`~hefl.crypto.EncryptedVector`."""

    iteration: int
    sender: int
    recipient: int
    kind: int
    payload: bytes

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.kind, f"kind {self.kind}")

    def describe(self) -> str:
        return f"iteration {self.iteration} {self.kind_name} {self.sender}→{self.recipient}"

    def digest(self) -> bytes:
        header = _HEADER.pack(self.iteration, self.sender, self.recipient, self.kind)
        return keccak256(MESSAGE_DOMAIN + header + keccak256(self.payload))

    def to_json(self) -> dict[str, Any]:
        return {
            "k": self.iteration,
            "from": self.sender,
            "to": self.recipient,
            "kind": self.kind,
            "payload": self.payload.hex(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        return cls(
            int(data["k"]),
            int(data["from"]),
            int(data["to"]),
            int(data["kind"]),
            bytes.fromhex(data["payload"]),
        )


def transcript_hash(checkpoint: int, agent: int, digests: Sequence[bytes]) -> bytes:
    """The hash an agent commits for checkpoint ``checkpoint`` (module docstring)."""
    header = _TRANSCRIPT_HEADER.pack(checkpoint, agent)
    return keccak256(TRANSCRIPT_DOMAIN + header + b"".join(digests))


# --- packing ----------
@dataclass(frozen=True)
class PackingLayout:
    """How a response's d coordinates share ciphertexts (same for every agent: public config)."""

    d: int
    value_bound: int
    slot_bits: int
    slots: int

    @property
    def ciphertexts(self) -> int:
        return math.ceil(self.d / self.slots)

    @property
    def base(self) -> int:
        return 1 << self.slot_bits

    def packed_bound(self, count: int) -> int:
        """Largest |Σ_{l<count} v_l·B^l|."""
        return self.value_bound * ((self.base**count - 1) // (self.base - 1))

    def chunks(self) -> list[range]:
        return [range(a, min(a + self.slots, self.d)) for a in range(0, self.d, self.slots)]


def packing_layout(config: DsoConfig, d: int) -> PackingLayout:
    """The layout for d coordinates under ``config`` (m = 1 when packing is off)."""
    v = config.response_bound
    slot_bits = v.bit_length() + 1  # V < 2^(s−1) = B/2
    capacity = ((1 << (config.key_bits - 1)) // 3) - 1  # the smallest n/3 − 1 of such a key
    slots = 1
    if config.pack:
        base = 1 << slot_bits
        while slots < d and v * ((base ** (slots + 1) - 1) // (base - 1)) <= capacity:
            slots += 1
    return PackingLayout(d=d, value_bound=v, slot_bits=slot_bits, slots=slots)


def pack(vector: EncryptedVector, layout: PackingLayout) -> EncryptedVector:
    """⟦Σ_l v_l·B^l⟧ per chunk, by Horner: acc ← acc^B · c_l (B = 2^s: s squarings)."""
    nsq = vector.public_key.nsquare
    cts = vector.ciphertexts
    out = []
    for chunk in layout.chunks():
        acc = cts[chunk[-1]]
        for c in reversed(chunk[:-1]):
            acc = gmpy2.powmod(acc, layout.base, nsq) * cts[c] % nsq
        out.append(acc)
    return EncryptedVector(vector.public_key, out, 0, layout.packed_bound(layout.slots))


def unpack(values: Sequence[int], layout: PackingLayout) -> list[int]:
    """The d signed slot values from the decrypted packed integers (balanced base-B digits)."""
    out: list[int] = []
    base, half = layout.base, layout.base // 2
    for value, chunk in zip(values, layout.chunks(), strict=True):
        rest = int(value)
        for _ in chunk:
            digit = rest % base
            if digit >= half:
                digit -= base
            out.append(digit)
            rest = (rest - digit) // base
        if rest != 0:
            raise DsoMessageError(
                f"a packed response holds more than {len(chunk)} slots of {layout.slot_bits} bits"
            )
    return out


# --- operation counts ----------
@dataclass
class OpCounts:
    """Paillier operations an agent (or a run) performed, per kind (ciphertexts, not vectors)."""

    encryptions: int = 0
    rerandomizations: int = 0
    decryptions: int = 0
    state_encryptions: int = 0
    exponentiations: int = 0

    def add(self, other: OpCounts) -> None:
        self.encryptions += other.encryptions
        self.rerandomizations += other.rerandomizations
        self.decryptions += other.decryptions
        self.state_encryptions += other.state_encryptions
        self.exponentiations += other.exponentiations

    def to_json(self) -> dict[str, int]:
        return {
            "encryptions": self.encryptions,
            "rerandomizations": self.rerandomizations,
            "decryptions": self.decryptions,
            "state_encryptions": self.state_encryptions,
            "exponentiations": self.exponentiations,
        }

    @classmethod
    def from_json(cls, data: dict[str, int]) -> OpCounts:
        return cls(**{k: int(data[k]) for k in cls().to_json()})


def expected_counts(n: int, directed_edges: int, layout: PackingLayout) -> dict[str, int]:
    """Per iteration: N·d encryptions of requests, 2|E|·⌈d/m⌉ re-randomised responses (counted as
    encryptions too, the issue's (N + 2|E|)·d when unpacked) and 2|E|·⌈d/m⌉ decryptions."""
    d, c = layout.d, layout.ciphertexts
    return {
        "encryptions": n * d,
        "rerandomizations": directed_edges * c,
        "decryptions": directed_edges * c,
        "exponentiations": directed_edges * d,
        "unpacked_encryptions": (n + directed_edges) * d,
        "unpacked_decryptions": directed_edges * d,
    }
