"""Typed client for the ``PowLedger`` contract (``contracts/PowLedger.sol``) and its puzzle.

The chain of the notes' four-node example: data owners broadcast gradient hashes, aggregators
race for each block with a proof of work checked on chain. A block for round t with previous model
hash p, new model hash m and nonce n, sent by aggregator a, is valid when

    uint256(keccak256(abi.encode(chainid, contract, t, p, m, a, n))) < target,

:func:`pow_digest` computes that digest exactly as the contract does, and :class:`PuzzleHeader`
precomputes the 192 bytes that do not depend on the nonce, so a miner hashes only
``header ‖ nonce``. The difficulty D = 2²⁵⁶ / target is the expected number of hashes per block
(each hash wins with probability target / 2²⁵⁶). :func:`retarget` mirrors the contract's
difficulty adjustment so that an auditor can re-derive every block's target.

One :class:`PowLedgerClient` per (deployment, sender), like :class:`~hefl.chain.LedgerClient` (both
:class:`~hefl.chain.contract.ContractClient`): every transaction is simulated first, a rule the
contract enforces surfaces as :class:`~hefl.errors.ContractRevertError` naming the custom error and
its decoded arguments.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode
from eth_typing import ChecksumAddress
from eth_utils import keccak, to_checksum_address

from hefl.chain.artifact import LedgerArtifact, load_pow_artifact
from hefl.chain.contract import ContractClient, TxResult, plain_value, to_hash32
from hefl.chain.contract import checksum_address as _address
from hefl.chain.node import Chain
from hefl.errors import ConfigError

#: 2²⁵⁶: the digest space; target = 2²⁵⁶ / difficulty.
DIGEST_SPACE = 1 << 256
#: Largest target the contract can hold.
MAX_TARGET = DIGEST_SPACE - 1
#: Nonces are uint64 on chain.
MAX_NONCE = (1 << 64) - 1
#: Clamp of one retarget step: the target moves by at most this factor either way.
RETARGET_CLAMP = 4

_DIGEST_TYPES = ["uint256", "address", "uint256", "bytes32", "bytes32", "address", "uint64"]


class Role(enum.IntEnum):
    """``PowLedger.Role``."""

    NONE = 0
    OWNER = 1
    AGGREGATOR = 2


class PowHashField(enum.IntEnum):
    """``PowLedger.HashField``: which hash argument a ``ZeroHash`` error is about."""

    GENESIS_MODEL = 0
    CONFIG = 1
    GRADIENT = 2
    NEW_MODEL = 3


_ENUMS: dict[str, type[enum.IntEnum]] = {
    "enum PowLedger.Role": Role,
    "enum PowLedger.HashField": PowHashField,
}


# --- the puzzle -----------------------------------------------------------------------------------
def difficulty_to_target(difficulty: float) -> int:
    """target = ⌊2²⁵⁶ / D⌋ for an expected D hashes per block (D ≥ 1)."""
    if not difficulty >= 1:
        raise ConfigError(f"difficulty must be ≥ 1 expected hash per block, got {difficulty}")
    return max(1, min(MAX_TARGET, int(DIGEST_SPACE / difficulty)))


def target_to_difficulty(target: int) -> float:
    """D = 2²⁵⁶ / target: the expected number of hashes to find a valid nonce."""
    if target < 1:
        raise ConfigError(f"target must be ≥ 1, got {target}")
    return DIGEST_SPACE / target


@dataclass(frozen=True)
class PuzzleHeader:
    """The nonce-independent part of a block's proof-of-work preimage.

    ``abi.encode`` pads every argument to 32 bytes, so the preimage is
    ``header (6 × 32 bytes) ‖ nonce (32 bytes, big-endian)`` and a miner hashes only that.
    """

    chain_id: int
    contract: ChecksumAddress
    round: int
    previous_model_hash: bytes
    new_model_hash: bytes
    aggregator: ChecksumAddress

    @property
    def prefix(self) -> bytes:
        full = abi_encode(
            _DIGEST_TYPES,
            [
                self.chain_id,
                self.contract,
                self.round,
                self.previous_model_hash,
                self.new_model_hash,
                self.aggregator,
                0,
            ],
        )
        return full[:-32]

    def digest(self, nonce: int) -> bytes:
        return keccak(self.prefix + nonce.to_bytes(32, "big"))


def pow_digest(
    chain_id: int,
    contract: str,
    round: int,
    previous_model_hash: bytes | str,
    new_model_hash: bytes | str,
    aggregator: str,
    nonce: int,
) -> bytes:
    """keccak256(abi.encode(chainid, contract, round, previous, new, aggregator, nonce))."""
    header = PuzzleHeader(
        chain_id=chain_id,
        contract=_address(contract, "contract"),
        round=round,
        previous_model_hash=to_hash32(previous_model_hash, "previous model hash"),
        new_model_hash=to_hash32(new_model_hash, "new model hash"),
        aggregator=_address(aggregator, "aggregator"),
    )
    return header.digest(nonce)


def meets_target(digest: bytes, target: int) -> bool:
    """Whether the digest, read as a big-endian uint256, is below the target."""
    return int.from_bytes(digest, "big") < target


def retarget(target: int, observed_s: int, interval: int, block_time_s: int) -> int:
    """The contract's difficulty adjustment after every k-th block (see ``PowLedger.sol``).

    With expected E = k·T seconds for k blocks and the observed time s clamped to [⌈E/4⌉, 4E]:
    target' = ⌊target · s / E⌋, kept within [1, 2²⁵⁶ − 1]. Blocks came too fast (s < E) → lower
    target → more hashes per block; the ceiling keeps a step within a factor 4 also when E is not
    a multiple of 4.
    """
    expected = interval * block_time_s
    if expected <= 0:
        raise ConfigError(f"retargeting needs k·T > 0, got k={interval}, T={block_time_s}")
    low = -(-expected // RETARGET_CLAMP)  # ⌈E/4⌉
    clamped = min(max(observed_s, low), expected * RETARGET_CLAMP)
    return max(1, min(MAX_TARGET, target * clamped // expected))


# --- records --------------------------------------------------------------------------------------
ZERO_ADDRESS = to_checksum_address("0x" + "00" * 20)


@dataclass(frozen=True)
class PowBlockRecord:
    """Block t of the chain (``PowLedger.getBlock``); block 0 is the genesis (no winner)."""

    round: int
    winner: ChecksumAddress
    nonce: int
    timestamp: int
    model_hash: bytes
    target: int

    @property
    def is_genesis(self) -> bool:
        return self.round == 0

    @property
    def difficulty(self) -> float:
        return target_to_difficulty(self.target)

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "winner": None if self.is_genesis else self.winner,
            "nonce": self.nonce,
            "timestamp": self.timestamp,
            "model_hash": "0x" + self.model_hash.hex(),
            "target": hex(self.target),
        }

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> PowBlockRecord:
        return cls(
            round=int(entry["round"]),
            winner=to_checksum_address(entry["winner"] or ZERO_ADDRESS),
            nonce=int(entry["nonce"]),
            timestamp=int(entry["timestamp"]),
            model_hash=bytes.fromhex(entry["model_hash"][2:]),
            target=int(entry["target"], 16),
        )


@dataclass(frozen=True)
class PowParams:
    """The chain's fixed parameters (immutables and the initial target)."""

    config_hash: bytes
    target_block_time: int
    retarget_interval: int
    initial_target: int


