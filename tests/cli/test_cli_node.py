"""``hefl node``: the terminal shows where the node is, never Anvil's funded development keys.

Runs the real Anvil binary from node_modules as a child of ``hefl node`` on loopback.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import pytest

from hefl.chain.anvil import free_port

pytestmark = pytest.mark.anvil

PRIVATE_KEY = re.compile(r"0x[0-9a-fA-F]{64}")


def test_node_prints_url_chain_id_and_log_but_no_keys(tmp_path):
    port = free_port()
    state = tmp_path / "state" / "chain.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "hefl.cli.main", "node", "--port", str(port), "--state", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line
        assert "chain id 31337" in line
        log = state.parent / "anvil.log"
        assert str(log) in line
        # the banner went to the log (0600), with its keys
        deadline = time.monotonic() + 10
        while "Private Keys" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert PRIVATE_KEY.search(log.read_text())
        assert log.stat().st_mode & 0o777 == 0o600
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    terminal = line + out + err
    assert not PRIVATE_KEY.search(terminal)
    assert "Mnemonic" not in terminal and "Private Keys" not in terminal
    assert process.returncode == 0
    # SIGTERM reached Anvil, which dumped its state on exit
    assert "block" in json.loads(state.read_text())


def test_anvil_does_not_outlive_a_killed_hefl_node(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "hefl.cli.main", "node", "--port", str(port),
         "--state", str(tmp_path / "chain.json")],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert process.stdout is not None
    assert "127.0.0.1" in process.stdout.readline()
    process.kill()
    process.wait(timeout=10)
    deadline = time.monotonic() + 10
    import socket

    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.1)
    pytest.fail("Anvil kept listening after hefl node was killed")
