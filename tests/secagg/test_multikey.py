"""Yang et al.'s multi-key scheme, step by step, against numpy and exact integer references."""

from __future__ import annotations

import math
import warnings

import gmpy2
import numpy as np
import pytest
from gmpy2 import mpz
from hypothesis import given, settings
from hypothesis import strategies as st

from hefl.errors import ConfigError, CryptoError, InsecureParameterError, SerializationError
from hefl.secagg import analysis
from hefl.secagg.base import MultiKeyScheme, run_round
from hefl.secagg.errors import (
    DecryptionError,
    LoneClientError,
    ProtocolError,
    RoundRestartRequired,
)
from hefl.secagg.multikey import (
    ClientCiphertext,
    GroupParams,
    MultiKeyClient,
    MultiKeyServer,
    SuperIncreasingVector,
    generate_group,
)
from hefl.secagg.quantise import Quantiser
from hefl.secagg.wire import DIGEST_BYTES, decode_frame, message_hash

pytestmark = pytest.mark.filterwarnings("ignore:multi-key secure aggregation:UserWarning")


def make_protocol(
    group: GroupParams, n: int, n_clients: int, quantiser: Quantiser | None = None
) -> tuple[MultiKeyServer, list[MultiKeyClient]]:
    server = MultiKeyServer.sys_gen(n, n_clients, quantiser, group=group, allow_insecure=True)
    clients = [MultiKeyClient.key_gen(i, server.para) for i in range(n_clients)]
    for c in clients:
        server.register(c.client_id, c.pk)
    return server, clients


def full_round(
    server: MultiKeyServer,
    clients: list[MultiKeyClient],
    vectors: list[np.ndarray],
    *,
    quantised: bool = False,
    round_index: int = 0,
) -> np.ndarray:
    """Run §3.2–§3.3 and return the integer sums (Algorithm 2 output, before de-quantising)."""
    offer = server.begin_round(round_index, [c.client_id for c in clients])
    for c, v in zip(clients, vectors, strict=True):
        c.begin_round(round_index, offer.pk_s)
        server.receive(c.enc(v, quantised=quantised))
    r = server.chel_gen()
    agg = server.agg({c.client_id: c.res_gen(r) for c in clients})
    return server.recover(server.dec(agg))


# --- correctness --------------------------------------------------------------------------
def test_sum_of_real_gradients_with_negatives_and_clip_edge(group512: GroupParams) -> None:
    rng = np.random.default_rng(7)
    n, n_clients = 257, 5
    q = Quantiser(clip=1.0, scale=2.0**12)
    server, clients = make_protocol(group512, n, n_clients, q)
    vectors = [rng.uniform(-1.5, 1.5, n) for _ in range(n_clients)]
    vectors[0][:4] = [1.0, -1.0, 1.0 + 1e-9, -7.0]  # exactly at and beyond ±∇_max
    vectors[1][:4] = [-1.0, 1.0, 3.0, -1.0 - 1e-9]
    offer = server.begin_round(3, range(n_clients), model=np.linspace(-1, 1, 5))
    for c, v in zip(clients, vectors, strict=True):
        c.begin_round(3, offer.pk_s)
        np.testing.assert_array_equal(c.dse(offer.models[c.client_id]), np.linspace(-1, 1, 5))
        server.receive(c.enc(v))
    r = server.chel_gen()
    total = server.finish({c.client_id: c.res_gen(r) for c in clients})
    exact = np.sum([np.clip(v, -1, 1) for v in vectors], axis=0)
    assert np.max(np.abs(total - exact)) <= q.tolerance(n_clients)
    assert np.any(total < 0) and np.any(total > 0)
    # the quantised references, exactly
    ref = np.sum([q.encode(v) for v in vectors], axis=0) - n_clients * q.offset
    np.testing.assert_array_equal(np.rint(total * q.scale).astype(np.int64), ref)


def test_sum_is_exact_on_quantised_integers(group512: GroupParams) -> None:
    rng = np.random.default_rng(11)
    n, n_clients = 100, 4
    server, clients = make_protocol(group512, n, n_clients)
    top = server.para.quantiser.int_max
    vectors = [rng.integers(0, top + 1, n) for _ in range(n_clients)]
    got = full_round(server, clients, vectors, quantised=True)
    np.testing.assert_array_equal(got, np.sum(vectors, axis=0))


