"""The private algorithm with real ciphertexts: equality with the integer emulation, antisymmetry,
operation counts, what each agent object holds, refusal of bad messages, schedules and graphs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from dso_testing import small_keys

from hefl.crypto import EncryptedVector, PrivateKey, PublicKey
from hefl.dso import (
    DsoConfig,
    DsoMessageError,
    EstimationProblem,
    GraphError,
    ScheduleError,
    complete,
    erdos_renyi,
    expected_counts,
    load_edge_list,
    make_graph,
    packing_layout,
    ring,
    run_emulation,
    run_private,
    run_processes,
)
from hefl.dso.protocol import REQUEST, RESPONSE, Message
from hefl.dso.runner import build_agents
from hefl.dso.schedule import PowerSchedule
from hefl.dso.transport import InProcessTransport
from hefl.errors import HeflError

SMALL = DsoConfig(iterations=15, key_bits=512, allow_insecure=True, seed=7)


def test_encrypted_run_equals_integer_emulation_bit_for_bit() -> None:
    problem, graph = EstimationProblem(), ring(5)
    encrypted = run_private(problem, graph, SMALL, keys=small_keys(5))
    emulated = run_emulation(problem, graph, SMALL)
    assert encrypted.states.tobytes() == emulated.states.tobytes()
    assert encrypted.last_deltas == emulated.last_deltas
    assert not np.array_equal(encrypted.states[0], encrypted.states[-1])


def test_equality_on_a_random_graph_with_regression_and_unpacked() -> None:
    from hefl.dso.problems import regression_problem

    problem = regression_problem("diabetes", 4, seed=1)
    graph = erdos_renyi(4, 0.6, seed=2)
    config = replace(
        SMALL, iterations=4, pack=False, a_min=0.3, a_max=0.45, diagonal_stepsizes=True
    )
    encrypted = run_private(problem, graph, config, keys=small_keys(4, 1024))
    assert encrypted.states.tobytes() == run_emulation(problem, graph, config).states.tobytes()


def test_2048_bit_keys_run_equals_emulation() -> None:
    config = DsoConfig(iterations=2, seed=3)  # 2048-bit keys, the default
    problem, graph = EstimationProblem(n=3), ring(3)
    encrypted = run_private(problem, graph, config)
    assert encrypted.states.tobytes() == run_emulation(problem, graph, config).states.tobytes()


def test_antisymmetry_of_pairwise_terms() -> None:
    trajectory = run_private(
        EstimationProblem(), ring(5), replace(SMALL, iterations=3), keys=small_keys(5)
    )
    deltas = trajectory.last_deltas
    assert len(deltas) == 10
    for (i, j), delta in deltas.items():
        assert delta == tuple(-v for v in deltas[(j, i)])
        assert any(delta)


@pytest.mark.parametrize("pack", [True, False])
def test_operation_counts(pack: bool) -> None:
    graph, problem = ring(5), EstimationProblem()
    config = replace(SMALL, iterations=2, pack=pack, checkpoint_interval=100)
    counts = run_private(problem, graph, config, keys=small_keys(5)).counts
    layout = packing_layout(config, problem.d)
    expected = expected_counts(graph.n, graph.directed_edges, layout)
    assert counts["encryptions"] == 2 * expected["encryptions"] == 2 * 5 * 3
    assert counts["rerandomizations"] == 2 * expected["rerandomizations"]
    assert counts["decryptions"] == 2 * expected["decryptions"]
    assert counts["exponentiations"] == 2 * 10 * 3
    assert counts["state_encryptions"] == 5 * 3  # one checkpoint, after the last iteration
    if pack:
        assert layout.ciphertexts == 1 and counts["decryptions"] == 2 * 10
    else:  # the unpacked counts: (N + 2|E|)·d encryptions and 2|E|·d decryptions
        assert counts["encryptions"] + counts["rerandomizations"] == 2 * (5 + 10) * 3
        assert counts["decryptions"] == 2 * 10 * 3


def _walk(root: object) -> list[object]:
    """Every object reachable from ``root`` through attributes, slots and containers."""
    seen: set[int] = set()
    out: list[object] = []
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type | type(len) | str | bytes | int | float):
            continue
        seen.add(id(obj))
        out.append(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        if hasattr(obj, "__dict__"):
            stack.extend(vars(obj).values())
        for slot in getattr(type(obj), "__slots__", ()):
            if hasattr(obj, slot):
                stack.append(getattr(obj, slot))
    return out


def test_agent_objects_hold_only_their_own_key_and_state() -> None:
    keys = small_keys(5)
    agents: list = []
    trajectory = run_private(
        EstimationProblem(), ring(5), replace(SMALL, iterations=3), keys=keys, agents_out=agents
    )
    final = trajectory.states[-1]
    for agent in agents:
        reachable = _walk(agent)
        private = [o for o in reachable if isinstance(o, PrivateKey)]
        assert private and all(o is keys[agent.index] for o in private)
        public = {o for o in reachable if isinstance(o, PublicKey)}
        allowed = {keys[j].public_key for j in (agent.index, *agent.core.neighbours)}
        assert public <= allowed
        arrays = [o for o in reachable if isinstance(o, np.ndarray)]
        for j in range(5):
            if j != agent.index:
                assert not any(
                    a.shape == final[j].shape and np.array_equal(a, final[j]) for a in arrays
                ), f"agent {agent.index} holds x_{j}"
        assert any(np.array_equal(a, final[agent.index]) for a in arrays)
        # Its view of a neighbour: weighted differences only, within the public bound.
        assert set(agent.last_view) == set(agent.core.neighbours)
        assert all(
            abs(v) <= agent.layout.value_bound for vs in agent.last_view.values() for v in vs
        )


def test_every_message_an_agent_receives_is_a_ciphertext_it_may_hold() -> None:
    """Requests arrive under the SENDER's key (which the receiver cannot decrypt: it holds no such
    private key); responses under the receiver's own key; nothing else ever reaches an agent."""
    keys = small_keys(5)
    received: dict[int, list[Message]] = {i: [] for i in range(5)}

    def hooks(i: int):
        return None, received[i].append

    run_private(EstimationProblem(), ring(5), replace(SMALL, iterations=2), keys=keys, hooks=hooks)
    for i, messages in received.items():
        assert len(messages) == 2 * 2 * 2  # 2 iterations × deg 2 × (request + response)
        for m in messages:
            assert m.recipient == i and m.sender in ring(5).neighbours(i)
            owner = m.sender if m.kind == REQUEST else i
            vector = EncryptedVector.from_bytes(m.payload, keys[owner].public_key)
            assert all(1 < c < keys[owner].public_key.nsquare for c in vector.ciphertexts)
            other = keys[i if owner != i else m.sender].public_key
            with pytest.raises(HeflError):  # bound to its key: not readable as another's
                EncryptedVector.from_bytes(m.payload, other)


