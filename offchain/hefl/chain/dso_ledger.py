"""Typed client for the ``DsoLedger`` contract (``contracts/DsoLedger.sol``): checkpoints of a
decentralised Paillier DSGD run (:mod:`hefl.dso`).

Every K iterations each registered agent commits the keccak256 of the transcript of the messages it
sent since its last checkpoint and the keccak256 of its encrypted state; the agents' Paillier key
fingerprints are fixed at deployment. Like every :class:`~hefl.chain.contract.ContractClient`, a
transaction is simulated first and a rule the contract enforces surfaces as
:class:`~hefl.errors.ContractRevertError` naming the custom error with its decoded arguments.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress

from hefl.chain.artifact import LedgerArtifact, load_artifact, repo_root
from hefl.chain.contract import ContractClient, TxResult, checksum_address, to_hash32
from hefl.chain.node import Chain

DSO_CONTRACT_NAME = "DsoLedger"
DSO_SOURCE_NAME = "contracts/DsoLedger.sol"
DSO_INTERFACE_SOURCE_NAME = "contracts/IDsoLedger.sol"
DSO_ARTIFACT_NAME = "contracts/build/DsoLedger.json"
#: Environment variable naming another DsoLedger artifact.
DSO_ARTIFACT_ENV = "HEFL_DSO_ARTIFACT"


def default_dso_artifact_path(root: Path | None = None) -> Path:
    """``contracts/build/DsoLedger.json`` under ``root`` (or ``$HEFL_DSO_ARTIFACT``)."""
    env = os.environ.get(DSO_ARTIFACT_ENV)
    if env and root is None:
        return Path(env)
    return (root or repo_root()) / DSO_ARTIFACT_NAME


def load_dso_artifact(path: Path | str | None = None) -> LedgerArtifact:
    """Read the DsoLedger build artifact (default: the committed one)."""
    return load_artifact(path if path is not None else default_dso_artifact_path())


class DsoHashField(enum.IntEnum):
    """``IDsoLedger.HashField``: which hash argument a ``ZeroHash`` error is about."""

    CONFIG = 0
    KEY_FINGERPRINT = 1
    TRANSCRIPT = 2
    STATE = 3


_ENUMS: dict[str, type[enum.IntEnum]] = {"enum IDsoLedger.HashField": DsoHashField}


@dataclass(frozen=True)
class DsoCommitment:
    """Agent ``index``'s commitment at checkpoint ``checkpoint``."""

    checkpoint: int
    index: int
    last_iteration: int
    transcript_hash: bytes
    state_hash: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "checkpoint": self.checkpoint,
            "index": self.index,
            "last_iteration": self.last_iteration,
            "transcript_hash": "0x" + self.transcript_hash.hex(),
            "state_hash": "0x" + self.state_hash.hex(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DsoCommitment:
        return cls(
            int(data["checkpoint"]),
            int(data["index"]),
            int(data["last_iteration"]),
            to_hash32(data["transcript_hash"], "transcript hash"),
            to_hash32(data["state_hash"], "state hash"),
        )


class DsoLedgerClient(ContractClient):
    """One DsoLedger deployment, sending from ``sender``."""

    CONTRACT = DSO_CONTRACT_NAME
    ENUMS = _ENUMS
    ADDRESS_WHAT = "DsoLedger address"

    @classmethod
    def default_artifact(cls) -> LedgerArtifact:
        return load_dso_artifact()

    # --- transactions -----------------------------------------------------------------------------
    def commit_checkpoint(
        self, checkpoint: int, transcript_hash: bytes | str, state_hash: bytes | str
    ) -> TxResult:
        """The sender's commitment at its next checkpoint."""
        return self._transact(
            "commitCheckpoint",
            checkpoint,
            to_hash32(transcript_hash, "transcript hash"),
            to_hash32(state_hash, "state hash"),
        )

    # --- views ------------------------------------------------------------------------------------
    def agents(self) -> tuple[ChecksumAddress, ...]:
        return tuple(checksum_address(a) for a in self._call("agents"))

    def key_fingerprints(self) -> tuple[bytes, ...]:
        return tuple(bytes(f) for f in self._call("keyFingerprints"))

    def agent_of(self, account: str) -> tuple[bool, int, int]:
        registered, index, committed = self._call("agentOf", checksum_address(account))
        return bool(registered), int(index), int(committed)

    def config_hash(self) -> bytes:
        return bytes(self._call("configHash"))

    def iterations(self) -> int:
        return int(self._call("iterations"))

    def interval(self) -> int:
        return int(self._call("interval"))

    def checkpoint_count(self) -> int:
        return int(self._call("checkpointCount"))

    def last_iteration(self, checkpoint: int) -> int:
        return int(self._call("lastIteration", checkpoint))

    def commit_count(self, checkpoint: int) -> int:
        return int(self._call("commitCount", checkpoint))

    def get_commitment(self, checkpoint: int, index: int) -> DsoCommitment:
        transcript, state = self._call("getCommitment", checkpoint, index)
        return DsoCommitment(
            checkpoint, index, self.last_iteration(checkpoint), bytes(transcript), bytes(state)
        )

    def commitments(self) -> list[DsoCommitment]:
        """Every commitment made so far, by checkpoint then agent index."""
        out = []
        n = len(self.agents())
        for c in range(1, self.checkpoint_count() + 1):
            if self.commit_count(c) == 0:
                continue
            for i in range(n):
                record = self.get_commitment(c, i)
                if any(record.transcript_hash):
                    out.append(record)
        return out

    def export(self) -> dict[str, Any]:
        """The whole ledger as JSON (what a run directory keeps of the embedded chain)."""
        return {
            "address": self.address,
            "chain_id": self.chain.chain_id,
            "config_hash": "0x" + self.config_hash().hex(),
            "iterations": self.iterations(),
            "interval": self.interval(),
            "agents": list(self.agents()),
            "key_fingerprints": ["0x" + f.hex() for f in self.key_fingerprints()],
            "commitments": [c.to_json() for c in self.commitments()],
        }


def deploy_dso_ledger(
    chain: Chain,
    deployer: str,
    agents: Sequence[str],
    key_fingerprints: Sequence[bytes | str],
    config_hash: bytes | str,
    iterations: int,
    interval: int,
    *,
    artifact: LedgerArtifact | None = None,
) -> DsoLedgerClient:
    """Deploy a DsoLedger from its committed artifact; the client sends from ``deployer``."""
    artifact = artifact or load_dso_artifact()
    args = (
        [checksum_address(a, "agent") for a in agents],
        [to_hash32(f, "key fingerprint") for f in key_fingerprints],
        to_hash32(config_hash, "config hash"),
        iterations,
        interval,
    )
    return DsoLedgerClient._deployed(chain, checksum_address(deployer, "deployer"), artifact, args)
