"""Fixtures for the ledger tests: the embedded chain and a real Anvil node on a loopback port."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from chain_helpers import CONFIG_HASH, PUBLIC_KEY_HASH, Deployer

from contract_testing import chain_fixtures
from hefl.chain import Chain, LedgerClient, deploy_ledger

#: Funded accounts on both chains: enough for a party, N = 10 participants and outsiders.
ACCOUNTS = 16

anvil_url, embedded_chain, anvil_chain, chain, accounts = chain_fixtures(ACCOUNTS)


@pytest.fixture
def deploy(chain: Chain, accounts: Sequence[str]) -> Deployer:
    """Deploy a fresh ledger: party = accounts[0], participants = accounts[1..N]."""

    def _deploy(n: int = 5, sizes: Sequence[int] | None = None) -> LedgerClient:
        participants = list(accounts[1 : n + 1])
        return deploy_ledger(
            chain,
            accounts[0],
            participants,
            list(sizes) if sizes is not None else [10 * (i + 1) for i in range(n)],
            PUBLIC_KEY_HASH,
            CONFIG_HASH,
        )

    return _deploy
