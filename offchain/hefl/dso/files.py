"""Agent i's run directory files: the messages it sent and received (one JSON line each) and its
encrypted states at the checkpoints. Written by the agent (in-process or in its own OS process),
read back by :func:`hefl.dso.ledger.verify_run`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from hefl.dso.agent import CheckpointRecord
from hefl.dso.protocol import Message


class AgentFiles:
    """Agent i's directory: what it sent and received (one JSON line per message), its states."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._sent: IO[str] = (directory / "sent.jsonl").open("a")
        self._received: IO[str] = (directory / "received.jsonl").open("a")

    def sent(self, message: Message) -> None:
        self._sent.write(json.dumps(message.to_json()) + "\n")

    def received(self, message: Message) -> None:
        self._received.write(json.dumps(message.to_json()) + "\n")

    def write_state(self, record: CheckpointRecord) -> None:
        states = self.directory / "states"
        states.mkdir(exist_ok=True)
        (states / f"{record.checkpoint}.bin").write_bytes(record.state_blob)

    def flush(self) -> None:
        self._sent.flush()
        self._received.flush()

    def close(self) -> None:
        self._sent.close()
        self._received.close()
