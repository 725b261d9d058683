"""What travels in Flower's messages, and the blob store a ClientApp keeps for one message.

Every hefl message carries one :class:`flwr.app.ConfigRecord` under :data:`RECORD` whose values
are plain scalars and ``bytes`` (ciphertext blobs in their canonical form, :mod:`hefl.crypto.
serialize`). Nothing is trusted for being in a message: each blob is looked up by the hash the
ledger holds (:meth:`hefl.chain.BlobStore.get` checks it), so a message only saves the download.
"""

from __future__ import annotations

from hefl.chain import BlobStore
from hefl.errors import BlobNotFoundError

#: Key of the ConfigRecord that holds hefl's payload in every message.
RECORD = "hefl"
#: Run-config keys (``[tool.flwr.app.config]`` or ``flwr run --run-config``).
RUN_JOB_FILE = "job-file"
RUN_RPC_URL = "rpc-url"
RUN_PARTY_DIR = "party-dir"
RUN_BLOBS = "blobs"
RUN_OUT = "out"
RUN_EVALUATOR = "evaluator"
RUN_PARTICIPANTS_ROOT = "participants-root"
RUN_PASSWORD_FILE = "password-file"
RUN_FAULTS = "faults"
RUN_SERVER_FAULT = "server-fault"
RUN_REPLY_TIMEOUT = "reply-timeout"
#: Node-config key naming a SuperNode's participant directory (``--node-config``).
NODE_PARTICIPANT_DIR = "participant-dir"
#: The simulation engine's node-config key (one partition per simulated SuperNode).
NODE_PARTITION_ID = "partition-id"


class MemoryBlobStore(BlobStore):
    """Blobs held in memory for one message: put what arrived, get what the ledger names."""

    def __init__(self) -> None:
        self._blobs: dict[bytes, bytes] = {}

    def _write(self, key: bytes, data: bytes) -> None:
        self._blobs[key] = data

    def _read(self, key: bytes) -> bytes:
        try:
            return self._blobs[key]
        except KeyError:
            raise BlobNotFoundError(
                f"blob 0x{key.hex()} was not in the message; its sender did not send it"
            ) from None

    def _exists(self, key: bytes) -> bool:
        return key in self._blobs

    def blobs(self) -> list[bytes]:
        return list(self._blobs.values())


def parse_faults(text: str) -> dict[int, str]:
    """Test faults ``"malformed@1,wrong-key@2,drop@3:1"`` → {participant index: kind[:round]}.

    Only the loopback tests set them: a faulty participant shows what the protocol does with it."""
    faults: dict[int, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, _, index = item.partition("@")
        who, _, when = index.partition(":")
        faults[int(who)] = f"{kind}:{when}" if when else kind
    return faults
