"""Fixtures for the secure-aggregation tests: groups are generated once per session."""

from __future__ import annotations

import warnings

import pytest

from hefl.secagg.multikey import GroupParams, generate_group

#: κ1 of the fast test group (the paper's 512 bits, with allow_insecure) and its |q|.
TEST_KAPPA1 = 512
TEST_Q_BITS = 256


@pytest.fixture(scope="session")
def group512() -> GroupParams:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return generate_group(TEST_KAPPA1, TEST_Q_BITS, allow_insecure=True)


@pytest.fixture(scope="session")
def group2048() -> GroupParams:
    return generate_group()
