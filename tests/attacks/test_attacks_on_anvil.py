"""The availability, header and outage attacks once more as OS processes on a real Anvil node:
a party and three participants (one of them malicious, run by ``malicious_participant.py``, or
the node itself killed and restarted), coordinating only through the contract and the store.
Every wait is bounded (``WAIT_S``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hefl.chain import LedgerClient, RoundStatus, connect_rpc
from hefl.chain.anvil import free_port, start_anvil

pytestmark = pytest.mark.anvil

PASSWORD = "attack test password"
WAIT_S = 300.0
#: One finalised round per run keeps each test near a minute and a half.
ROUNDS = 1
HERE = Path(__file__).resolve().parent


class Cluster:
    """An Anvil node with a state file, plus agents as subprocesses; all killed at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.state = root / "chain.json"
        self.env = {**os.environ, "HEFL_KEYSTORE_PASSWORD": PASSWORD}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.node, self.url = start_anvil(self.port, state=self.state)

    def restart_node(self, down_s: float) -> None:
        self.node.send_signal(signal.SIGKILL)
        self.node.wait(timeout=10)
        time.sleep(down_s)
        self.node = start_anvil(self.port, state=self.state)[0]

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "hefl.cli.main", *args],
            env=self.env, cwd=self.root, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr

    def start(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        out = (self.root / f"{name}.out").open("wb")
        process = subprocess.Popen(
            command, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=self.root
        )
        self.processes[name] = process
        return process

    def setup(self) -> str:
        self._run("split", "--dataset", "diabetes", "-n", "3", "--out", "data")
        for i in range(3):
            self._run("participant", "init", "--dir", f"p{i}", "--data",
                      f"data/participant_{i}.npz")  # fmt: skip
        self._run(
            "party", "setup", "--dir", "party", "--rpc", self.url, "--fund", "--blobs", "blobs",
            "--participant", "p0", "--participant", "p1", "--participant", "p2",
            "--tau", "2", "--rounds", str(ROUNDS), "--deadline", "40", "--void-timeout", "30",
        )  # fmt: skip
        import json

        return str(json.loads((self.root / "party" / "job.json").read_text())["ledger"])

    def participant(self, i: int, attack: str | None = None) -> None:
        where = ["--dir", f"p{i}", "--job", "party/job.json", "--rpc", self.url, "--blobs", "blobs"]
        if attack is None:
            command = [sys.executable, "-m", "hefl.cli.main", "participant", "run", *where]
        else:
            command = [sys.executable, str(HERE / "malicious_participant.py"), attack, *where]
        self.start(f"p{i}", command)

    def party(self) -> subprocess.Popen[bytes]:
        return self.start(
            "party",
            [sys.executable, "-m", "hefl.cli.main", "party", "run", "--dir", "party",
             "--rpc", self.url, "--blobs", "blobs"],
        )  # fmt: skip

    def wait_party(self, party: subprocess.Popen[bytes]) -> None:
        try:
            code = party.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(
                "the party did not finish: " + (self.root / "party.out").read_text()[-3000:]
            )
        assert code == 0, (self.root / "party.out").read_text()[-3000:]

    def stop(self) -> None:
        for process in [*self.processes.values(), self.node]:
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


def finalised(cluster: Cluster, address: str) -> list:
    ledger = LedgerClient.at(connect_rpc(cluster.url), address)
    rounds = [r for r in ledger.history() if r.status is RoundStatus.FINALISED]
    assert len(rounds) == ROUNDS
    return rounds


def test_availability_as_processes_a_withholding_participant_flips_nothing(
    cluster: Cluster,
) -> None:
    address = cluster.setup()
    cluster.participant(0)
    cluster.participant(1)
    cluster.participant(2, "withhold")
    cluster.wait_party(cluster.party())
    ledger = LedgerClient.at(connect_rpc(cluster.url), address)
    history = ledger.history()
    assert all(r.status is RoundStatus.FINALISED for r in history)  # no round disputed
    assert all(r.included_indices == (0, 1, 2) and r.dispute_count == 0 for r in history)


@pytest.mark.parametrize(
    "attack", ["header-bound", pytest.param("header-scale", marks=pytest.mark.slow)]
)
def test_header_as_processes_a_lying_header_is_left_out(cluster: Cluster, attack: str) -> None:
    address = cluster.setup()
    cluster.participant(0)
    cluster.participant(1)
    cluster.participant(2, attack)
    cluster.wait_party(cluster.party())
    for record in finalised(cluster, address):
        assert record.included_indices == (0, 1) and record.dispute_count == 0
    assert "Traceback" not in (cluster.root / "party.out").read_text()


def test_outage_as_processes_every_agent_rides_out_a_node_restart(cluster: Cluster) -> None:
    address = cluster.setup()
    for i in range(2):  # participant 2 joins after the outage, so the job is mid-round during it
        cluster.participant(i)
    party = cluster.party()
    ledger = LedgerClient.at(connect_rpc(cluster.url), address)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and (
        ledger.round_count() < 1 or ledger.get_round(0).submission_count < 2
    ):
        time.sleep(0.2)
    time.sleep(1.5)  # Anvil writes its state file every second
    cluster.restart_node(down_s=3.0)
    cluster.participant(2)
    cluster.wait_party(party)
    finalised(cluster, address)
    for name in ("party", "p0", "p1", "p2"):
        text = (cluster.root / f"{name}.out").read_text() + _agent_log(cluster, name)
        assert "Traceback" not in text, text[-3000:]
    logs = _agent_log(cluster, "party") + (cluster.root / "party.out").read_text()
    assert "unreachable" in logs and "reachable again" in logs


def _agent_log(cluster: Cluster, name: str) -> str:
    path = cluster.root / name / "agent.log"
    return path.read_text() if path.exists() else ""
