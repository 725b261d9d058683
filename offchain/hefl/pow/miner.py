"""Nonce search for the PowLedger puzzle, and two ways to race aggregators against each other.

The puzzle (see :mod:`hefl.pow.puzzle`): find a uint64 nonce n with
uint256(keccak256(header ‖ n)) < target, where the 192-byte header binds the chain, the contract,
the round, both model hashes and the aggregator. Every hash succeeds independently with
probability p = target / 2²⁵⁶, so an aggregator doing h hashes per unit time finds a block after a
time that is (nearly) exponential with rate p·h, and of several aggregators racing, aggregator a
wins with probability h_a / Σ_b h_b: hash power buys a proportional share of the blocks.

Two race engines, one interface (:class:`Race`):

- :class:`ProcessRace` — the real thing: each aggregator's hash power is a number of worker
  processes, all workers of all aggregators search at once (disjoint nonce ranges per aggregator),
  and the first solution to reach the network wins; solutions found before the others heard of it
  are late blocks, which the contract refuses.
- :class:`VirtualRace` — deterministic and seeded: aggregator a does its i-th hash at virtual time
  i / h_a, the hashes are the same real keccak256 digests, and the earliest valid one wins (ties
  broken by the seeded generator). Used by the tests to measure fairness over many races and by
  runs that must be reproducible.

This module imports only the standard library (and :mod:`hefl.errors`) so that worker processes
start fast.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import queue
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hefl.errors import AgentError

#: Hashes a worker does between two looks at the stop flag.
BATCH = 2048
#: Seconds the coordinator waits for the workers to report after a stop.
STOP_TIMEOUT_S = 30.0
#: Seconds between the coordinator's checks that every worker is still alive.
POLL_S = 1.0
#: Upper end of the random nonce offsets (nonces are uint64; leave room for the search).
NONCE_OFFSET_LIMIT = 1 << 62


def _keccak_factory() -> Callable[[bytes], Any]:
    """The fastest keccak-256 at hand: pysha3 (C, copyable state), else pycryptodome."""
    try:
        import sha3  # type: ignore[import-untyped,import-not-found,unused-ignore]

        return sha3.keccak_256  # type: ignore[no-any-return,unused-ignore]
    except ImportError:
        from Crypto.Hash import keccak

        def new(data: bytes = b"") -> Any:
            return keccak.new(digest_bits=256, data=data)

        return new


_KECCAK = _keccak_factory()


def search(prefix: bytes, target: int, start: int, step: int, count: int) -> tuple[int | None, int]:
    """Try nonces start, start + step, … (``count`` of them) for keccak256(prefix ‖ n) < target.

    Returns (the first valid nonce or None, hashes tried).
    """
    base = _KECCAK(prefix)
    copyable = hasattr(base, "copy")
    nonce = start
    for tried in range(1, count + 1):
        if copyable:
            h = base.copy()
            h.update(nonce.to_bytes(32, "big"))
        else:
            h = _KECCAK(prefix + nonce.to_bytes(32, "big"))
        if int.from_bytes(h.digest(), "big") < target:
            return nonce, tried
        nonce += step
    return None, count


def digest_value(prefix: bytes, nonce: int) -> int:
    """uint256(keccak256(prefix ‖ nonce))."""
    return int.from_bytes(_KECCAK(prefix + nonce.to_bytes(32, "big")).digest(), "big")


@dataclass(frozen=True)
class Solution:
    """A valid nonce found by aggregator ``aggregator`` (its index), ``seconds`` after the start."""

    aggregator: int
    nonce: int
    seconds: float


@dataclass(frozen=True)
class RaceOutcome:
    """Who found a block first, who found one too late, and what the race cost.

    Attributes:
        solutions: valid nonces in the order the network heard of them; the first wins.
        hashes: hashes tried by each aggregator until it heard of the winner.
        seconds: time from the start of the search to the first solution (virtual time in a
            :class:`VirtualRace`, in units of one hash of one worker).
    """

    solutions: tuple[Solution, ...]
    hashes: tuple[int, ...]
    seconds: float

    @property
    def winner(self) -> Solution:
        return self.solutions[0]

    @property
    def late(self) -> tuple[Solution, ...]:
        return self.solutions[1:]

    @property
    def total_hashes(self) -> int:
        return sum(self.hashes)


@dataclass(frozen=True)
class Puzzle:
    """One aggregator's puzzle for a round: its 192-byte header prefix."""

    prefix: bytes


class Race(ABC):
    """Aggregators racing to solve their puzzles; hash power ``powers[a]`` for aggregator a."""

    name: str = "race"

    def __init__(self, powers: Sequence[int], seed: int = 0) -> None:
        if not powers or any(int(p) < 1 for p in powers):
            raise ValueError(f"every aggregator needs hash power ≥ 1, got {list(powers)}")
        self.powers = tuple(int(p) for p in powers)
        self.rng = random.Random(seed)

    @abstractmethod
    def race(self, puzzles: Sequence[Puzzle], target: int) -> RaceOutcome:
        """Run one race; ``puzzles[a]`` is aggregator a's (they differ by the aggregator)."""

    def close(self) -> None:  # noqa: B027 - a no-op unless the race holds workers
        """Release workers, if any."""

    def __enter__(self) -> Race:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _offsets(self, count: int) -> list[int]:
        return [self.rng.randrange(NONCE_OFFSET_LIMIT) for _ in range(count)]