def test_default_parameters_kappa1_2048(group2048: GroupParams) -> None:
    assert group2048.kappa1 == 2048 and group2048.q.bit_length() == 256
    group2048.validate()
    server = MultiKeyServer.sys_gen(300, 3, group=group2048)
    server.para.validate()
    clients = [MultiKeyClient.key_gen(i, server.para) for i in range(3)]
    for c in clients:
        server.register(c.client_id, c.pk)
    rng = np.random.default_rng(0)
    vectors = [rng.uniform(-1, 1, 300) for _ in range(3)]
    got = full_round(server, clients, vectors)
    q = server.para.quantiser
    exact = np.sum(vectors, axis=0)
    assert np.max(np.abs(q.decode_sum(got, 3) - exact)) <= q.tolerance(3)


def test_paper_literal_dec_without_lift_is_wrong(group512: GroupParams) -> None:
    """The printed Dec (β and d/T used mod p inside a mod-p² computation) does not decrypt."""
    grp = group512
    p, p2, q = mpz(grp.p), grp.p2, mpz(grp.q)
    g = mpz(grp.g)
    alpha = mpz(grp.random_exponent())
    beta_mod_p = gmpy2.powmod(g, alpha, p)  # β = g^α as the paper prints it
    m, r1 = mpz(123456789), mpz(grp.random_exponent())
    e1 = (1 + m * p) * gmpy2.powmod(beta_mod_p, r1, p2) % p2
    g_r1 = gmpy2.powmod(g, r1, p)  # what d/T yields
    x_literal = e1 * gmpy2.powmod(g_r1, q - alpha, p2) % p2
    assert (x_literal - 1) // p != m  # garbage
    # With the lifted β̃ and the lifted d/T (this module's correction) it decrypts exactly.
    beta_lift = gmpy2.powmod(grp.g_lift, alpha, p2)
    e1 = (1 + m * p) * gmpy2.powmod(beta_lift, r1, p2) % p2
    x = e1 * gmpy2.powmod(grp.lift(int(g_r1)), q - alpha, p2) % p2
    assert (x - 1) % p == 0 and (x - 1) // p == m


# --- Algorithm 2 and the super-increasing bounds ---------------------------------------------
def test_unpack_exact_at_the_super_increasing_bounds(group512: GroupParams) -> None:
    n_clients = 4
    q = Quantiser(clip=1.0, scale=2.0**10)
    server, clients = make_protocol(group512, 40, n_clients, q)
    para = server.para
    bound = q.sum_bound(n_clients)
    assert para.a.bound == bound and para.a.max_packed < group512.p
    # Σ_{j<i} a_j·B < a_i with equality one off: the gap is exactly one
    for i in range(1, para.k):
        assert (
            sum(para.a.a[:i]) * bound == para.a.a[i] - 1 or sum(para.a.a[:i]) * bound < para.a.a[i]
        )
    # every client at 2Q (x = +∇_max) → every coordinate of the sum is exactly B
    top = [np.full(40, q.int_max) for _ in range(n_clients)]
    np.testing.assert_array_equal(full_round(server, clients, top, quantised=True), bound)
    # every client at 0 (x = −∇_max)
    zero = [np.zeros(40, dtype=np.int64) for _ in range(n_clients)]
    np.testing.assert_array_equal(
        full_round(server, clients, zero, quantised=True, round_index=1), 0
    )
    # alternating extremes through real values at the clip edge
    alt = [np.where(np.arange(40) % 2 == 0, 1.0, -1.0) for _ in range(n_clients)]
    got = full_round(server, clients, alt, round_index=2)
    np.testing.assert_array_equal(got, np.where(np.arange(40) % 2 == 0, bound, 0))


def test_algorithm2_on_the_largest_packed_value() -> None:
    a = SuperIncreasingVector.geometric(6, 1000)
    assert a.unpack(a.pack([1000] * 6)) == [1000] * 6
    assert a.unpack(a.max_packed) == [1000] * 6
    with pytest.raises(ConfigError):
        a.pack([1001])
    with pytest.raises(DecryptionError):
        a.unpack(a.max_packed + 1)  # one past the bound overflows the top slot


