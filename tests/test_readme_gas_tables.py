"""The README's gas tables are what ``deploy/*gas_report.py`` measures now (run as a user would),
so a contract change cannot leave stale figures behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "script", ["deploy/gas_report.py", "deploy/pow_gas_report.py", "deploy/dso_gas_report.py"]
)
def test_readme_gas_table_is_the_scripts_output(script: str) -> None:
    table = subprocess.run(
        [sys.executable, str(ROOT / script)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout.strip()
    assert table.startswith("| operation | gas |")
    assert table in (ROOT / "README.md").read_text(), f"README's table is stale: run {script}"
