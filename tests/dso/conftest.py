"""Fixtures for the decentralised-mode tests: chains (embedded and Anvil); small cached keys are in
``dso_testing``."""

from __future__ import annotations

from contract_testing import chain_fixtures

#: Funded accounts: a deployer, five agents and outsiders.
ACCOUNTS = 8

anvil_url, embedded_chain, anvil_chain, chain, accounts = chain_fixtures(ACCOUNTS)
