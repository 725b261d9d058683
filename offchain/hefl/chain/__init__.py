"""hefl.chain: the FLLedger contract's build artifact, a typed web3 client and the blob store.

- :func:`connect_embedded` / :func:`connect_rpc` give a :class:`Chain` (eth-tester/py-evm in
  process, or any JSON-RPC node such as Anvil).
- :func:`deploy_ledger` deploys ``contracts/FLLedger.sol`` from its committed artifact and returns a
  :class:`LedgerClient`; :meth:`LedgerClient.at` attaches to an existing deployment.
- :class:`LocalBlobStore` keeps the ciphertext blobs, keyed by the keccak256 that goes on chain.
- :class:`DeploymentRecord` is what ``hefl deploy`` writes.

Compiling (``hefl.chain.compile``) is separate: running hefl needs no Solidity compiler.
"""

from hefl.chain.artifact import LedgerArtifact, load_artifact
from hefl.chain.blobstore import BlobStore, LocalBlobStore, blob_hash
from hefl.chain.deployment import DeploymentRecord
from hefl.chain.ledger import (
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
    "RoundRecord",
    "RoundStatus",
    "SubmissionRecord",
    "TxResult",
    "blob_hash",
    "connect_embedded",
    "connect_rpc",
    "deploy_ledger",
    "fault_tolerance_for",
    "load_artifact",
    "quorum_for",
]