@settings(max_examples=60, deadline=None)
@given(
    bound=st.integers(1, 10**6),
    data=st.data(),
)
def test_algorithm2_roundtrip_on_any_super_increasing_vector(
    bound: int, data: st.DataObject
) -> None:
    # a non-geometric super-increasing vector: a_i = Σ_{j<i} a_j·B + 1 + slack_i
    k = data.draw(st.integers(1, 12))
    a = [1]
    for _ in range(k - 1):
        a.append(sum(a) * bound + 1 + data.draw(st.integers(0, 10**4)))
    vec = SuperIncreasingVector(tuple(a), bound)
    values = data.draw(st.lists(st.integers(0, bound), min_size=k, max_size=k))
    assert vec.unpack(vec.pack(values)) == values


def test_not_super_increasing_is_rejected() -> None:
    with pytest.raises(ConfigError):
        SuperIncreasingVector((1, 10, 100), bound=10)  # 1·10 ≥ 10
    with pytest.raises(ConfigError):
        SuperIncreasingVector((2, 100), bound=1)


# --- §3.4 segments ----------------------------------------------------------------------------
def test_segment_boundaries(group512: GroupParams) -> None:
    q = Quantiser(clip=1.0, scale=2.0**12)
    n_clients = 3
    k = MultiKeyServer.sys_gen(10**4, n_clients, q, group=group512, allow_insecure=True).para.k
    rng = np.random.default_rng(5)
    for n in (1, k - 1, k, k + 1, 2 * k, 2 * k + 1):
        server, clients = make_protocol(group512, n, n_clients, q)
        para = server.para
        assert para.k == min(k, n)
        assert para.segments == math.ceil(n / para.k)
        assert len(set(para.betas)) == para.segments  # one server key per segment
        vectors = [rng.integers(0, q.int_max + 1, n) for _ in range(n_clients)]
        got = full_round(server, clients, vectors, quantised=True)
        np.testing.assert_array_equal(got, np.sum(vectors, axis=0))
        frame = decode_frame(clients[0].enc(vectors[0], quantised=True), b"HFMK")
        assert len(frame.groups[0]) + len(frame.groups[1]) == para.segments + 2


def test_segment_count_follows_n_log2_bound(group512: GroupParams) -> None:
    q = Quantiser(clip=1.0, scale=2.0**16)
    server = MultiKeyServer.sys_gen(1000, 10, q, group=group512, allow_insecure=True)
    b = q.sum_bound(10).bit_length()
    assert server.para.k == (group512.p.bit_length() - 1) // b
    assert server.para.segments == math.ceil(1000 / server.para.k)


# --- dropouts and the lone client -------------------------------------------------------------
@pytest.mark.parametrize("dropped", [1, 2, 3, 4])
def test_dropouts_up_to_n_minus_2(group512: GroupParams, dropped: int) -> None:
    n_clients, n = 6, 30
    scheme = MultiKeyScheme(Quantiser(scale=2.0**12), group=group512, allow_insecure=True)
    scheme.setup(n, n_clients)
    rng = np.random.default_rng(dropped)
    vectors = {i: rng.uniform(-1, 1, n) for i in range(n_clients)}
    responders = set(range(dropped, n_clients))  # the first `dropped` clients never answer R
    result = run_round(scheme, 0, vectors, responders=responders)
    assert result.online == responders and result.attempts == 2
    exact = np.sum([vectors[i] for i in responders], axis=0)
    assert np.max(np.abs(result.total - exact)) <= scheme.tolerance(len(responders))
    assert set(result.message_hashes) == responders


def test_client_that_sends_nothing_forces_a_restart(group512: GroupParams) -> None:
    server, clients = make_protocol(group512, 10, 4)
    offer = server.begin_round(0, range(4))
    for c in clients[:3]:
        c.begin_round(0, offer.pk_s)
        server.receive(c.enc(np.zeros(10)))
    with pytest.raises(RoundRestartRequired) as info:
        server.chel_gen()
    assert info.value.remaining == {0, 1, 2} and info.value.missing == {3}


def test_server_refuses_a_single_online_client(group512: GroupParams) -> None:
    server, _ = make_protocol(group512, 10, 3)
    with pytest.raises(LoneClientError):
        server.begin_round(0, [2])


