"""The CLI imports what a command needs (issue #18, start-up): ``hefl split`` and ``hefl participant
init`` run without importing web3, eth-account or scikit-learn, and a command's ``--help`` does
not import web3. Checked in a fresh interpreter through ``sys.modules`` after ``main([...])``:
which modules were loaded, never how long it took."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

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


def run_cli(args: list[str], cwd: Path) -> dict:
    env = {**os.environ, PASSWORD_ENV: "lazy imports test", DEV_KEYSTORE_ENV: "1"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(HEAVY), *args],
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

    from hefl.cli.main import SUMMARIES, build_parser

    def listing(parser: argparse.ArgumentParser) -> list[tuple[str, str | None]]:
        (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return [(action.dest, action.help) for action in commands._choices_actions]

    full = listing(build_parser())
    assert listing(build_parser(summary=True)) == full == list(SUMMARIES.items()), (
        "a command's one-line help changed: update hefl.cli.main.SUMMARIES to match"
    )
