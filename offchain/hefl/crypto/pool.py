"""Parallelism of the crypto engine: batch decryptions and large products on threads.

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

Products likewise: a Straus multi-exponentiation runs in C (:mod:`hefl.crypto.multiexp`'s
kernel) with the GIL released, so a product whose estimated cost reaches
:data:`PARALLEL_MIN_MULTIPLICATIONS` has its rows cut into one contiguous chunk per worker
thread (:func:`product_workers`), each chunk building its own power tables (d·2^(w−1)
multiplications, a few % of such a product: cheaper than sharing them across threads), on the
same threads as the decryptions. Only a top-level process fans out: inside a worker process of
a multiprocessing pool (e.g. the in-process job's pool of participant updates, which already
fills the cores) products run on the calling thread alone.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol, TypeVar

import gmpy2
from gmpy2 import mpz

__all__ = [
    "BATCH_THREAD_THRESHOLD",
    "DEFAULT_WORKERS",
    "PARALLEL_MIN_MULTIPLICATIONS",
    "CrtKey",
    "decrypt_batch",
    "half_powers_batch",
    "product_workers",
    "products_on",
    "run_on_threads",
    "shutdown",
]

#: Smallest batch decrypted on threads; measured: threads win from one ciphertext on.
BATCH_THREAD_THRESHOLD = 1
#: Worker threads used by default: both halves of CRT on the (≤ 2) cores of the reference box.
DEFAULT_WORKERS = max(1, min(2, os.cpu_count() or 1))
#: Estimated modular multiplications from which a product's rows are split over threads
#: (≈ 0.05 s of work at 2048 bits in the C kernel; a thread hand-off costs ≈ 0.1 ms, the
#: duplicated power tables a few %).
PARALLEL_MIN_MULTIPLICATIONS = 40_000


class CrtKey(Protocol):
    """What a batch decryption needs of a private key (:class:`hefl.crypto.keys.PrivateKey`)."""

    p: mpz
    q: mpz
    psquare: mpz
    qsquare: mpz

    def crt_combine(self, u_p: mpz, u_q: mpz) -> mpz:
        """The plaintext residue from u_p = c^(p−1) mod p² and u_q = c^(q−1) mod q²."""
        ...


class _Threads:
    """This process's worker threads, started on first use with at least the size asked for and
    replaced by a larger pool when a larger size is asked for."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.executor: ThreadPoolExecutor | None = None
        self.size = 0

    def get(self, size: int) -> ThreadPoolExecutor:
        with self.lock:
            if self.executor is None or self.size < size:
                if self.executor is not None:
                    self.executor.shutdown(wait=False)
                self.executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="hefl")
                self.size = size
            return self.executor

    def drop(self) -> None:
        with self.lock:
            if self.executor is not None:
                self.executor.shutdown(wait=True)
                self.executor = None

    def forget(self) -> None:
        """A forked child inherits the object but not its threads: start afresh."""
        self.lock, self.executor, self.size = threading.Lock(), None, 0


_threads = _Threads()
_product_threads: int | None = None  # products_on's setting (None: DEFAULT_WORKERS)

T = TypeVar("T")


def run_on_threads(tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Each task's result, in order: all but the last on the shared worker threads, the last on
    the calling thread (tasks that release the GIL: gmpy2's list powmods, the C kernel)."""
    if len(tasks) <= 1:
        return [task() for task in tasks]
    executor = _threads.get(len(tasks) - 1)
    futures: list[Future[T]] = [executor.submit(task) for task in tasks[:-1]]
    last = tasks[-1]()
    return [f.result() for f in futures] + [last]


def product_workers(workers: int | None = None) -> int:
    """Threads a product may use: ``workers``, else this process's setting
    (:func:`products_on`; default :data:`DEFAULT_WORKERS`), but 1 in a process that is itself a
    worker of a multiprocessing pool (its pool already fills the cores)."""
    if multiprocessing.parent_process() is not None:
        return 1
    if workers is None:
        workers = DEFAULT_WORKERS if _product_threads is None else _product_threads
    return max(1, int(workers))


@contextlib.contextmanager
def products_on(threads: int) -> Iterator[None]:
    """Within the block, products use at most ``threads`` threads (1: the calling thread only,
    e.g. to time a product's CPU cost, or an in-process job run with ``--workers 1``)."""
    global _product_threads
    held, _product_threads = _product_threads, max(1, int(threads))
    try:
        yield
    finally:
        _product_threads = held


def shutdown() -> None:
    """Stop the worker threads (they are restarted on demand)."""
    _threads.drop()


atexit.register(shutdown)
os.register_at_fork(after_in_child=_threads.forget)


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
    results = run_on_threads(
        [
            functools.partial(gmpy2.powmod_base_list, chunk, e, m)
            for chunk in chunks
            for e, m in ((pm1, key.psquare), (qm1, key.qsquare))
        ]
    )
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
    parts = run_on_threads(
        [functools.partial(gmpy2.powmod_base_list, chunk, exponent, modulus) for chunk in chunks]
    )
    return [x for part in parts for x in part]