def test_lone_client_aborts_when_pk_s_equals_its_key(group512: GroupParams) -> None:
    server, clients = make_protocol(group512, 10, 3)
    lone = clients[1]
    assert server.agg_pk_gen([1]) == lone.pk
    with pytest.raises(LoneClientError):
        lone.begin_round(0, server.agg_pk_gen([1]))
    with pytest.raises(ProtocolError):
        lone.enc(np.zeros(10))  # it never got a pk_S, so it cannot upload anything


def test_all_but_one_dropping_ends_in_lone_client_abort(group512: GroupParams) -> None:
    scheme = MultiKeyScheme(group=group512, allow_insecure=True)
    scheme.setup(5, 4)
    vectors = {i: np.zeros(5) for i in range(4)}
    with pytest.raises(LoneClientError):
        run_round(scheme, 0, vectors, responders={2})


# --- §4.1.3 collusion, computed for real --------------------------------------------------------
def test_collusion_of_server_and_n_minus_2_clients(group512: GroupParams) -> None:
    n_clients, n = 5, 60
    server, clients = make_protocol(group512, n, n_clients)
    grp = group512
    rng = np.random.default_rng(3)
    top = server.para.quantiser.int_max
    vectors = [rng.integers(0, top + 1, n) for _ in range(n_clients)]
    coins = {c.client_id: (grp.random_exponent(), grp.random_exponent()) for c in clients}
    offer = server.begin_round(0, range(n_clients))
    cts = {}
    for c, v in zip(clients, vectors, strict=True):
        c.begin_round(0, offer.pk_s)
        cts[c.client_id] = server.receive(c.enc(v, quantised=True, randomness=coins[c.client_id]))
    r = server.chel_gen()
    responses = {c.client_id: c.res_gen(r) for c in clients}
    honest = (1, 3)
    colluders = [c for c in clients if c.client_id not in honest]
    k_sum = sum(c.secret_key for c in colluders)
    rho = sum(coins[c.client_id][1] for c in colluders)
    pks = server.public_keys

    pair = analysis.collude_and_unpack(server, cts, responses, pks, honest, k_sum, rho)
    assert pair == (vectors[1] + vectors[3]).tolist()  # exactly the sum of the two

    for single in honest:
        with pytest.raises(DecryptionError):
            analysis.collude_and_unpack(server, cts, responses, pks, [single], k_sum, rho)
        outcome = analysis.collude(server, cts, responses, pks, [single], k_sum, rho)
        assert not outcome.valid
        true_packed = [
            server.para.a.pack(vectors[single][server.para.segment_slice(j)].tolist())
            for j in range(server.para.segments)
        ]
        assert all(x != y for x, y in zip(outcome.packed, true_packed, strict=True))

    # the honest protocol still yields the full sum
    agg = server.agg(responses)
    np.testing.assert_array_equal(server.recover(server.dec(agg)), np.sum(vectors, axis=0))


# --- serialization, tampering, truncation -----------------------------------------------------
@pytest.fixture()
def one_message(group512: GroupParams) -> tuple[MultiKeyServer, list[MultiKeyClient], bytes]:
    server, clients = make_protocol(group512, 50, 3)
    offer = server.begin_round(0, range(3))
    for c in clients:
        c.begin_round(0, offer.pk_s)
    return server, clients, clients[0].enc(np.linspace(-1, 1, 50))


def _reseal(data: bytes) -> bytes:
    """Recompute the digest after a deliberate tamper (an attacker can do that)."""
    from eth_utils import keccak

    body = data[:-DIGEST_BYTES]
    return body + keccak(body)


def test_message_roundtrip_and_size(one_message) -> None:
    server, _, msg = one_message
    assert len(msg) == server.para.message_size
    ct = ClientCiphertext.from_bytes(msg, server.para)
    assert ct.to_bytes(server.para) == msg
    assert len(message_hash(msg)) == 32


