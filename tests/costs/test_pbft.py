"""The PBFT message-flow model reproduces Eqs. 14–18 and the participation vectors δ."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hefl.costs import (
    CostParameters,
    Primitive,
    Role,
    commit_cycles,
    faulty_nodes,
    flow_cycles,
    flow_participation,
    message_flow,
    pre_prepare_cycles,
    prepare_cycles,
    reply_cycles,
    request_cycles,
)
from hefl.errors import ConfigError


def paper_counts(params: CostParameters, n: int, k: int) -> dict[tuple[int, Role], float]:
    return {
        (1, Role.PRIMARY): request_cycles(params, n, k),
        (2, Role.REPLICA): pre_prepare_cycles(params, n, k),
        (3, Role.PRIMARY): prepare_cycles(params, n),
        (3, Role.REPLICA): prepare_cycles(params, n),
        (4, Role.PRIMARY): commit_cycles(params, n, k),
        (4, Role.REPLICA): commit_cycles(params, n, k),
        (5, Role.PRIMARY): reply_cycles(params, n),
    }


@pytest.mark.parametrize(("nodes", "faults"), [(1, 0), (2, 0), (4, 1), (6, 1), (7, 2), (10, 3)])
def test_faulty_nodes_is_floor_of_a_third(nodes: int, faults: int) -> None:
    assert faulty_nodes(nodes) == faults


def test_flow_reproduces_eqs_14_to_18_on_table_1_grid() -> None:
    params = CostParameters()
    for n in range(1, 31):
        for k in (1, 2, n, n + 1, 40):
            derived = flow_cycles(message_flow(n, k), params)
            assert derived.keys() <= paper_counts(params, n, k).keys()
            for key, value in paper_counts(params, n, k).items():
                # a zero-cost step (F = 0 in step 5) has no operations at all
                assert derived.get(key, 0.0) == pytest.approx(value, rel=1e-12), (n, k, key)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 60),
    k=st.integers(1, 80),
    alpha=st.floats(1.0, 1e9),
    beta=st.floats(1.0, 1e9),
    theta=st.floats(1.0, 1e9),
)
def test_flow_reproduces_eqs_14_to_18_for_any_prices(
    n: int, k: int, alpha: float, beta: float, theta: float
) -> None:
    params = CostParameters(alpha=alpha, beta=beta, theta=theta)
    derived = flow_cycles(message_flow(n, k), params)
    for key, value in paper_counts(params, n, k).items():
        assert derived.get(key, 0.0) == pytest.approx(value, rel=1e-12)


def test_hand_computed_pbft_counts_n5() -> None:
    # N = 5, n = 6, F = 1, K = 5; β = 8e6, θ = 0.05e6, α = 0.2e6.
    p = CostParameters()
    assert request_cycles(p, 5, 5) == pytest.approx(5 * 8.05e6 + 8e6 + 5 * 0.05e6)  # 48.5e6
    assert request_cycles(p, 5, 5) == pytest.approx(48.5e6)
    assert pre_prepare_cycles(p, 5, 5) == pytest.approx(56.75e6)
    assert prepare_cycles(p, 5) == pytest.approx(2 * 8.05e6 + 8e6 + 0.25e6)  # 24.35e6
    assert commit_cycles(p, 5, 5) == pytest.approx(56.35e6)
    assert reply_cycles(p, 5) == pytest.approx(16.1e6)


def test_flow_participation_matches_the_papers_delta() -> None:
    delta = flow_participation(message_flow(5, 5))
    # [S1..S5] parts of δ_C = [0,1,1,0,1,1,1] and δ_P = [1,0,0,1,1,1,0].
    assert delta[Role.PRIMARY] == (1, 0, 1, 1, 1)
    assert delta[Role.REPLICA] == (0, 1, 1, 1, 0)


def test_flow_counts_signatures_and_macs_per_message() -> None:
    flow = message_flow(5, 3)
    step1 = [op for op in flow if op.step == 1]
    counts = {op.primitive: 0 for op in step1}
    for op in step1:
        counts[op.primitive] += op.count
    # verify 3 transactions, sign the pre-prepare once, one MAC per replica.
    assert counts == {
        Primitive.VERIFY_SIGNATURE: 3,
        Primitive.VERIFY_MAC: 3,
        Primitive.SIGN: 1,
        Primitive.MAC: 5,
    }


def test_price_reply_adds_one_signature_and_mac_to_commit() -> None:
    p = CostParameters()
    plain = flow_cycles(message_flow(4, 4), p)
    priced = flow_cycles(message_flow(4, 4, price_reply=True), p)
    for role in Role:
        assert priced[(4, role)] - plain[(4, role)] == pytest.approx(p.beta + p.theta)


def test_small_networks_have_no_quorum_cost() -> None:
    # N = 1: n = 2 tolerates no fault, so steps 3–5 verify no quorum messages.
    p = CostParameters()
    assert reply_cycles(p, 1) == 0
    assert (5, Role.PRIMARY) not in flow_cycles(message_flow(1, 1), p)


@pytest.mark.parametrize(("n", "k"), [(0, 1), (1, 0), (-2, 3)])
def test_bad_sizes_raise(n: int, k: int) -> None:
    with pytest.raises(ConfigError):
        message_flow(n, k)