# --- the client -----------------------------------------------------------------------------------
def is_pow_ledger(chain: Chain, address: str, artifact: LedgerArtifact | None = None) -> bool:
    """Whether the code at ``address`` is this build's PowLedger."""
    code = chain.w3.eth.get_code(_address(address, "contract address"))
    return bool(code) and (artifact or load_pow_artifact()).matches_runtime_code(bytes(code))


class PowLedgerClient(ContractClient):
    """Typed access to one deployed ``PowLedger``, sending transactions from ``sender``."""

    CONTRACT = "PowLedger"
    ENUMS = _ENUMS
    ADDRESS_WHAT = "PowLedger address"

    @classmethod
    def default_artifact(cls) -> LedgerArtifact:
        return load_pow_artifact()

    # --- transactions -----------------------------------------------------------------------------
    def submit_gradient(self, round: int, gradient_hash: bytes | str) -> TxResult:
        """Broadcast this owner's gradient hash for the open round."""
        return self._transact("submitGradient", round, to_hash32(gradient_hash, "gradient hash"))

    def submit_block(
        self,
        round: int,
        previous_model_hash: bytes | str,
        new_model_hash: bytes | str,
        nonce: int,
    ) -> TxResult:
        """Propose block ``round`` with a proof-of-work ``nonce`` (aggregators only)."""
        if not 0 <= nonce <= MAX_NONCE:
            raise ConfigError(f"nonce {nonce} is outside uint64")
        return self._transact(
            "submitBlock",
            round,
            to_hash32(previous_model_hash, "previous model hash"),
            to_hash32(new_model_hash, "new model hash"),
            nonce,
        )

    # --- views ------------------------------------------------------------------------------------
    def owners(self) -> tuple[ChecksumAddress, ...]:
        return tuple(to_checksum_address(a) for a in self._call("owners"))

    def aggregators(self) -> tuple[ChecksumAddress, ...]:
        return tuple(to_checksum_address(a) for a in self._call("aggregators"))

    def member_of(self, address: str) -> tuple[Role, int]:
        role, index = self._call("memberOf", _address(address))
        return Role(role), int(index)

    def config_hash(self) -> bytes:
        return bytes(self._call("configHash"))

    def target_block_time(self) -> int:
        return int(self._call("targetBlockTime"))

    def retarget_interval(self) -> int:
        return int(self._call("retargetInterval"))

    def max_members(self) -> int:
        return int(self._call("MAX_MEMBERS"))

    def params(self) -> PowParams:
        return PowParams(
            config_hash=self.config_hash(),
            target_block_time=self.target_block_time(),
            retarget_interval=self.retarget_interval(),
            initial_target=self.get_block(0).target,
        )

    def current_round(self) -> int:
        return int(self._call("currentRound"))

    def gradient_count(self) -> int:
        return int(self._call("gradientCount"))

    def current_target(self) -> int:
        return int(self._call("currentTarget"))

    def window_start(self) -> int:
        return int(self._call("windowStart"))

    def head_model_hash(self) -> bytes:
        return bytes(self._call("headModelHash"))

    def get_block(self, round: int) -> PowBlockRecord:
        winner, nonce, timestamp, model_hash, target = self._call("getBlock", round)
        return PowBlockRecord(
            round=round,
            winner=to_checksum_address(winner),
            nonce=int(nonce),
            timestamp=int(timestamp),
            model_hash=bytes(model_hash),
            target=int(target),
        )

    def blocks(self) -> tuple[PowBlockRecord, ...]:
        """Every block, the genesis first."""
        return tuple(self.get_block(t) for t in range(self.current_round()))

    def get_gradient(self, round: int, owner: str) -> bytes:
        return bytes(self._call("getGradient", round, _address(owner, "owner")))

    def gradients(self, round: int) -> tuple[bytes, ...]:
        """The owners' gradient hashes for ``round``, in owner order (zero where missing)."""
        return tuple(self.get_gradient(round, o) for o in self.owners())

    def pow_digest(
        self,
        round: int,
        previous_model_hash: bytes | str,
        new_model_hash: bytes | str,
        aggregator: str,
        nonce: int,
    ) -> bytes:
        """The contract's own digest (a cross-check of :func:`pow_digest`)."""
        return bytes(
            self._call(
                "powDigest",
                round,
                to_hash32(previous_model_hash),
                to_hash32(new_model_hash),
                _address(aggregator),
                nonce,
            )
        )

    def _event_arg(self, event: str, arg: str, value: Any) -> Any:
        if event == "MemberRegistered" and arg == "role":
            return Role(value)
        return plain_value(value)


