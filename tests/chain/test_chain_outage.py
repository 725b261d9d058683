"""Every chain call rides out a node outage: Anvil killed (SIGKILL or SIGTERM) and restarted from
its state file while a client waits; the client logs the outage once and goes on.

Real Anvil processes on loopback (the npm binary)."""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path

import pytest

from hefl.chain import connect_rpc, deploy_ledger
from hefl.chain.anvil import free_port, start_anvil
from hefl.errors import ChainError

pytestmark = pytest.mark.anvil

#: Seconds the node stays down in the test (an Anvil restart by hand takes about this long).
DOWN_S = 2.0


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_a_client_survives_a_node_restart(tmp_path: Path, caplog, how):
    state = tmp_path / "anvil-state.json"
    port = free_port()
    node, url = start_anvil(port, state=state)
    restarted = []
    try:
        chain = connect_rpc(url)
        party, *participants = chain.accounts_for(4)
        ledger = deploy_ledger(chain, party, participants, [1, 2, 3], b"\x01" * 32, b"\x02" * 32)
        ledger.open_round(0, 5, b"\x03" * 32)
        time.sleep(1.5)  # Anvil dumps its state every second: let the round reach the file
        node.send_signal(how)
        node.wait(timeout=10)

        def restart() -> None:
            time.sleep(DOWN_S)
            restarted.append(start_anvil(port, state=state)[0])

        thread = threading.Thread(target=restart)
        thread.start()
        with caplog.at_level(logging.WARNING, logger="hefl.chain.node"):
            assert ledger.round_count() == 1  # blocks through the outage, answers after it
            ledger.as_sender(participants[0]).submit(0, b"\x04" * 32)
        thread.join()
        assert ledger.get_submission(0, participants[0]).model_hash == b"\x04" * 32
        messages = [r.getMessage() for r in caplog.records]
        assert sum("unreachable" in m for m in messages) == 1
        assert sum("reachable again" in m for m in messages) == 1
    finally:
        for process in [node, *restarted]:
            if process.poll() is None:
                process.kill()


def test_an_outage_longer_than_the_limit_is_one_clear_error(tmp_path: Path):
    node, url = start_anvil(free_port())
    chain = connect_rpc(url, outage_limit_s=1.0)
    node.kill()
    node.wait(timeout=10)
    started = time.monotonic()
    with pytest.raises(ChainError, match=r"unreachable for \d+ s; start it again"):
        chain.block_number  # noqa: B018
    assert time.monotonic() - started < 15


def test_a_wrong_url_fails_at_once():
    started = time.monotonic()
    with pytest.raises(ChainError, match="cannot reach an Ethereum node"):
        connect_rpc(f"http://127.0.0.1:{free_port()}")
    assert time.monotonic() - started < 5


def test_a_transaction_that_reverts_after_its_simulation_passed_is_decoded_by_name(
    anvil_chain, monkeypatch
):
    """The state changed between simulation and mining (here: the simulation is skipped, as if
    it had run on the state before another vote finalised the round). The mined revert is named,
    not "reverted … although its simulation passed"."""
    from hefl.errors import ContractRevertError

    party, *participants = anvil_chain.accounts_for(4)
    ledger = deploy_ledger(anvil_chain, party, participants, [1, 2, 3], b"\x01" * 32, b"\x02" * 32)
    ledger.open_round(0, 5, b"\x03" * 32)
    voter = ledger.as_sender(participants[0])
    real_call = anvil_chain.call
    calls = []

    def passes_once(*args, **kwargs):  # the stale simulation: it passes
        calls.append(args)
        if len(calls) == 1:
            return b""
        return real_call(*args, **kwargs)

    monkeypatch.setattr(anvil_chain, "call", passes_once)
    monkeypatch.setattr(anvil_chain, "_gas_limit_for", lambda *a, **k: 100_000)
    with pytest.raises(ContractRevertError) as caught:
        voter.attest(0, b"\x05" * 32)  # round 0 is Open, not Aggregated
    assert caught.value.error_name == "RoundNotAggregated"
    assert caught.value.error_args[0] == 0
