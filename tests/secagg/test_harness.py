"""One test class, run against every scheme of the registry: sums against numpy, dropouts,
message sizes, tampered and truncated messages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hefl.errors import ConfigError, CryptoError, SerializationError
from hefl.secagg.base import (
    SCHEMES,
    PackedPaillierScheme,
    PerElementPaillierScheme,
    SecureAggregationScheme,
    make_scheme,
    run_round,
)
from hefl.secagg.multikey import GroupParams
from hefl.secagg.quantise import Quantiser
from hefl.secagg.wire import DIGEST_BYTES, aggregate_commitment, message_hash

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

N_PARAMS = 150
N_CLIENTS = 5
#: Small keys so the default suite stays fast (allow_insecure); the bench uses 2048 bits.
TEST_PAILLIER_BITS = 512


@pytest.fixture(scope="module")
def schemes(group512: GroupParams) -> dict[str, SecureAggregationScheme]:
    q = Quantiser(clip=1.0, scale=2.0**14)
    options = {
        "plaintext": {},
        "paillier": {"key_bits": TEST_PAILLIER_BITS, "allow_insecure": True},
        "packed-paillier": {"key_bits": TEST_PAILLIER_BITS, "allow_insecure": True},
        "multikey": {"group": group512, "allow_insecure": True},
    }
    out = {}
    for name, opts in options.items():
        scheme = make_scheme(name, quantiser=q, **opts)
        scheme.setup(N_PARAMS, N_CLIENTS)
        out[name] = scheme
    return out


def test_registry_has_the_four_schemes() -> None:
    assert set(SCHEMES) == {"plaintext", "paillier", "packed-paillier", "multikey"}
    with pytest.raises(ConfigError, match="unknown"):
        make_scheme("rot13")


@pytest.mark.parametrize("name", sorted(SCHEMES))
class TestEveryScheme:
    def test_sum_matches_numpy(self, schemes, name: str) -> None:
        scheme = schemes[name]
        rng = np.random.default_rng(42)
        vectors = {i: rng.uniform(-1, 1, N_PARAMS) for i in range(N_CLIENTS)}
        vectors[0][:2] = [1.0, -1.0]  # the clip edge
        result = run_round(scheme, 0, vectors)
        exact = np.sum(list(vectors.values()), axis=0)
        assert np.max(np.abs(result.total - exact)) <= scheme.tolerance(N_CLIENTS)
        assert result.attempts == 1 and result.online == set(range(N_CLIENTS))

    def test_dropouts_leave_the_sum_of_the_rest(self, schemes, name: str) -> None:
        scheme = schemes[name]
        rng = np.random.default_rng(1)
        vectors = {i: rng.uniform(-0.9, 0.9, N_PARAMS) for i in range(N_CLIENTS)}
        for dropped in range(1, N_CLIENTS - 1):
            rest = set(range(dropped, N_CLIENTS))
            result = run_round(scheme, dropped, vectors, responders=rest)
            exact = np.sum([vectors[i] for i in rest], axis=0)
            assert result.online == rest
            assert np.max(np.abs(result.total - exact)) <= scheme.tolerance(len(rest))

    def test_message_size_and_ciphertext_count(self, schemes, name: str) -> None:
        scheme = schemes[name]
        scheme.begin_round(9, range(N_CLIENTS))
        msg = scheme.client_encrypt(0, np.zeros(N_PARAMS))
        assert len(msg) == scheme.message_size()
        count = scheme.ciphertexts_per_client()
        if name == "paillier":
            assert count == N_PARAMS
        elif name in ("multikey", "packed-paillier"):
            assert 2 <= count < N_PARAMS // 4

    def test_tampered_and_truncated_messages_are_rejected(self, schemes, name: str) -> None:
        scheme = schemes[name]
        scheme.begin_round(10, range(N_CLIENTS))
        msgs = {i: scheme.client_encrypt(i, np.full(N_PARAMS, 0.25)) for i in range(N_CLIENTS)}
        for pos in (2, 30, len(msgs[0]) // 2, len(msgs[0]) - DIGEST_BYTES - 1):
            bad = bytearray(msgs[0])
            bad[pos] ^= 0xFF
            scheme.begin_round(10, range(N_CLIENTS))
            fresh = {i: scheme.client_encrypt(i, np.full(N_PARAMS, 0.25)) for i in msgs}
            fresh[0] = bytes(bad)
            with pytest.raises(SerializationError):
                scheme.aggregate(fresh)
        for cut in (10, len(msgs[0]) - 1):
            scheme.begin_round(10, range(N_CLIENTS))
            fresh = {i: scheme.client_encrypt(i, np.full(N_PARAMS, 0.25)) for i in msgs}
            fresh[1] = fresh[1][:cut]
            with pytest.raises(SerializationError, match="truncated"):
                scheme.aggregate(fresh)

    def test_message_of_another_scheme_is_rejected(self, schemes, name: str) -> None:
        scheme = schemes[name]
        other = schemes["plaintext" if name != "plaintext" else "paillier"]
        other.begin_round(11, range(N_CLIENTS))
        foreign = other.client_encrypt(0, np.zeros(N_PARAMS))
        scheme.begin_round(11, range(N_CLIENTS))
        msgs = {i: scheme.client_encrypt(i, np.zeros(N_PARAMS)) for i in range(N_CLIENTS)}
        msgs[0] = foreign
        with pytest.raises(CryptoError):
            scheme.aggregate(msgs)


def test_packed_paillier_slots_follow_the_bound(schemes) -> None:
    scheme = schemes["packed-paillier"]
    assert isinstance(scheme, PackedPaillierScheme)
    slots = scheme._slots
    assert slots.max_packed < int(scheme._pub.n)
    assert scheme.ciphertexts_per_client() == math.ceil(N_PARAMS / slots.k)


def test_paillier_baseline_on_a_small_key() -> None:
    """(Was the textbook-fallback test; the baselines now always run on hefl.crypto.)"""
    scheme = PerElementPaillierScheme(key_bits=256, allow_insecure=True)
    scheme.setup(8, 3)
    vectors = {i: np.linspace(-1, 1, 8) * (i + 1) / 3 for i in range(3)}
    result = run_round(scheme, 0, vectors)
    assert np.max(np.abs(result.total - sum(vectors.values()))) <= scheme.tolerance(3)


def test_ledger_hashes(schemes) -> None:
    scheme = schemes["multikey"]
    vectors = {i: np.zeros(N_PARAMS) for i in range(N_CLIENTS)}
    result = run_round(scheme, 20, vectors)
    assert all(len(h) == 32 for h in result.message_hashes.values())
    c1 = aggregate_commitment(20, list(result.message_hashes.values()), result.total.tobytes())
    c2 = aggregate_commitment(
        20, list(result.message_hashes.values())[::-1], result.total.tobytes()
    )
    assert c1 == c2 and len(c1) == 32
    assert message_hash(b"x") != message_hash(b"y")


def test_paillier_baselines_decrypt_with_phe(schemes) -> None:
    """Independent reference: phe decrypts the baselines' ciphertexts to the quantised slots."""
    pytest.importorskip("phe")
    from hefl.secagg.wire import decode_frame

    for name in ("paillier", "packed-paillier"):
        scheme = schemes[name]
        if not hasattr(scheme._priv, "to_phe"):
            pytest.skip("textbook backend has no phe bridge")
        phe_priv = scheme._priv.to_phe()
        scheme.begin_round(30, range(N_CLIENTS))
        x = np.linspace(-1, 1, N_PARAMS)
        frame = decode_frame(scheme.client_encrypt(0, x), scheme.MAGIC)
        plain = [phe_priv.raw_decrypt(c) for c in frame.groups[0]]
        quantised = scheme.quantiser.encode(x).tolist()
        if name == "paillier":
            assert plain == quantised
        else:
            k = scheme._slots.k
            unpacked = [
                v
                for j, c in enumerate(plain)
                for v in scheme._slots.unpack(c, min(k, N_PARAMS - j * k))
            ]
            assert unpacked == quantised
