"""Typed client for the ``PowLedger`` contract (``contracts/PowLedger.sol``).

The chain of the notes' four-node example: data owners broadcast gradient hashes, aggregators
race for each block with a proof of work checked on chain (the puzzle and the retarget rule are
:mod:`hefl.pow.puzzle`; the mode is :mod:`hefl.pow`). This module holds only the contract client:
deployment, reads, transactions and events.

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

from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address

from hefl.chain.artifact import LedgerArtifact, load_pow_artifact
from hefl.chain.contract import ContractClient, TxResult, plain_value, to_hash32
from hefl.chain.contract import checksum_address as _address
from hefl.chain.node import Chain
from hefl.errors import ConfigError

#: Nonces are uint64 on chain.
MAX_NONCE = (1 << 64) - 1


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
    "enum IPowLedger.Role": Role,
    "enum IPowLedger.HashField": PowHashField,
}


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
    code = chain.code(_address(address, "contract address"))
    return bool(code) and (artifact or load_pow_artifact()).matches_runtime_code(code)


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
        """``getBlock(t)``: the ``BlockView`` struct, decoded as one tuple in its field order."""
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
        """The contract's own digest (a cross-check of :func:`hefl.pow.puzzle.pow_digest`)."""
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
    blocks' target (see :func:`hefl.pow.puzzle.difficulty_to_target`); ``retarget_interval``
    k > 0 retargets every k blocks towards ``target_block_time`` seconds per block.
    """
    artifact = artifact or load_pow_artifact()
    sender = _address(deployer, "deployer")
    args = (
        [_address(o, f"owner {i}") for i, o in enumerate(owners)],
        [_address(a, f"aggregator {i}") for i, a in enumerate(aggregators)],
        to_hash32(genesis_model_hash, "genesis model hash"),
        to_hash32(config_hash, "config hash"),
        int(initial_target),
        int(target_block_time),
        int(retarget_interval),
    )
    return PowLedgerClient._deployed(
        chain, sender, artifact, args, rule=" (target uint256, times uint32)"
    )