def _three_phases(config: DsoConfig):
    graph, problem = ring(5), EstimationProblem()
    agents = build_agents(problem, graph, config, small_keys(5))
    transport = InProcessTransport()
    for a in agents:
        for m in a.requests(0):
            transport.send(m)
    responses: dict[int, list[Message]] = {}
    for a in agents:
        for m in transport.receive(a.index, REQUEST, 0, 2):
            r = a.answer(m)
            responses.setdefault(r.recipient, []).append(r)
    return agents, responses


@pytest.mark.parametrize("fault", ["garbage", "wrong-key", "out-of-bound", "missing", "stranger"])
def test_bad_neighbour_message_refused_and_iteration_not_applied(fault: str) -> None:
    agents, responses = _three_phases(replace(SMALL, iterations=2))
    victim = agents[0]
    before = victim.core.x.copy()
    good = responses[0]
    bad = list(good)
    m = good[0]
    if fault == "garbage":
        bad[0] = replace(m, payload=m.payload[:-7] + b"\x01" * 7)
    elif fault == "wrong-key":  # encrypted under the sender's own key instead of the recipient's
        forged = EncryptedVector.encrypt_ints(agents[m.sender].public_key, [5], bound=10)
        bad[0] = replace(m, payload=forged.to_bytes())
    elif fault == "out-of-bound":
        layout = victim.layout
        forged = EncryptedVector.encrypt_ints(
            victim.public_key, [layout.value_bound + 1], bound=layout.packed_bound(layout.slots)
        )
        bad[0] = replace(m, payload=forged.to_bytes())
    elif fault == "missing":
        bad = bad[1:]
    else:
        bad[0] = replace(m, sender=2)
    with pytest.raises(DsoMessageError) as info:
        victim.apply(0, bad)
    assert "agent 0" in str(info.value)
    assert np.array_equal(victim.core.x, before) and victim.core.k == 0
    victim.apply(0, good)  # the honest responses still apply: nothing was consumed
    assert victim.core.k == 1 and not np.array_equal(victim.core.x, before)


def test_bad_request_refused() -> None:
    agents, _ = _three_phases(replace(SMALL, iterations=2))
    request = Message(1, 1, 0, REQUEST, b"HFEV" + b"\x00" * 40)
    agents[0].core.k = 1
    with pytest.raises(DsoMessageError, match="refused iteration 1 request 1→0"):
        agents[0].answer(request)
    with pytest.raises(DsoMessageError, match="expected a request"):
        agents[0].answer(replace(request, kind=RESPONSE))
    # A request encrypted under the recipient's key instead of its sender's.
    wrong = EncryptedVector.encrypt_ints(agents[0].public_key, [1, 2, 3], bound=10)
    with pytest.raises(DsoMessageError, match="not a valid vector under its sender's key"):
        agents[0].answer(replace(request, payload=wrong.to_bytes()))
    assert agents[0].core.k == 1  # nothing applied


