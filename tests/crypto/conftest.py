"""Keys shared by the crypto tests: one real 2048-bit pair, and small insecure pairs for speed."""

from __future__ import annotations

import warnings

import pytest

from hefl.crypto import InsecureKeyWarning, PrivateKey, PublicKey, generate_keypair


def _small(bits: int) -> tuple[PublicKey, PrivateKey]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyWarning)
        return generate_keypair(bits, allow_insecure=True)


@pytest.fixture(scope="session")
def keypair() -> tuple[PublicKey, PrivateKey]:
    """A real 2048-bit key pair (generated once per session)."""
    return generate_keypair(2048)


@pytest.fixture(scope="session")
def small_keypair() -> tuple[PublicKey, PrivateKey]:
    """A 512-bit pair: fast enough for hundreds of hypothesis examples."""
    return _small(512)


@pytest.fixture(scope="session")
def tiny_keypair() -> tuple[PublicKey, PrivateKey]:
    """A 256-bit pair: max_int is small, so overflow edges are cheap to reach."""
    return _small(256)


@pytest.fixture(scope="session")
def other_keypair() -> tuple[PublicKey, PrivateKey]:
    """A second, unrelated small pair for wrong-key tests."""
    return _small(512)
