"""Test helpers shared by ``tests/chain`` (FLLedger) and ``tests/pow`` (PowLedger).

Imported as a plain module (``tests/`` is on ``sys.path`` through ``tests/conftest.py``):

- :func:`chain_fixtures` makes a test directory's chain fixtures: a real Anvil node for the
  session (:mod:`hefl.chain.anvil`; skipped with the reason when the binary is missing), the
  embedded eth-tester chain, and ``chain``, which runs each contract test on both;
- :func:`h` and :class:`expect_revert` for contract tests;
- :data:`needs_node` for the build tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak

from hefl.chain import Chain, connect_embedded, connect_rpc
from hefl.chain.anvil import find_anvil, start_anvil
from hefl.errors import ChainError, ConfigError, ContractRevertError

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Seconds Anvil gets to exit after SIGTERM before it is killed.
ANVIL_STOP_TIMEOUT_S = 10

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or not (REPO_ROOT / "node_modules" / "solc").is_dir(),
    reason="needs Node and node_modules/solc (run `npm ci`)",
)


def anvil_node(accounts: int) -> Iterator[str]:
    """Start Anvil on 127.0.0.1 with ``accounts`` funded accounts, yield its URL, stop it by pid.

    Skips (with the reason) when there is no Anvil binary; fails when it does not start.
    """
    try:
        binary = find_anvil()
    except ConfigError as error:
        pytest.skip(f"Anvil binary missing: {error}")
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.skip(f"Anvil binary missing at {binary}; run `npm ci` to install it")
    try:
        proc, url = start_anvil(accounts=accounts)
    except ChainError as error:
        pytest.fail(f"anvil did not start: {error}")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=ANVIL_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def chain_fixtures(accounts: int) -> tuple[Any, ...]:
    """The session fixtures ``anvil_url, embedded_chain, anvil_chain, chain, accounts`` of a test
    directory whose chains fund ``accounts`` accounts.

    A conftest binds them to those names (pytest finds fixtures by name in the conftest)::

        anvil_url, embedded_chain, anvil_chain, chain, accounts = chain_fixtures(ACCOUNTS)

    Each directory gets its own Anvil node, so that one directory's clock moves and deployments
    never reach another's.
    """

    @pytest.fixture(scope="session", name="anvil_url")
    def anvil_url() -> Iterator[str]:
        """A fresh Anvil node on 127.0.0.1 for the session (stopped by its pid afterwards)."""
        yield from anvil_node(accounts)

    @pytest.fixture(scope="session", name="embedded_chain")
    def embedded_chain() -> Chain:
        return connect_embedded(num_accounts=accounts)

    @pytest.fixture(scope="session", name="anvil_chain")
    def anvil_chain(anvil_url: str) -> Chain:
        return connect_rpc(anvil_url)

    @pytest.fixture(
        scope="session",
        name="chain",
        params=["embedded", pytest.param("anvil", marks=pytest.mark.anvil)],
    )
    def chain(request: pytest.FixtureRequest) -> Chain:
        """Each contract test runs once on eth-tester/py-evm and once on a real Anvil node."""
        return request.getfixturevalue(f"{request.param}_chain")

    @pytest.fixture(scope="session", name="accounts")
    def funded_accounts(chain: Chain) -> tuple[str, ...]:
        return chain.accounts_for(accounts)

    return anvil_url, embedded_chain, anvil_chain, chain, funded_accounts


def h(label: str) -> bytes:
    """A distinct nonzero 32-byte hash for a label."""
    return keccak(text=label)


class expect_revert:
    """Context manager asserting a ContractRevertError with that name and (if given) args."""

    def __init__(self, error_name: str, *error_args: object) -> None:
        self.error_name = error_name
        self.error_args = error_args

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, value: Any, tb: Any) -> bool:
        assert kind is not None, f"expected {self.error_name} but nothing reverted"
        assert isinstance(value, ContractRevertError), f"not a revert: {value!r}"
        assert value.error_name == self.error_name, str(value)
        if self.error_args:
            assert value.error_args == self.error_args, str(value)
        return True
