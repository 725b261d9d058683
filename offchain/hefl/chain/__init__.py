"""hefl.chain: the FLLedger contract's build artifact, typed contract clients and the blob store.

- :func:`connect_embedded` / :func:`connect_rpc` give a :class:`Chain` (eth-tester/py-evm in
  process, or any JSON-RPC node such as Anvil), speaking raw JSON-RPC through one wire
  (:mod:`hefl.chain.wire`: requests counted, views cached; over HTTP without web3).
- :func:`deploy_ledger` deploys ``contracts/FLLedger.sol`` from its committed artifact and returns a
  :class:`LedgerClient`; :meth:`LedgerClient.at` attaches to an existing deployment.
- Both clients share their plumbing (:class:`~hefl.chain.contract.ContractClient`: calls, results,
  reverts and logs encoded and decoded with eth-abi from the artifact's ABI).
- :class:`LocalBlobStore` keeps the ciphertext blobs, keyed by the keccak256 that goes on chain.
- :class:`DeploymentRecord` is what ``hefl deploy`` writes.
- :func:`deploy_pow_ledger` / :class:`PowLedgerClient`: ``contracts/PowLedger.sol``, the
  proof-of-work chain of the notes' four-node example (:mod:`hefl.chain.pow_ledger`; the mode
  itself, its puzzle and its miners are :mod:`hefl.pow`).

Compiling (``hefl.chain.compile``) is separate: running hefl needs no Solidity compiler.
"""

from hefl.chain.artifact import LedgerArtifact, load_artifact
from hefl.chain.blobstore import BlobStore, LocalBlobStore, blob_hash
from hefl.chain.deployment import DeploymentRecord
from hefl.chain.fl_ledger import (
    ZERO_HASH,
    HashField,
    LedgerClient,
    LedgerEvent,
    ParticipantRecord,
    RoundRecord,
    RoundStatus,
    SubmissionRecord,
    TxResult,
    deploy_ledger,
    fault_tolerance_for,
    quorum_for,
)
from hefl.chain.node import Chain, connect_embedded, connect_rpc
from hefl.chain.pow_ledger import PowBlockRecord, PowLedgerClient, deploy_pow_ledger

__all__ = [
    "ZERO_HASH",
    "BlobStore",
    "Chain",
    "DeploymentRecord",
    "HashField",
    "LedgerArtifact",
    "LedgerClient",
    "LedgerEvent",
    "LocalBlobStore",
    "ParticipantRecord",
    "PowBlockRecord",
    "PowLedgerClient",
    "RoundRecord",
    "RoundStatus",
    "SubmissionRecord",
    "TxResult",
    "blob_hash",
    "connect_embedded",
    "connect_rpc",
    "deploy_ledger",
    "deploy_pow_ledger",
    "fault_tolerance_for",
    "load_artifact",
    "quorum_for",
]
