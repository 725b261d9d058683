"""hefl on Flower: jobs on Flower's simulation engine and on a loopback deployment.

Keys are 1024-bit with ``allow_insecure_keys`` throughout: these tests are about transport, roles
and the ledger, not key strength (2048-bit keys are the default and tested elsewhere). Every job
talks to a real Anvil node on 127.0.0.1 (started per job, stopped after it).
"""

from __future__ import annotations

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
