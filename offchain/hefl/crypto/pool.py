"""Parallelism of the crypto engine: batch decryption on threads, large products on processes.

CRT decryption splits into two independent half-size powmods per ciphertext,
c^(p−1) mod p² and c^(q−1) mod q². gmpy2's ``powmod_base_list(bases, e, m)`` computes one
exponent over a whole list *with the GIL released*, so two threads keep both cores busy with no
process start-up, pickling or IPC: one thread runs the p-halves of the batch while the calling
thread runs the q-halves, then the CRT recombination (cheap) runs serially. With more than two
workers the batch is cut into chunks and each chunk contributes its two halves as separate tasks.

This replaces the process pool first planned for the job: measured on the 2-core reference
machine (2048-bit n), threads decrypt a 64-ciphertext batch at ≈1.8× the single-core rate and
even a single ciphertext ≈1.7× faster, whereas a process pool pays ≈50–100 ms to start and
≈0.1 ms per task in pickling. ``BATCH_THREAD_THRESHOLD`` is therefore 1 (see
``hefl bench crypto`` for the current figures); a batch runs serially only when ``workers=1``.

Products are different: a Straus multi-exponentiation (:mod:`hefl.crypto.multiexp`) is a Python
loop of gmpy2 multiplications, each holding the GIL, so threads cannot share it. A product whose
estimated cost reaches :data:`PROCESS_MIN_MULTIPLICATIONS` (≈ 1 s of work; a d = 200 fused map
is ≈ 0.3 M, d = 784 ≈ 4 M) has its rows cut into one contiguous chunk per worker process
(:func:`process_executor`, started once and kept), each chunk building its own power tables —
the tables are d·2^w multiplications, ≈ 1 % of such a product, cheaper than shipping them. Only a
top-level process fans out (:func:`product_workers`): inside a worker process (e.g. the job's pool
of participant updates) products run serially, so pools never nest.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Generic, Protocol, TypeVar

import gmpy2
from gmpy2 import mpz

__all__ = [
    "BATCH_THREAD_THRESHOLD",
    "DEFAULT_WORKERS",
    "PROCESS_MIN_MULTIPLICATIONS",
    "CrtKey",
    "decrypt_batch",
    "forget_processes",
    "half_powers_batch",
    "process_executor",
    "product_workers",
    "products_on",
    "shutdown",
]

#: Smallest batch decrypted on threads; measured: threads win from one ciphertext on.
BATCH_THREAD_THRESHOLD = 1
#: Worker threads used by default: both halves of CRT on the (≤ 2) cores of the reference box.
DEFAULT_WORKERS = max(1, min(2, os.cpu_count() or 1))
#: Estimated modular multiplications from which a product's rows are split over processes
#: (≈ 1 s of work at 2048 bits; a process pool's start and the chunks' pickling cost ≈ 0.1 s).
PROCESS_MIN_MULTIPLICATIONS = 150_000


class CrtKey(Protocol):
    """What a batch decryption needs of a private key (:class:`hefl.crypto.keys.PrivateKey`)."""

    p: mpz
    q: mpz
    psquare: mpz
    qsquare: mpz

    def crt_combine(self, u_p: mpz, u_q: mpz) -> mpz:
        """The plaintext residue from u_p = c^(p−1) mod p² and u_q = c^(q−1) mod q²."""
        ...


E = TypeVar("E", ThreadPoolExecutor, ProcessPoolExecutor)


class _Shared(Generic[E]):
    """One executor of this process, started on first use with at least the size asked for and
    replaced by a larger one when a larger size is asked for."""

    def __init__(self, make: Callable[[int], E]) -> None:
        self.make: Callable[[int], E] = make
        self.lock = threading.Lock()
        self.executor: E | None = None
        self.size = 0

    def get(self, size: int) -> E:
        with self.lock:
            if self.executor is None or self.size < size:
                if self.executor is not None:
                    self.executor.shutdown(wait=False)
                self.executor, self.size = self.make(size), size
            return self.executor

    def drop(self, *, wait: bool, cancel_futures: bool = False) -> None:
        with self.lock:
            if self.executor is not None:
                self.executor.shutdown(wait=wait, cancel_futures=cancel_futures)
                self.executor = None

    def forget(self) -> None:
        """A forked child inherits the object but not its workers: start afresh."""
        self.lock, self.executor, self.size = threading.Lock(), None, 0


_threads: _Shared[ThreadPoolExecutor] = _Shared(
    lambda size: ThreadPoolExecutor(max_workers=size, thread_name_prefix="hefl-decrypt")
)
_processes: _Shared[ProcessPoolExecutor] = _Shared(lambda size: ProcessPoolExecutor(size))
_product_processes: int | None = None  # products_on's setting (None: DEFAULT_WORKERS)


def product_workers(workers: int | None = None) -> int:
    """Processes a product may use: ``workers``, else this process's setting
    (:func:`products_on`; default :data:`DEFAULT_WORKERS`), but 1 in a process that is itself a
    worker of a multiprocessing pool (no nested pools)."""
    if multiprocessing.parent_process() is not None:
        return 1
    if workers is None:
        workers = DEFAULT_WORKERS if _product_processes is None else _product_processes
    return max(1, int(workers))


@contextlib.contextmanager
def products_on(processes: int) -> Iterator[None]:
    """Within the block, products use at most ``processes`` processes (1: this one only, e.g.
    to time a product's CPU cost, or an in-process job run with ``--workers 1``)."""
    global _product_processes
    held, _product_processes = _product_processes, max(1, int(processes))
    try:
        yield
    finally:
        _product_processes = held


def process_executor(size: int) -> ProcessPoolExecutor:
    """The shared pool of ≥ ``size`` worker processes for products (started on first use)."""
    return _processes.get(size)


def forget_processes() -> None:
    """Drop the product pool (e.g. after a worker died: the next product starts a new one)."""
    _processes.drop(wait=False, cancel_futures=True)


def shutdown() -> None:
    """Stop the worker threads and processes (they are restarted on demand)."""
    _threads.drop(wait=True)
    _processes.drop(wait=True)


atexit.register(shutdown)


def _forget_after_fork() -> None:
    """A forked child inherits the executors' objects but not their workers: start afresh."""
    _threads.forget()
    _processes.forget()


os.register_at_fork(after_in_child=_forget_after_fork)


def decrypt_batch(
    key: CrtKey, ciphertexts: Sequence[int], *, workers: int | None = None
) -> list[mpz]:
    """Plaintext residues of ``ciphertexts`` under ``key``; order preserved.

    ``workers`` threads (default :data:`DEFAULT_WORKERS`) share 2·⌈workers/2⌉ half-decryption
    tasks; the calling thread runs the last task itself.
    """
    cts = [mpz(c) for c in ciphertexts]
    w = DEFAULT_WORKERS if workers is None else max(1, int(workers))
    if not cts:
        return []
    pm1, qm1 = key.p - 1, key.q - 1
    if w == 1 or len(cts) < BATCH_THREAD_THRESHOLD:
        up = gmpy2.powmod_base_list(cts, pm1, key.psquare)
        uq = gmpy2.powmod_base_list(cts, qm1, key.qsquare)
        return [key.crt_combine(a, b) for a, b in zip(up, uq, strict=True)]
    n_chunks = max(1, min(len(cts), (w + 1) // 2))
    size = -(-len(cts) // n_chunks)
    chunks = [cts[i : i + size] for i in range(0, len(cts), size)]
    tasks = [(chunk, e, m) for chunk in chunks for e, m in ((pm1, key.psquare), (qm1, key.qsquare))]
    executor = _threads.get(max(1, w - 1))
    futures: list[Future[list[mpz]]] = [
        executor.submit(gmpy2.powmod_base_list, *t) for t in tasks[:-1]
    ]
    last = gmpy2.powmod_base_list(*tasks[-1])
    results = [f.result() for f in futures] + [last]
    out: list[mpz] = []
    for i in range(len(chunks)):
        out.extend(
            key.crt_combine(a, b) for a, b in zip(results[2 * i], results[2 * i + 1], strict=True)
        )
    return out


def half_powers_batch(
    ciphertexts: Sequence[int], exponent: mpz, modulus: mpz, *, workers: int | None = None
) -> list[mpz]:
    """[c^exponent mod modulus for c in ciphertexts], the batch cut into ``workers`` chunks on
    threads (one CRT half for every ciphertext: the small-plaintext decryption of
    :meth:`hefl.crypto.keys.PrivateKey.decrypt_small`)."""
    cts = [mpz(c) for c in ciphertexts]
    w = DEFAULT_WORKERS if workers is None else max(1, int(workers))
    if w == 1 or len(cts) < 2:
        return list(gmpy2.powmod_base_list(cts, exponent, modulus)) if cts else []
    size = -(-len(cts) // w)
    chunks = [cts[i : i + size] for i in range(0, len(cts), size)]
    executor = _threads.get(max(1, len(chunks) - 1))
    futures: list[Future[list[mpz]]] = [
        executor.submit(gmpy2.powmod_base_list, chunk, exponent, modulus) for chunk in chunks[:-1]
    ]
    last = gmpy2.powmod_base_list(chunks[-1], exponent, modulus)
    out: list[mpz] = []
    for f in futures:
        out.extend(f.result())
    out.extend(last)
    return out
