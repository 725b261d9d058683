"""Fixtures for the pow-race tests: the embedded chain and a real Anvil node on a loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from pow_helpers import CONFIG_HASH, GENESIS_HASH, PowDeployer

from hefl.chain import Chain, connect_embedded, connect_rpc
from hefl.chain.pow import PowLedgerClient, deploy_pow_ledger, difficulty_to_target

REPO_ROOT = Path(__file__).resolve().parents[2]
ANVIL = REPO_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
#: Funded accounts: a deployer, owners, aggregators and outsiders.
ACCOUNTS = 10
ANVIL_START_TIMEOUT_S = 30.0
#: Expected hashes per block in the contract tests: a valid nonce in a few dozen tries.
TEST_DIFFICULTY = 16


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def anvil_url() -> Iterator[str]:
    """A fresh Anvil node on 127.0.0.1 for the session (stopped by its pid afterwards)."""
    if not (ANVIL.is_file() and os.access(ANVIL, os.X_OK)):
        pytest.skip(f"Anvil binary missing at {ANVIL}; run `npm ci` to install it")
    port = _free_port()
    proc = subprocess.Popen(
        [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--accounts", str(ACCOUNTS)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ANVIL_START_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"anvil exited with {proc.returncode}: {err}")
            try:
                connect_rpc(url, timeout_s=2.0)
                break
            except Exception:
                if time.monotonic() > deadline:
                    pytest.fail(f"anvil did not answer on {url} within {ANVIL_START_TIMEOUT_S} s")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def embedded_chain() -> Chain:
    return connect_embedded(num_accounts=ACCOUNTS)


@pytest.fixture(scope="session")
def anvil_chain(anvil_url: str) -> Chain:
    return connect_rpc(anvil_url)


@pytest.fixture(
    scope="session", params=["embedded", pytest.param("anvil", marks=pytest.mark.anvil)]
)
def chain(request: pytest.FixtureRequest) -> Chain:
    """Each contract test runs once on eth-tester/py-evm and once on a real Anvil node."""
    return request.getfixturevalue(f"{request.param}_chain")


@pytest.fixture(scope="session")
def accounts(chain: Chain) -> tuple[str, ...]:
    return chain.accounts_for(ACCOUNTS)


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
