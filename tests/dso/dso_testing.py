"""Helpers of the decentralised-mode tests (a module of its own: ``conftest`` is a name every test
directory has, so ``from conftest import …`` would depend on which one was collected first)."""

from __future__ import annotations

import warnings
from functools import cache

from hefl.crypto import InsecureKeyWarning, PrivateKey, generate_keypair


@cache
def small_keys(n: int, bits: int = 512) -> tuple[PrivateKey, ...]:
    """n insecure test keys (cached for the session; only where 2048 bits are not needed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyWarning)
        return tuple(generate_keypair(bits, allow_insecure=True)[1] for _ in range(n))
