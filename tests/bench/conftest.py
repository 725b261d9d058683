"""A toy ``hefl bench round`` result shared by the bench tests (run once per session)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def toy_round() -> dict:
    pytest.importorskip("phe")
    from hefl.bench import round as bench_round

    return bench_round.run(quick=True, features=6, participants=2, tau=2)
