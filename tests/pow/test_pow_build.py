"""The PowLedger build: NatSpec on every external function, and ``deploy/compile.py --check``.

Artifact == solc-js recompile == Hardhat compile, the interface each contract is built with and
NatSpec on every declaration are tested for both contracts in ``tests/chain/test_chain_build.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from contract_testing import REPO_ROOT, needs_node

SOURCE = REPO_ROOT / "contracts" / "PowLedger.sol"
#: The interface that states every external function's specification.
INTERFACE = REPO_ROOT / "contracts" / "IPowLedger.sol"
#: Compiling both contracts can take a while on a shared 2-core machine.
COMPILE_TIMEOUT_S = 300


@pytest.mark.parametrize("path", [SOURCE, INTERFACE], ids=["PowLedger", "IPowLedger"])
def test_every_external_function_has_natspec(path: Path) -> None:
    # The interface carries the @notice; the contract inherits it (@inheritdoc IPowLedger).
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("function ") and (
            " external" in line or "external" in " ".join(lines[i : i + 8])
        ):
            before = "\n".join(lines[max(0, i - 12) : i])
            assert "@notice" in before or "@inheritdoc IPowLedger" in lines[i - 1], (
                f"no NatSpec above: {line.strip()}"
            )


@needs_node
@pytest.mark.slow
def test_deploy_compile_script_checks_both() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "deploy" / "compile.py"), "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "PowLedger.json: up to date" in proc.stdout
    assert "FLLedger.json: up to date" in proc.stdout
