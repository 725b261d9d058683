"""The CLI imports what a command needs (issue #18, start-up): ``hefl split`` and ``hefl participant
init`` run without importing web3, eth-account or scikit-learn, a command's ``--help`` does not
import web3, and ``hefl participant run`` reaches its node (reads, a locally signed transaction)
without web3, eth-account, py_ecc or aiohttp. Checked in a fresh interpreter through
``sys.modules`` after ``main([...])``: which modules were loaded, never how long it took."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from contract_testing import anvil_node
from hefl.agents.identity import DEV_KEYSTORE_ENV, PASSWORD_ENV

#: Packages the light commands must not load (web3 pulls eth-account, eth-keyfile and py_ecc).
HEAVY = ("web3", "eth_account", "eth_keyfile", "py_ecc", "sklearn")

PROBE = """
import contextlib, io, json, sys
from hefl.cli.main import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        code = main(sys.argv[2:])
    except SystemExit as exit:  # --help
        code = exit.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1].split(",")))
print(json.dumps({"code": code, "heavy": heavy, "out": out.getvalue()}))
"""


#: What a participant agent talking to a node over HTTP must not load: web3 and eth-account, and
#: what they pull (eth-keyfile, py_ecc's BLS code, aiohttp).
AGENT_HEAVY = ("web3", "eth_account", "eth_keyfile", "py_ecc", "aiohttp")

#: ``hefl participant run`` up to its agent: the job file (read as given in $JOB) and the daemon
#: replaced by the agent's first steps on the node: a ledger read and a locally signed
#: transaction (the keystore's key, over HTTP).
PARTICIPANT_PROBE = (
    """
import json, os, types
import hefl.agents.network as network

job = json.loads(os.environ["JOB"])
network.JobFile.load = classmethod(lambda cls, path: types.SimpleNamespace(**job))

def first_steps(self, directory, ledger, blobs, job):
    ledger.round_count()
    ledger.chain.transact({"from": ledger.sender, "to": ledger.sender, "value": 0})
    self.requests = dict(ledger.chain.requests)

network.ParticipantDaemon.__init__ = first_steps
network.ParticipantDaemon.run = lambda self: print(json.dumps(self.requests))
"""
    + PROBE
)


def run_cli(
    args: list[str],
    cwd: Path,
    *,
    heavy: tuple[str, ...] = HEAVY,
    probe: str = PROBE,
    env: dict[str, str] | None = None,
) -> dict:
    env = {**os.environ, PASSWORD_ENV: "lazy imports test", DEV_KEYSTORE_ENV: "1", **(env or {})}
    done = subprocess.run(
        [sys.executable, "-c", probe, ",".join(heavy), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_split_and_participant_init_import_neither_web3_nor_sklearn(tmp_path: Path) -> None:
    split = run_cli(["split", "--dataset", "diabetes", "-n", "2", "--out", "data"], tmp_path)
    assert split["code"] == 0 and split["heavy"] == []
    assert (tmp_path / "data" / "participant_1.npz").is_file()
    init = run_cli(
        ["participant", "init", "--dir", "p0", "--data", "data/participant_0.npz"], tmp_path
    )
    assert init["code"] == 0 and init["heavy"] == []
    identity = json.loads(init["out"])
    # What it made is what eth-account opens: the keystore holds the key of that address.
    from eth_account import Account

    keystore = json.loads((tmp_path / "p0" / "keystore.json").read_text())
    key = Account.decrypt(keystore, "lazy imports test")
    assert Account.from_key(key).address == identity["address"]
    with np.load(tmp_path / "data" / "participant_0.npz") as archive:
        assert identity["data_size"] == archive["y"].shape[0]


@pytest.mark.anvil
def test_participant_run_reaches_its_node_without_web3(tmp_path: Path) -> None:
    from hefl.chain import connect_rpc, deploy_ledger

    X = np.ones((4, 2))
    np.savez(tmp_path / "part.npz", X=X, y=np.arange(4.0))
    init = run_cli(["participant", "init", "--dir", "p0", "--data", "part.npz"], tmp_path)
    address = json.loads(init["out"])["address"]
    for url in anvil_node(2):
        chain = connect_rpc(url)
        party = chain.accounts()[0]
        ledger = deploy_ledger(chain, party, [address], [4], b"\1" * 32, b"\2" * 32)
        chain.transact({"from": party, "to": address, "value": 10**18})
        job = {"chain_id": chain.chain_id, "ledger": ledger.address}
        args = ["--dir", "p0", "--rpc", url, "--blobs", "blobs", "--job", "job.json"]
        result = run_cli(
            ["participant", "run", *args],
            tmp_path,
            heavy=AGENT_HEAVY,
            probe=PARTICIPANT_PROBE,
            env={"JOB": json.dumps(job)},
        )
        assert result["code"] == 0 and result["heavy"] == []
        requests = json.loads(result["out"].strip().splitlines()[-1])
        assert requests["eth_sendRawTransaction"] == 1 and requests["eth_call"] >= 1
        assert chain.rpc("eth_getTransactionCount", address, "latest") == "0x1"


@pytest.mark.parametrize(
    "command", [["split"], ["participant", "init"], ["participant", "run"]], ids=" ".join
)
def test_a_light_commands_help_imports_neither_web3_nor_sklearn(tmp_path: Path, command) -> None:
    result = run_cli([*command, "--help"], tmp_path)
    assert result["code"] == 0 and "usage: hefl" in result["out"]
    assert result["heavy"] == []


def test_party_setup_help_does_not_import_sklearn(tmp_path: Path) -> None:
    # It shows the ledger's default void timeout, which lives beside the web3 client
    # (hefl.chain.fl_ledger), and the strategies' names; scikit-learn it never needs.
    result = run_cli(["party", "setup", "--help"], tmp_path)
    assert result["code"] == 0 and "--void-timeout" in result["out"]
    assert "sklearn" not in result["heavy"]


def test_hefl_help_imports_no_command_module(tmp_path: Path) -> None:
    for argv in (["--help"], ["-h"]):
        result = run_cli(argv, tmp_path)
        assert result["code"] == 0 and result["heavy"] == []
        assert "participant" in result["out"] and "flower" in result["out"]
    probe = (
        "import sys\nfrom hefl.cli.main import main\ntry:\n    main(['--help'])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('hefl.cli.') or m == 'numpy'))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "['hefl.cli.main']"


def test_the_summary_lists_every_command_as_its_module_registers_it() -> None:
    import argparse

    from hefl.cli import SUMMARIES
    from hefl.cli.main import build_parser

    def listing(parser: argparse.ArgumentParser) -> list[tuple[str, str | None]]:
        (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return [(action.dest, action.help) for action in commands._choices_actions]

    full = listing(build_parser())
    assert listing(build_parser(summary=True)) == full == list(SUMMARIES.items()), (
        "a command's module registers its own help: pass hefl.cli.SUMMARIES[name] to add_parser"
    )