class VirtualRace(Race):
    """Deterministic race in virtual time: aggregator a's i-th hash (i ≥ 1) happens at i / h_a.

    Virtual time is kept exactly in integer ticks, L = lcm(h_a) ticks per unit, so aggregator a
    hashes every L / h_a ticks. All hashes due at the same tick are done; if several succeed at
    the earliest successful tick, the seeded generator orders them (the others are late blocks).
    """

    name = "virtual"

    def race(self, puzzles: Sequence[Puzzle], target: int) -> RaceOutcome:
        if len(puzzles) != len(self.powers):
            raise ValueError(f"{len(puzzles)} puzzles for {len(self.powers)} aggregators")
        lcm = math.lcm(*self.powers)
        period = [lcm // h for h in self.powers]
        nonce = self._offsets(len(puzzles))
        tried = [0] * len(puzzles)
        bases = [_KECCAK(p.prefix) for p in puzzles]
        while True:
            tick = min((tried[a] + 1) * period[a] for a in range(len(puzzles)))
            winners = []
            for a in range(len(puzzles)):
                if (tried[a] + 1) * period[a] != tick:
                    continue
                tried[a] += 1
                h = bases[a].copy() if hasattr(bases[a], "copy") else None
                if h is not None:
                    h.update(nonce[a].to_bytes(32, "big"))
                    value = int.from_bytes(h.digest(), "big")
                else:
                    value = digest_value(puzzles[a].prefix, nonce[a])
                if value < target:
                    winners.append(Solution(a, nonce[a], tick / lcm))
                nonce[a] += 1
            if winners:
                self.rng.shuffle(winners)
                return RaceOutcome(tuple(winners), tuple(tried), tick / lcm)


def _worker(
    worker_queue: Any, results: Any, stop: Any, aggregator: int, index: int, batch: int
) -> None:
    """A mining process: takes (job, prefix, target, start, step) jobs until it gets None."""
    while True:
        job = worker_queue.get()
        if job is None:
            return
        job_id, prefix, target, start, step, started = job
        tried = 0
        nonce = start
        while not stop.is_set():
            found, n = search(prefix, target, nonce, step, batch)
            tried += n
            if found is not None:
                results.put(("found", job_id, aggregator, found, time.monotonic() - started))
                break
            nonce += step * batch
        results.put(("done", job_id, aggregator, index, tried))


class ProcessRace(Race):
    """The race with real worker processes: aggregator a runs ``powers[a]`` of them.

    Workers are started once (spawned, so no chain connection is inherited) and reused for every
    round. Aggregator a's worker j tries nonces offset_a + j, offset_a + j + h_a, …, so its workers
    never repeat each other's work. The first solution to arrive wins; the coordinator then raises
    the stop flag (the network heard of the block) and collects every worker's hash count, plus
    any solution found in the meantime (a late block).
    """

    name = "processes"

    def __init__(self, powers: Sequence[int], seed: int = 0, *, batch: int = BATCH) -> None:
        super().__init__(powers, seed)
        ctx = mp.get_context("spawn")
        self._results: Any = ctx.Queue()
        self._stop: Any = ctx.Event()
        self._queues: list[tuple[int, Any]] = []
        self._procs: list[Any] = []
        self._job = 0
        for a, power in enumerate(self.powers):
            for j in range(power):
                q = ctx.Queue()
                proc = ctx.Process(
                    target=_worker,
                    args=(q, self._results, self._stop, a, j, batch),
                    daemon=True,
                    name=f"hefl-miner-{a}-{j}",
                )
                proc.start()
                self._queues.append((a, q))
                self._procs.append(proc)

    def race(self, puzzles: Sequence[Puzzle], target: int) -> RaceOutcome:
        if len(puzzles) != len(self.powers):
            raise ValueError(f"{len(puzzles)} puzzles for {len(self.powers)} aggregators")
        self._job += 1
        job = self._job
        offsets = self._offsets(len(puzzles))
        self._stop.clear()
        started = time.monotonic()
        slot = [0] * len(puzzles)
        for a, q in self._queues:
            q.put((job, puzzles[a].prefix, target, offsets[a] + slot[a], self.powers[a], started))
            slot[a] += 1
        solutions: list[Solution] = []
        hashes = [0] * len(puzzles)
        pending = len(self._queues)
        first: float | None = None
        waited = 0.0
        while pending:
            try:
                message = self._results.get(timeout=POLL_S)
            except queue.Empty:
                waited += POLL_S
                dead = [proc.name for proc in self._procs if not proc.is_alive()]
                if dead or (first is not None and waited > STOP_TIMEOUT_S):
                    self.close()
                    raise AgentError(
                        f"miner processes stopped answering ({', '.join(dead) or 'timeout'})"
                    ) from None
                continue
            waited = 0.0
            kind, job_id = message[0], message[1]
            if job_id != job:
                continue
            if kind == "found":
                _, _, a, nonce, seconds = message
                solutions.append(Solution(a, nonce, seconds))
                if first is None:
                    first = seconds
                    self._stop.set()
            else:
                _, _, a, _, tried = message
                hashes[a] += tried
                pending -= 1
        if first is None:  # unreachable: a worker only ends its job on a solution or a stop
            raise AgentError("every miner stopped without a solution")
        return RaceOutcome(tuple(solutions), tuple(hashes), first)

    def close(self) -> None:
        self._stop.set()
        for _, q in self._queues:
            q.put(None)
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join()
        self._procs.clear()
        self._queues.clear()


RACES: dict[str, type[Race]] = {"processes": ProcessRace, "virtual": VirtualRace}