@pytest.mark.parametrize(
    ("gamma", "lam", "a_max", "condition"),
    [
        (PowerSchedule(1, 0.1, 1.2), PowerSchedule(0.05, 0.1, 1), 0.7, "Σγ_k = ∞"),
        (PowerSchedule(1, 0.1, 0.4), PowerSchedule(0.05, 0.1, 1), 0.7, "Σγ_k² < ∞"),
        (PowerSchedule(1, 0.1, 0.81), PowerSchedule(0.05, 0.1, 1.5), 0.7, "Σλ_k = ∞"),
        (PowerSchedule(1, 0.1, 0.81), PowerSchedule(0.05, 0.1, 0.5), 0.7, "Σλ_k² < ∞"),
        (PowerSchedule(1, 0.1, 0.81), PowerSchedule(0.05, 0.1, 0.8), 0.7, "Σλ_k²/γ_k < ∞"),
        (PowerSchedule(1, 0.1, 0.81), PowerSchedule(0.05, 0.1, 1), 0.75, "γ_0·a_max²·(max degree)"),
    ],
)
def test_bad_schedules_refused_naming_the_condition(gamma, lam, a_max, condition) -> None:
    config = DsoConfig(gamma=gamma, lam=lam, a_min=0.5, a_max=a_max)
    with pytest.raises(ScheduleError, match=condition.replace("(", r"\(").replace(")", r"\)")):
        run_emulation(EstimationProblem(), ring(5), config)


def test_graphs(tmp_path) -> None:
    assert ring(5).edges == ((0, 1), (0, 4), (1, 2), (2, 3), (3, 4))
    assert len(complete(5).edges) == 10 and complete(5).max_degree == 4
    g = erdos_renyi(8, 0.3, seed=4)
    assert g.is_connected() and g == erdos_renyi(8, 0.3, seed=4)
    w = ring(5).metropolis_weights()
    assert np.allclose(w.sum(axis=0), 1) and np.allclose(w, w.T)
    path = tmp_path / "edges.txt"
    path.write_text("# a path\n0 1\n1 2\n2 3\n")
    assert load_edge_list(path).edges == ((0, 1), (1, 2), (2, 3))
    assert make_graph(f"file:{path}", 0).n == 4
    path.write_text("0 1\n2 3\n")
    with pytest.raises(GraphError, match="not connected"):
        load_edge_list(path)
    with pytest.raises(GraphError, match="unknown graph"):
        make_graph("star", 5)
    for text, message in [
        ("0 1\n1 two\n", r"edges.txt:2: expected 'i j'"),
        ("0 1\n1 1\n", "self-loop"),
        ("0 1\n-1 2\n", "negative agent index"),
        ("# nothing\n", "has no edges"),
    ]:
        path.write_text(text)
        with pytest.raises(GraphError, match=message):
            load_edge_list(path)


@pytest.mark.slow
def test_agents_as_os_processes_equal_emulation(tmp_path) -> None:
    config = replace(SMALL, iterations=3)
    problem, graph = EstimationProblem(n=3), ring(3)
    trajectory = run_processes(problem, graph, config, tmp_path, keys=small_keys(3))
    assert trajectory.states.tobytes() == run_emulation(problem, graph, config).states.tobytes()
    key_file = tmp_path / "agent-0" / "key.json"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "agent-0" / "sent.jsonl").read_text().count("\n") == 3 * 4


class _ForgingTransport(InProcessTransport):
    """A faulty neighbour (test helper): agent 1's response to agent 0 at iteration 2 is
    encrypted under agent 1's own key instead of agent 0's."""

    def __init__(self, forger_key: PublicKey) -> None:
        super().__init__()
        self.forger_key = forger_key

    def send(self, message: Message) -> None:
        if (message.iteration, message.kind, message.sender, message.recipient) == (2, 1, 1, 0):
            forged = EncryptedVector.encrypt_ints(self.forger_key, [7], bound=10)
            message = replace(message, payload=forged.to_bytes())
        super().send(message)


def test_a_run_with_a_faulty_neighbour_stops_with_the_iteration_not_applied() -> None:
    keys = small_keys(5)
    agents: list = []
    problem, graph, config = EstimationProblem(), ring(5), replace(SMALL, iterations=5)
    with pytest.raises(DsoMessageError, match="agent 0 refused iteration 2 response 1→0"):
        run_private(
            problem,
            graph,
            config,
            keys=keys,
            transport=_ForgingTransport(keys[1].public_key),
            agents_out=agents,
        )
    honest = run_emulation(problem, graph, replace(config, iterations=2))
    assert agents[0].core.k == 2
    assert agents[0].core.x.tobytes() == honest.states[2][0].tobytes()
