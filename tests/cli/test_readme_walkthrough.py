"""The README's multi-process walkthrough, extracted from README.md and run verbatim by bash.

Followed literally, the old walkthrough started one participant of three and left the job stuck
after round 0; the party's directory held no history, so `hefl history --run party` failed. The
block runs here as a user would paste it (only $PORT is set, to a free port, which the block
reads with a default of 8545), so the README cannot drift from what works.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hefl.chain.anvil import free_port

pytestmark = pytest.mark.anvil

README = Path(__file__).resolve().parents[2] / "README.md"
#: Upper bound on the whole walkthrough (three rounds with 2048-bit keys take about a minute).
WALKTHROUGH_TIMEOUT_S = 600


def walkthrough() -> str:
    """The first ```sh block of the README's multi-process section."""
    text = README.read_text()
    section = text[text.index("## Multi-process mode") :]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the multi-process section has no ```sh block"
    return match.group(1)


def test_the_readme_mentions_verify_with_rpc_and_address() -> None:
    section = README.read_text().split("## Multi-process mode")[1].split("\n## ")[0]
    assert "`hefl verify DIR --rpc URL --address A`" in section


def test_the_readme_walkthrough_runs_verbatim(tmp_path: Path) -> None:
    script = walkthrough()
    assert "for i in 0 1 2" in script and "participant run" in script
    env = {
        **os.environ,
        "PORT": str(free_port()),
        # `hefl` on PATH is this interpreter's console script.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    transcript = tmp_path / "walkthrough.out"
    with transcript.open("w") as sink:
        shell = subprocess.Popen(
            ["bash", "-e", "-c", script],
            cwd=tmp_path,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: everything it started ends with it
        )
        try:
            shell.wait(timeout=WALKTHROUGH_TIMEOUT_S)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(shell.pid, signal.SIGKILL)
            shell.wait(timeout=30)
    out = transcript.read_text()
    logs = {p.name: p.read_text() for p in tmp_path.glob("p?.err")}
    assert shell.returncode == 0, out + json.dumps(logs, indent=1)

    # Every round finalised with all three participants, and the party wrote hefl run's files.
    party = tmp_path / "party"
    for name in ("history.json", "metrics.csv", "deployment.json", "config.json", "model.npy"):
        assert (party / name).exists(), name
    history = json.loads((party / "history.json").read_text())
    assert [r["status"] for r in history["rounds"]] == ["finalised"] * 3
    assert all(r["included"] == [0, 1, 2] for r in history["rounds"])
    assert all(r["metrics"]["test_loss"] > 0 for r in history["rounds"])
    assert len((party / "metrics.csv").read_text().splitlines()) == 4
    # `hefl history --run party` printed the rounds; `hefl verify` checked them on the node.
    assert "party: 3 rounds" in out
    assert "OK: 3 rounds" in out and "live chain" in out
