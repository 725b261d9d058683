"""What travels in Flower's messages, and the blob store a ClientApp keeps for one message.

Every hefl message carries one :class:`flwr.app.ConfigRecord` under :data:`RECORD` whose values
are plain scalars and ``bytes`` (ciphertext blobs in their canonical form, :mod:`hefl.crypto.
serialize`). Nothing is trusted for being in a message: each blob is looked up by the hash the
ledger holds (:meth:`hefl.chain.BlobStore.get` checks it), so a message only saves the download.
"""

from __future__ import annotations

from typing import Any

from flwr.app import ConfigRecord, Message, RecordDict

from hefl.chain import BlobStore
from hefl.errors import BlobNotFoundError, SerializationError

#: Key of the ConfigRecord that holds hefl's payload in every message.
RECORD = "hefl"
#: Run-config keys (``[tool.flwr.app.config]`` or ``flwr run --run-config``).
#: ``job``: the job file's JSON text (ledger, chain id, public key, configuration document); every
#: ClientApp checks it against the chain before it trains.
RUN_JOB = "job"
RUN_JOB_FILE = "job-file"
RUN_RPC_URL = "rpc-url"
RUN_PARTY_DIR = "party-dir"
RUN_BLOBS = "blobs"
RUN_OUT = "out"
RUN_EVALUATOR = "evaluator"
RUN_PARTICIPANTS_ROOT = "participants-root"
RUN_PASSWORD_FILE = "password-file"
RUN_REPLY_TIMEOUT = "reply-timeout"
#: Node-config key naming a SuperNode's participant directory (``--node-config``).
NODE_PARTICIPANT_DIR = "participant-dir"
#: The simulation engine's node-config key (one partition per simulated SuperNode).
NODE_PARTITION_ID = "partition-id"


def record(payload: dict[str, Any]) -> RecordDict:
    """A message content: ``payload`` as hefl's one ConfigRecord."""
    return RecordDict({RECORD: ConfigRecord(payload)})


def payload(message: Message) -> ConfigRecord:
    """hefl's ConfigRecord of a message (a message without one is refused)."""
    records = message.content.config_records
    if RECORD not in records:
        raise SerializationError(f"the message carries no {RECORD!r} record")
    return records[RECORD]


def get_int(config: ConfigRecord, key: str) -> int:
    value = config.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise SerializationError(f"message field {key!r} is {value!r}, not an integer")
    return value


def get_float(config: ConfigRecord, key: str) -> float:
    value = config.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise SerializationError(f"message field {key!r} is {value!r}, not a number")
    return float(value)


def get_str_list(config: ConfigRecord, key: str) -> list[str]:
    """A list of text (a missing key is the empty list: Flower keeps no empty lists)."""
    value = config.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SerializationError(f"message field {key!r} is not a list of text")
    return [v for v in value if isinstance(v, str)]


def get_str(config: ConfigRecord, key: str) -> str:
    value = config.get(key)
    if not isinstance(value, str):
        raise SerializationError(f"message field {key!r} is {type(value).__name__}, not text")
    return value


def get_bytes(config: ConfigRecord, key: str) -> bytes:
    value = config.get(key)
    if not isinstance(value, bytes):
        raise SerializationError(f"message field {key!r} is {type(value).__name__}, not bytes")
    return value


def get_bytes_list(config: ConfigRecord, key: str) -> list[bytes]:
    value = config.get(key)
    if not isinstance(value, list) or not all(isinstance(v, bytes) for v in value):
        raise SerializationError(f"message field {key!r} is not a list of byte strings")
    return [v for v in value if isinstance(v, bytes)]


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