def test_flipped_bytes_anywhere_are_rejected(one_message) -> None:
    server, _, msg = one_message
    for pos in (0, 4, 5, 20, 40, 100, len(msg) // 2, len(msg) - 40, len(msg) - 1):
        bad = bytearray(msg)
        bad[pos] ^= 0x5A
        with pytest.raises(SerializationError):
            ClientCiphertext.from_bytes(bytes(bad), server.para)


def test_truncated_and_padded_messages_are_rejected(one_message) -> None:
    server, _, msg = one_message
    for cut in (0, 3, 20, 31, len(msg) // 2, len(msg) - 1):
        with pytest.raises(SerializationError, match="truncated"):
            ClientCiphertext.from_bytes(msg[:cut], server.para)
    with pytest.raises(SerializationError, match="padded"):
        ClientCiphertext.from_bytes(msg + b"\x00", server.para)


def test_resealed_tamper_is_caught_by_the_subgroup_checks(one_message) -> None:
    server, _, msg = one_message
    para = server.para
    header = len(msg) - DIGEST_BYTES - para.segments * para.width_p2 - 2 * para.width_p
    # low byte of the first E(∇̂_i1): its residue mod p leaves G
    pos = header + para.width_p2 - 1
    bad = bytearray(msg)
    bad[pos] ^= 0x01
    with pytest.raises(SerializationError, match="E\\(∇̂_i1\\)"):
        ClientCiphertext.from_bytes(_reseal(bytes(bad)), para)
    # low byte of B_i
    bad = bytearray(msg)
    bad[len(msg) - DIGEST_BYTES - 1] ^= 0x01
    with pytest.raises(SerializationError, match="E_i2"):
        ClientCiphertext.from_bytes(_reseal(bytes(bad)), para)
    # whichever way, the ledger hash no longer matches
    assert message_hash(_reseal(bytes(bad))) != message_hash(msg)


def test_deferred_subgroup_check_blames_the_sender(group512: GroupParams) -> None:
    server, clients = make_protocol(group512, 50, 3)
    para = server.para
    offer = server.begin_round(0, range(3))
    msgs = []
    for c in clients:
        c.begin_round(0, offer.pk_s)
        msgs.append(c.enc(np.zeros(50)))
    header = len(msgs[1]) - DIGEST_BYTES - para.segments * para.width_p2 - 2 * para.width_p
    bad = bytearray(msgs[1])
    bad[header + para.width_p2 - 1] ^= 0x01
    msgs[1] = _reseal(bytes(bad))
    for m in msgs:
        server.receive(m)  # deferred: accepted on receipt
    r = server.chel_gen()
    with pytest.raises(SerializationError, match="client 1"):
        server.finish({c.client_id: c.res_gen(r) for c in clients})
    eager = MultiKeyServer(para, server.secret_alphas, eager_checks=True)
    for c in clients:
        eager.register(c.client_id, c.pk)
    eager.begin_round(0, range(3))
    with pytest.raises(SerializationError, match="client 1"):
        eager.receive(msgs[1])


def test_wrong_round_duplicate_and_outsider_are_rejected(one_message, group512) -> None:
    server, clients, msg = one_message
    server.receive(msg)
    with pytest.raises(ProtocolError, match="already sent"):
        server.receive(msg)
    offer = server.begin_round(1, [0, 1])
    with pytest.raises(ProtocolError, match="round 0"):
        server.receive(msg)
    clients[2].begin_round(1, offer.pk_s)
    with pytest.raises(ProtocolError, match="not in the online set"):
        server.receive(clients[2].enc(np.zeros(50)))
    with pytest.raises(CryptoError):
        server.receive(b"HFPE" + msg[4:])  # another scheme's tag


def test_response_validation(one_message) -> None:
    server, clients, _ = one_message
    with pytest.raises(SerializationError):
        clients[1].res_gen(server.para.group.p - 1)  # order 2, not in G
    with pytest.raises(SerializationError):
        clients[1].res_gen(1)
    r = server.para.group.g
    clients[1].res_gen(r)
    with pytest.raises(ProtocolError, match="already answered"):
        clients[1].res_gen(r)


def test_encrypted_model_is_bound_to_its_client(group512: GroupParams) -> None:
    server, clients = make_protocol(group512, 4, 3)
    offer = server.begin_round(0, range(3), model=np.arange(4.0))
    for c in clients:
        c.begin_round(0, offer.pk_s)
    with pytest.raises(DecryptionError):
        clients[0].dse(offer.models[1])
    tampered = bytearray(offer.models[0])
    tampered[-1] ^= 1
    with pytest.raises(DecryptionError):
        clients[0].dse(bytes(tampered))
    with pytest.raises(SerializationError):
        clients[0].dse(offer.models[0][:10])


# --- parameters ---------------------------------------------------------------------------------
def test_small_kappa1_needs_allow_insecure_and_warns() -> None:
    with pytest.raises(InsecureParameterError):
        generate_group(512, 256)
    with pytest.warns(UserWarning, match="insecure"):
        generate_group(512, 256, allow_insecure=True)


def test_sysgen_rejects_bad_inputs(group512: GroupParams) -> None:
    with pytest.raises(ConfigError):
        MultiKeyServer.sys_gen(10, 1, group=group512, allow_insecure=True)
    with pytest.raises(InsecureParameterError):
        MultiKeyServer.sys_gen(10, 3, group=group512)
    corrupt = GroupParams(p=group512.p + 2, q=group512.q, g=group512.g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ConfigError):
            corrupt.validate(allow_insecure=True)


def test_group_structure(group512: GroupParams) -> None:
    grp = group512
    assert grp.kappa1 == 512 and (grp.p - 1) % grp.q == 0
    assert grp.contains(grp.g) and grp.g != 1
    assert grp.contains_lifted(int(grp.g_lift)) and grp.g_lift % grp.p == grp.g
    assert not grp.contains(grp.p - 1)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 2**256 - 1), min_size=1, max_size=8), st.integers(2, 2**200))