def deploy_pow_ledger(
    chain: Chain,
    deployer: str,
    owners: Sequence[str],
    aggregators: Sequence[str],
    genesis_model_hash: bytes | str,
    config_hash: bytes | str,
    *,
    initial_target: int,
    target_block_time: int = 0,
    retarget_interval: int = 0,
    artifact: LedgerArtifact | None = None,
) -> PowLedgerClient:
    """Deploy a new ``PowLedger`` from ``deployer``; return its client sending as the deployer.

    ``owners`` fixes the order in which gradients are summed. ``initial_target`` is the first
    blocks' target (see :func:`difficulty_to_target`); ``retarget_interval`` k > 0 retargets every
    k blocks towards ``target_block_time`` seconds per block.
    """
    artifact = artifact or load_pow_artifact()
    sender = _address(deployer, "deployer")
    factory = chain.w3.eth.contract(abi=artifact.abi_list, bytecode=artifact.bytecode)
    try:
        data = factory.constructor(
            [_address(o, f"owner {i}") for i, o in enumerate(owners)],
            [_address(a, f"aggregator {i}") for i, a in enumerate(aggregators)],
            to_hash32(genesis_model_hash, "genesis model hash"),
            to_hash32(config_hash, "config hash"),
            int(initial_target),
            int(target_block_time),
            int(retarget_interval),
        ).data_in_transaction
    except ConfigError:
        raise
    except Exception as error:
        raise ConfigError(
            f"PowLedger constructor arguments do not fit (target uint256, times uint32): {error}"
        ) from error
    return PowLedgerClient._deployed(chain, sender, artifact, data)
