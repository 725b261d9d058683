"""The multi-process mode for real: `hefl node` (Anvil), a party and three participants as
separate OS processes, coordinating only through the contract and the blob store.

Checked afterwards by a client that shares nothing with the agents: a fresh web3 connection with
the artifact's ABI, and keccak256 of the blob files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_utils import keccak
from web3 import Web3

from hefl.agents.identity import load_private_key
from hefl.chain.anvil import free_port, wait_until_ready
from hefl.chain.artifact import load_artifact

pytestmark = pytest.mark.anvil

PASSWORD = "multi-process test password"
#: Upper bound on any wait in these tests, so a stuck agent fails the test instead of hanging.
WAIT_S = 240.0
FINALISED = 3


def hefl(*args: str) -> list[str]:
    return [sys.executable, "-m", "hefl.cli.main", *args]


class Cluster:
    """A node plus agents started as subprocesses; everything is killed at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "HEFL_KEYSTORE_PASSWORD": PASSWORD}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.root / f"{name}.out").open("wb")
        process = subprocess.Popen(
            hefl(*args), env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root
        )
        self.processes[name] = process
        return process

    def call(self, *args: str) -> str:
        done = subprocess.run(
            hefl(*args), env=self.env, cwd=self.root, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def agent(self, i: int) -> subprocess.Popen[bytes]:
        return self.start(
            f"p{i}", "participant", "run", "--dir", f"p{i}", "--job", "party/job.json",
            "--rpc", self.url, "--blobs", "blobs",
        )  # fmt: skip

    def setup(self, *, deadline: float, tau: int = 3, mode: str = "literal") -> str:
        self.start("node", "node", "--port", str(self.port), "--state", "chain.json")
        wait_until_ready(self.url, self.processes["node"])
        self.call("split", "--dataset", "diabetes", "-n", "3", "--out", "data")
        for i in range(3):
            self.call("participant", "init", "--dir", f"p{i}", "--data",
                      f"data/participant_{i}.npz")  # fmt: skip
        out = self.call(
            "party", "setup", "--dir", "party", "--rpc", self.url, "--fund", "--blobs", "blobs",
            "--participant", "p0", "--participant", "p1", "--participant", "p2",
            "--tau", str(tau), "--rounds", str(FINALISED), "--deadline", str(deadline),
            "--mode", mode,
        )  # fmt: skip
        return json.loads(out.strip().splitlines()[-1])["ledger"]

    def party(self) -> subprocess.Popen[bytes]:
        return self.start(
            "party", "party", "run", "--dir", "party", "--rpc", self.url, "--blobs", "blobs",
            "--test", "data/test.npz",
        )  # fmt: skip

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path: Path):
    cluster = Cluster(tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()


def independent_ledger(url: str, address: str):
    """A fresh web3 connection and contract object: nothing shared with the agents."""
    w3 = Web3(Web3.HTTPProvider(url))
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact().abi_list)


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {WAIT_S} s waiting for {what}")


def check_history(cluster: Cluster, address: str) -> list[tuple]:
    contract = independent_ledger(cluster.url, address)
    accounts, _ = contract.functions.participants().call()
    rounds = [
        contract.functions.getRound(g).call() for g in range(contract.functions.roundCount().call())
    ]
    assert [r[2] for r in rounds] == [FINALISED] * 3  # RoundStatus.Finalised == 3
    for g, r in enumerate(rounds):
        included = [i for i in range(3) if r[6] >> i & 1]
        for i in included:
            model, extra = contract.functions.getSubmission(g, accounts[i]).call()
            for digest in (model, extra):
                blob = cluster.root / "blobs" / digest.hex()[:2] / digest.hex()
                assert (
                    keccak(blob.read_bytes()) == digest
                )  # the blob store holds what the chain says
        aggregate = cluster.root / "blobs" / r[4].hex()[:2] / r[4].hex()
        assert keccak(aggregate.read_bytes()) == r[4]
    return rounds


def no_secrets_leaked(cluster: Cluster) -> None:
    stored = (cluster.root / "party" / "paillier.json").read_text()
    key = load_private_key(cluster.root / "party" / "paillier.json", PASSWORD)
    # Encrypted at rest: neither prime appears in the key file, in hex or in decimal.
    primes = [str(int(key.p)), hex(int(key.p))[2:], str(int(key.q)), hex(int(key.q))[2:]]
    assert not any(prime in stored for prime in primes)
    secrets = [PASSWORD, *primes]
    logs = [p.read_text() for p in cluster.root.glob("*.out")]
    logs += [p.read_text() for p in cluster.root.glob("*/agent.log")]
    for text in logs:
        for secret in secrets:
            assert secret not in text
    for private in ("party/paillier.json", "party/keystore.json", "p0/keystore.json"):
        assert (cluster.root / private).stat().st_mode & 0o777 == 0o600


def test_three_participants_one_killed_mid_round_and_restarted(cluster: Cluster) -> None:
    address = cluster.setup(deadline=120.0)
    contract = independent_ledger(cluster.url, address)
    participants = [cluster.agent(i) for i in range(3)]
    party = cluster.party()

    # Kill participant 1 while round 1 is open and before it submitted, then start it again.
    def round_one_open() -> bool:
        return contract.functions.roundCount().call() >= 2

    wait_for(round_one_open, "round 1 to open")
    participants[1].send_signal(signal.SIGKILL)
    participants[1].wait(timeout=10)
    participants[1] = cluster.agent(1)

    assert party.wait(timeout=WAIT_S) == 0, (cluster.root / "party.out").read_text()
    rounds = check_history(cluster, address)
    # Nobody was left out: the restarted participant submitted exactly once in round 1.
    assert all(r[6] == 0b111 and r[5] == 3 for r in rounds)
    verify = cluster.call("verify", "party", "--rpc", cluster.url, "--address", address,
                          "--blobs", "blobs")  # fmt: skip
    assert verify.startswith("OK: 3 rounds") and "live chain" in verify
    for process in participants:
        assert process.wait(timeout=60) == 0
    no_secrets_leaked(cluster)


def test_a_participant_away_past_the_deadline_is_left_out_and_the_party_resumes(
    cluster: Cluster,
) -> None:
    address = cluster.setup(deadline=6.0, mode="fused")
    contract = independent_ledger(cluster.url, address)
    cluster.agent(0)
    cluster.agent(1)
    party = cluster.party()

    def round_zero_decided() -> bool:
        return contract.functions.roundCount().call() >= 1 and (
            contract.functions.getRound(0).call()[2] >= 3
        )

    wait_for(round_zero_decided, "round 0 to be decided without participant 2")
    late = cluster.agent(2)
    # The computing party crashes too, once round 1 is open, and resumes from the chain.
    wait_for(lambda: contract.functions.roundCount().call() >= 2, "round 1 to open")
    party.send_signal(signal.SIGKILL)
    party.wait(timeout=10)
    party = cluster.party()
    assert party.wait(timeout=WAIT_S) == 0, (cluster.root / "party.out").read_text()
    rounds = check_history(cluster, address)
    assert rounds[0][6] == 0b011  # participant 2 recorded absent in round 0
    assert rounds[0][5] == 2
    assert rounds[-1][6] == 0b111  # and back once it came
    assert late.wait(timeout=60) == 0
    verify = cluster.call("verify", "party", "--rpc", cluster.url, "--address", address,
                          "--blobs", "blobs")  # fmt: skip
    assert verify.startswith("OK")
