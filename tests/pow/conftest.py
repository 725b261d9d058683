"""Fixtures for the pow-race tests: the embedded chain and a real Anvil node on a loopback port."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from pow_helpers import CONFIG_HASH, GENESIS_HASH, PowDeployer

from contract_testing import chain_fixtures
from hefl.chain import Chain
from hefl.chain.pow_ledger import PowLedgerClient, deploy_pow_ledger
from hefl.pow.puzzle import difficulty_to_target

#: Funded accounts: a deployer, owners, aggregators and outsiders.
ACCOUNTS = 10
#: Expected hashes per block in the contract tests: a valid nonce in a few dozen tries.
TEST_DIFFICULTY = 16

anvil_url, embedded_chain, anvil_chain, chain, accounts = chain_fixtures(ACCOUNTS)


@pytest.fixture
def deploy(chain: Chain, accounts: Sequence[str]) -> PowDeployer:
    """Deploy a PowLedger: deployer accounts[0], owners accounts[1..2], aggregators [3..4]."""

    def _deploy(
        *,
        difficulty: float = TEST_DIFFICULTY,
        target: int | None = None,
        block_time: int = 0,
        interval: int = 0,
    ) -> PowLedgerClient:
        return deploy_pow_ledger(
            chain,
            accounts[0],
            accounts[1:3],
            accounts[3:5],
            GENESIS_HASH,
            CONFIG_HASH,
            initial_target=target if target is not None else difficulty_to_target(difficulty),
            target_block_time=block_time,
            retarget_interval=interval,
        )

    return _deploy
