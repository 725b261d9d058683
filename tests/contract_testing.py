"""Test helpers shared by ``tests/chain`` (FLLedger) and ``tests/pow`` (PowLedger).

Imported as a plain module (``tests/`` is on ``sys.path`` through ``tests/conftest.py``):

- :func:`chain_fixtures` makes a test directory's chain fixtures: a real Anvil node for the
  session (:mod:`hefl.chain.anvil`; skipped with the reason when the binary is missing), the
  embedded eth-tester chain, and ``chain``, which runs each contract test on both;
- :func:`h` and :class:`expect_revert` for contract tests; every revert :class:`expect_revert`
  matched is recorded in :data:`TRIGGERED_ERRORS`, and :func:`error_coverage` makes the fixture
  that checks, once a contract's test module has run, that the tests triggered every custom error
  of the contract's ABI (with its arguments asserted): the list of covered errors is what the
  tests did, not a list kept by hand;
- :data:`needs_node` for the build tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak

from hefl.chain import Chain, connect_embedded, connect_rpc
from hefl.chain.anvil import find_anvil, start_anvil
from hefl.chain.artifact import LedgerArtifact
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


#: The custom errors :class:`expect_revert` saw, for the session: contract name -> error name ->
#: whether some test asserted the error's arguments.
TRIGGERED_ERRORS: defaultdict[str, dict[str, bool]] = defaultdict(dict)


def _reverting_contract(error: ContractRevertError) -> str:
    """The contract named by a decoded revert ("FLLedger reverted: NotParty(caller=…)")."""
    contract, separator, _ = str(error).partition(" reverted: ")
    return contract if separator else "?"


class expect_revert:
    """Context manager asserting a ContractRevertError with that name and (if given) args.

    A matched revert is recorded in :data:`TRIGGERED_ERRORS` under the contract that reverted.
    """

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
        seen = TRIGGERED_ERRORS[_reverting_contract(value)]
        seen[value.error_name] = seen.get(value.error_name, False) or bool(self.error_args)
        return True


def uncovered_errors(contract: str, artifact: LedgerArtifact) -> list[str]:
    """The custom errors of ``artifact``'s ABI the tests did not trigger through
    :class:`expect_revert`, or triggered without asserting their arguments, as messages."""
    seen = TRIGGERED_ERRORS.get(contract, {})
    missing = []
    for entry in artifact.abi:
        if entry["type"] != "error":
            continue
        name = str(entry["name"])
        if name not in seen:
            missing.append(f"{name} never triggered")
        elif entry.get("inputs") and not seen[name]:
            missing.append(f"{name} triggered but its arguments never asserted")
    return missing


def error_coverage(contract: str, load: Callable[[], LedgerArtifact]) -> Any:
    """A module-scoped autouse fixture: once the test module has run, every custom error of
    ``contract``'s ABI (``load()``) was triggered by a test, arguments asserted.

    Bind it to a name in the contract's test module::

        error_coverage_check = error_coverage("FLLedger", load_artifact)

    The check is made only when every test function of the module was selected (not under ``-k``
    or a node id picking some of them) and no test failed (a failure already says what is wrong).
    """

    @pytest.fixture(scope="module", autouse=True)
    def check_error_coverage(request: pytest.FixtureRequest) -> Iterator[None]:
        yield
        module = request.module
        defined = {n for n, f in vars(module).items() if n.startswith("test") and callable(f)}
        selected = {
            getattr(item, "originalname", item.name)
            for item in request.session.items
            if getattr(item, "module", None) is module
        }
        if selected != defined or request.session.testsfailed or request.session.shouldfail:
            return
        missing = uncovered_errors(contract, load())
        assert not missing, f"{contract}'s custom errors not covered by its tests: " + "; ".join(
            missing
        )

    return check_error_coverage
