"""The PowLedger puzzle and its difficulty adjustment, exactly as ``contracts/PowLedger.sol``.

A block for round t with previous model hash p, new model hash m and nonce n, sent by aggregator
a, is valid when

    uint256(keccak256(abi.encode(chainid, contract, t, p, m, a, n))) < target,

:func:`pow_digest` computes that digest exactly as the contract does, and :class:`PuzzleHeader`
precomputes the 192 bytes that do not depend on the nonce, so a miner (:mod:`hefl.pow.miner`)
hashes only ``header ‖ nonce``. The difficulty D = 2²⁵⁶ / target is the expected number of hashes
per block (each hash wins with probability target / 2²⁵⁶). :func:`retarget` mirrors the contract's
difficulty adjustment so that an auditor (:mod:`hefl.pow.audit`) can re-derive every block's
target. The contract client is :mod:`hefl.chain.pow_ledger`.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import encode as abi_encode
from eth_typing import ChecksumAddress

from hefl.canonical import keccak256
from hefl.chain.contract import checksum_address, to_hash32
from hefl.errors import ConfigError

#: 2²⁵⁶: the digest space; target = 2²⁵⁶ / difficulty.
DIGEST_SPACE = 1 << 256
#: Largest target the contract can hold.
MAX_TARGET = DIGEST_SPACE - 1
#: Clamp of one retarget step: the target moves by at most this factor either way.
RETARGET_CLAMP = 4

_DIGEST_TYPES = ["uint256", "address", "uint256", "bytes32", "bytes32", "address", "uint64"]


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
        return keccak256(self.prefix + nonce.to_bytes(32, "big"))


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
        contract=checksum_address(contract, "contract"),
        round=round,
        previous_model_hash=to_hash32(previous_model_hash, "previous model hash"),
        new_model_hash=to_hash32(new_model_hash, "new model hash"),
        aggregator=checksum_address(aggregator, "aggregator"),
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