def test_fixed_base_powers_match_powmod(exponents: list[int], base: int) -> None:
    from hefl.crypto.multiexp import fixed_base_powers

    modulus = 2**521 - 1
    got = fixed_base_powers(base, exponents, modulus, 256)
    assert got == [pow(base, e, modulus) for e in exponents]


def test_syspara_json_roundtrip_and_rejection(group512: GroupParams) -> None:
    from hefl.secagg.multikey import SysPara

    server = MultiKeyServer.sys_gen(300, 4, group=group512, allow_insecure=True)
    para = server.para
    text = para.to_json()
    assert "alpha" not in text
    back = SysPara.from_json(text, allow_insecure=True)
    assert back == para and back.fingerprint() == para.fingerprint()
    with pytest.raises(InsecureParameterError):
        SysPara.from_json(text)  # a 512-bit group needs the explicit opt-in
    with pytest.raises(SerializationError):
        SysPara.from_json(text[:-5], allow_insecure=True)
    bad_beta = text.replace(hex(para.betas[0]), hex(para.betas[0] + 1))
    with pytest.raises(ConfigError):
        SysPara.from_json(bad_beta, allow_insecure=True)


@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_random_sizes_sum_exactly(group512: GroupParams, data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 120))
    n_clients = data.draw(st.integers(2, 6))
    server, clients = make_protocol(group512, n, n_clients, Quantiser(scale=2.0**10))
    top = server.para.quantiser.int_max
    vectors = [
        np.array(data.draw(st.lists(st.integers(0, top), min_size=n, max_size=n)))
        for _ in range(n_clients)
    ]
    got = full_round(server, clients, vectors, quantised=True)
    np.testing.assert_array_equal(got, np.sum(vectors, axis=0))


def test_independent_encryption_with_python_pow(group512: GroupParams) -> None:
    """A client written from the paper's formulas with plain ``pow`` is decrypted by the server."""
    server, clients = make_protocol(group512, 10, 2)
    para, grp = server.para, group512
    p, p2 = grp.p, grp.p * grp.p
    offer = server.begin_round(0, [0, 1])
    clients[0].begin_round(0, offer.pk_s)
    server.receive(clients[0].enc(np.zeros(10, dtype=np.int64), quantised=True))
    # client 1 by hand: ∇̂ = Σ a_j ∇_j (Eq. 2), E_11 = (p+1)^∇̂ β^{r1} mod p²,
    # E_12 = (g^{r2}, g^{r1} pk_S^{r2}) mod p
    values = list(range(10))
    packed = sum(a * v for a, v in zip(para.a.a, values, strict=False))
    r1, r2 = 12345678901234567, 98765432109876543
    e1 = pow(p + 1, packed, p2) * pow(para.betas[0], r1, p2) % p2
    a_, b_ = pow(grp.g, r2, p), pow(grp.g, r1, p) * pow(offer.pk_s, r2, p) % p
    msg = ClientCiphertext(0, 0, 1, (e1,), a_, b_).to_bytes(para)
    server.receive(msg)
    challenge = server.chel_gen()
    t1 = pow(challenge, clients[1].secret_key, p)
    got = server.recover(server.dec(server.agg({0: clients[0].res_gen(challenge), 1: t1})))
    assert got.tolist() == values
