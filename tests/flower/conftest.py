"""hefl on Flower: jobs on Flower's simulation engine and on a loopback deployment.

Keys are 1024-bit with ``allow_insecure_keys`` throughout: these tests are about transport, roles
and the ledger, not key strength (2048-bit keys are the default and tested elsewhere). Every job
talks to a real Anvil node on 127.0.0.1 (started per job, stopped after it).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("flwr", reason="hefl.flower needs the flower extra: pip install -e '.[flower]'")

from hefl.chain.anvil import find_anvil
from hefl.data import SplitConfig
from hefl.errors import ConfigError
from hefl.flower.setup import FlowerJobSpec
from hefl.learning.strategy import LearningConfig

try:
    find_anvil()
except ConfigError as missing:  # pragma: no cover - CI runs npm ci first
    pytest.skip(str(missing), allow_module_level=True)

#: Test key size (see the module docstring).
KEY_BITS = 1024


def job_spec(
    participants: int, rounds: int, *, tau: int = 5, deadline_s: float = 60.0
) -> FlowerJobSpec:
    return FlowerJobSpec(
        split=SplitConfig(participants=participants, n_samples=None, seed=0),
        learning=LearningConfig(eta=0.05),
        key_bits=KEY_BITS,
        allow_insecure_keys=True,
        tau=tau,
        rounds=rounds,
        deadline_s=deadline_s,
    )


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_blocks() -> list[str]:
    """The ```sh blocks of the README's "Running on Flower" section, in order."""
    text = README.read_text()
    section = text[text.index("## Running on Flower") :].split("\n## ")[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def bash(script: str, cwd: Path, **env: str) -> subprocess.Popen[str]:
    """Start ``script`` as a user would paste it into bash (``-e``), in its own process group,
    with this interpreter's ``hefl``, ``flwr`` and Flower's executables first on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.Popen(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        env={**os.environ, "PATH": path, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def finish(shell: subprocess.Popen[str], timeout_s: float) -> str:
    """Wait for the script; whatever it left running ends with its process group."""
    try:
        out, _ = shell.communicate(timeout=timeout_s)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)
    return out
