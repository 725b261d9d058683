"""Shared fixtures. Tests never touch the network: data comes from ../shared/datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"

if "HEFL_DATA_HOME" not in os.environ and SHARED_DATASETS.is_dir():
    os.environ["HEFL_DATA_HOME"] = str(SHARED_DATASETS)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
