"""Fixtures for the decentralised-mode tests: chains (embedded and Anvil) and cached small keys."""

from __future__ import annotations

import warnings
from functools import cache

from contract_testing import chain_fixtures
from hefl.crypto import InsecureKeyWarning, PrivateKey, generate_keypair

#: Funded accounts: a deployer, five agents and outsiders.
ACCOUNTS = 8

anvil_url, embedded_chain, anvil_chain, chain, accounts = chain_fixtures(ACCOUNTS)


@cache
def small_keys(n: int, bits: int = 512) -> tuple[PrivateKey, ...]:
    """n insecure test keys (cached for the session; only where 2048 bits are not needed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyWarning)
        return tuple(generate_keypair(bits, allow_insecure=True)[1] for _ in range(n))
