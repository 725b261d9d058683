"""How messages travel between agents: an interface and two transports.

- :class:`InProcessTransport` — one queue per agent in this process (experiments, tests); the driver
  runs the three phases of an iteration in turn, so a receive never waits.
- :class:`ProcessTransport` — one ``multiprocessing`` queue per agent for agents running as
  separate OS processes (:func:`hefl.dso.runner.run_processes`); a receive blocks (with a timeout).

Both buffer what arrives early (a response can overtake a request from another neighbour) and
hand out exactly the messages of one kind and iteration.
"""

from __future__ import annotations

import queue
from abc import ABC, abstractmethod
from collections import defaultdict, deque
from typing import Any

from hefl.dso.protocol import KIND_NAMES, Message
from hefl.errors import DsoMessageError

#: Seconds a process agent waits for a neighbour's message before giving up.
DEFAULT_RECEIVE_TIMEOUT_S = 600.0


class Transport(ABC):
    """Delivers :class:`Message` s to their recipient."""

    @abstractmethod
    def send(self, message: Message) -> None: ...

    @abstractmethod
    def receive(self, recipient: int, kind: int, iteration: int, count: int) -> list[Message]:
        """Exactly ``count`` messages of ``kind`` for ``iteration`` addressed to ``recipient``."""


class _Buffered(Transport):
    def __init__(self) -> None:
        self._early: dict[tuple[int, int, int], deque[Message]] = defaultdict(deque)

    @abstractmethod
    def _next(self, recipient: int, wanted: str) -> Message: ...

    def receive(self, recipient: int, kind: int, iteration: int, count: int) -> list[Message]:
        wanted = f"{count} {KIND_NAMES.get(kind, kind)}(s) of iteration {iteration}"
        key = (recipient, kind, iteration)
        while len(self._early[key]) < count:
            m = self._next(recipient, wanted)
            self._early[(m.recipient, m.kind, m.iteration)].append(m)
        box = self._early[key]
        out = [box.popleft() for _ in range(count)]
        if not box:
            del self._early[key]
        return out


class InProcessTransport(_Buffered):
    """Queues in memory; messages to an agent are delivered in the order sent."""

    def __init__(self) -> None:
        super().__init__()
        self._queues: dict[int, deque[Message]] = defaultdict(deque)
        self.sent = 0
        self.bytes = 0

    def send(self, message: Message) -> None:
        self.sent += 1
        self.bytes += len(message.payload)
        self._queues[message.recipient].append(message)

    def _next(self, recipient: int, wanted: str) -> Message:
        box = self._queues[recipient]
        if not box:
            raise DsoMessageError(f"agent {recipient} is missing {wanted}")
        return box.popleft()


class ProcessTransport(_Buffered):
    """One agent's end of the inter-process queues (``inboxes[i]`` is agent i's)."""

    def __init__(self, inboxes: dict[int, Any], timeout_s: float = DEFAULT_RECEIVE_TIMEOUT_S):
        super().__init__()
        self._inboxes = inboxes
        self._timeout = timeout_s

    def send(self, message: Message) -> None:
        self._inboxes[message.recipient].put(message.to_json())

    def _next(self, recipient: int, wanted: str) -> Message:
        try:
            return Message.from_json(self._inboxes[recipient].get(timeout=self._timeout))
        except queue.Empty:
            raise DsoMessageError(
                f"agent {recipient} waited {self._timeout:g} s for {wanted}"
            ) from None
