"""Flower's deployment engine on loopback, as real processes: the README's deployment block run
verbatim by bash (``hefl node``, ``hefl flower prepare``, ``hefl flower new``,
``flower-superlink --insecure``, three ``flower-supernode`` and ``flwr run``, then ``hefl history``
and ``hefl verify``), bounded in time.

While it runs, the SuperNode of participant 2 is killed (SIGKILL, with the ClientApp process it
started) as soon as round 1 opens on chain. Round 1 must close without it (the deadline passes,
Eq. 10 renormalises over the two others, the two replicas reach the quorum) and the job must go on
to round 2; the history is complete and ``hefl verify`` replays it on the node.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from hefl.agents.network import JobFile
from hefl.chain import LedgerClient, RoundStatus, connect_rpc
from hefl.chain.anvil import free_port

from .conftest import bash, finish, readme_blocks

pytestmark = pytest.mark.timeout(600)

#: The participant whose SuperNode is killed, and the round in which that happens.
VICTIM, KILL_ROUND = 2, 1
#: Upper bound on the whole block (three rounds, each ClientApp a fresh process per message).
BLOCK_TIMEOUT_S = 540


def _processes(session: int) -> dict[int, tuple[int, str]]:
    """pid → (parent pid, command line) of the processes of ``session`` (the block's shell)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if int(fields[3]) == session:
                table[int(entry.name)] = (int(fields[1]), cmdline)
    return table


def _kill_supernode(session: int, directory: str) -> list[int]:
    """SIGKILL the SuperNode serving ``directory`` and every process below it."""
    table = _processes(session)
    victims = [p for p, (_, cmd) in table.items() if "flower-supernode" in cmd and directory in cmd]
    for root in victims:  # grows while it runs: the SuperExec, its ClientApp processes, …
        victims += [pid for pid, (parent, _) in table.items() if parent == root]
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return victims


def _watch(session: int, workdir: Path, rpc: str, stop: threading.Event, seen: dict) -> None:
    """Wait for the job, then for round 1 to open; then kill the victim's SuperNode."""
    job_file = workdir / "job" / "party" / "job.json"
    while not stop.is_set() and not job_file.exists():
        time.sleep(0.2)
    while not stop.is_set():
        try:
            ledger = LedgerClient.at(connect_rpc(rpc), JobFile.load(job_file).ledger)
            if ledger.round_count() > KILL_ROUND:
                seen["killed"] = _kill_supernode(session, f"job/participants/p{VICTIM}")
                seen["submissions"] = ledger.submissions(KILL_ROUND)
                seen["victim"] = ledger.participants()[VICTIM].address
                return
        except Exception:  # the job file is being written, or the node is not up yet
            pass
        time.sleep(0.05)


def test_readme_deployment_block_verifies_and_survives_a_killed_supernode(tmp_path):
    block = readme_blocks()[1]
    assert "flower-superlink --insecure" in block and "flwr run app" in block
    port, link = free_port(), free_port()
    rpc = f"http://127.0.0.1:{port}"
    shell = bash(block, tmp_path, PORT=str(port), LINK=str(link))
    stop, seen = threading.Event(), {}
    watcher = threading.Thread(
        target=_watch, args=(shell.pid, tmp_path, rpc, stop, seen), daemon=True
    )
    watcher.start()
    try:
        printed = finish(shell, timeout_s=BLOCK_TIMEOUT_S)
    finally:
        stop.set()
        watcher.join()
    logs = {p.name: p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("*.log")}
    assert shell.returncode == 0, printed[-6000:] + json.dumps(logs, indent=1)

    # The SuperNode died before it could submit in round 1.
    assert seen.get("killed"), "round 1 never opened, or no SuperNode was found to kill"
    assert seen["victim"] not in {s.participant for s in seen["submissions"] if s.submitted}

    job = tmp_path / "job"
    history = json.loads((job / "history.json").read_text())
    rounds = history["rounds"]
    assert [r["status"] for r in rounds] == ["finalised"] * 3
    assert rounds[0]["included"] == [0, 1, 2]
    assert rounds[1]["included"] == [0, 1] and rounds[2]["included"] == [0, 1]
    assert VICTIM not in rounds[1]["attested"] and VICTIM not in rounds[2]["attested"]
    assert not (job / "error.txt").exists()
    # hefl verify ran on the node (contract calls) and agreed; hefl history printed the rounds.
    assert "3 finalised with quorum" in printed, printed[-3000:]
    assert RoundStatus.FINALISED.name.lower() in printed
