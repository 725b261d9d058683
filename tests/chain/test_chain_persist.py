"""The embedded chain outlives its process: saved, then re-opened by another process with the same
blocks, block hashes and state root, and read there with real contract calls."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hefl.chain import LedgerClient, connect_embedded, deploy_ledger
from hefl.errors import ChainError

READER = r"""
import json, sys
from hefl.chain import LedgerClient, connect_embedded
chain = connect_embedded(state=sys.argv[1])
ledger = LedgerClient.at(chain, sys.argv[2])
latest = chain.w3.eth.get_block("latest")
r = ledger.get_round(0)
print(json.dumps({
    "number": latest["number"],
    "hash": latest["hash"].hex(),
    "state_root": latest["stateRoot"].hex(),
    "hashes": [chain.w3.eth.get_block(i)["hash"].hex() for i in range(latest["number"] + 1)],
    "rounds": ledger.round_count(),
    "tau": r.tau,
    "model_hash": r.global_model_hash.hex(),
}))
"""


def _open_one_round(chain):
    party, *participants = chain.accounts_for(4)
    ledger = deploy_ledger(chain, party, participants, [10, 20, 30], b"\x01" * 32, b"\x02" * 32)
    ledger.open_round(0, 5, b"\x03" * 32)
    return ledger


def test_a_saved_chain_reopens_in_another_process_with_the_same_blocks_and_state(tmp_path: Path):
    state = tmp_path / "chain.db"
    chain = connect_embedded(state=state)
    ledger = _open_one_round(chain)
    assert chain.save() == state
    latest = chain.w3.eth.get_block("latest")
    done = subprocess.run(
        [sys.executable, "-c", READER, str(state), ledger.address],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["number"] == latest["number"]
    assert seen["hash"] == latest["hash"].hex()
    assert seen["state_root"] == latest["stateRoot"].hex()
    assert seen["hashes"] == [
        chain.w3.eth.get_block(i)["hash"].hex() for i in range(latest["number"] + 1)
    ]
    assert seen["rounds"] == 1 and seen["tau"] == 5
    assert seen["model_hash"] == (b"\x03" * 32).hex()


def test_a_reopened_chain_goes_on_from_where_it_was(tmp_path: Path):
    state = tmp_path / "chain.db"
    chain = connect_embedded(state=state)
    ledger = _open_one_round(chain)
    chain.save()
    again = connect_embedded(state=state)
    assert again.block_number == chain.block_number
    resumed = LedgerClient.at(again, ledger.address).as_sender(ledger.party())
    # a new transaction on the re-opened chain: participant 0 submits to the open round
    p0 = resumed.participants()[0].address
    resumed.as_sender(p0).submit(0, b"\x04" * 32)
    assert again.block_number == chain.block_number + 1
    assert resumed.get_submission(0, p0).model_hash == b"\x04" * 32


def test_a_file_that_is_not_a_saved_chain_is_refused(tmp_path: Path):
    bad = tmp_path / "chain.db"
    bad.write_bytes(b"not a chain")
    with pytest.raises(ChainError, match="not a saved hefl embedded chain"):
        connect_embedded(state=bad)
    chain = connect_embedded(state=tmp_path / "good.db")
    raw = chain.save().read_bytes()
    (tmp_path / "cut.db").write_bytes(raw[: len(raw) - 7])
    with pytest.raises(ChainError, match="truncated or corrupt"):
        connect_embedded(state=tmp_path / "cut.db")
