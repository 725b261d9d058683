"""Running the private algorithm with real ciphertexts: in process, or one OS process per agent.

:func:`run_private` builds N :class:`~hefl.dso.agent.Agent` s (each with its own key pair; the
others get only its public key), then per iteration k runs the three phases — every agent sends its
requests, every agent answers its neighbours' requests, every agent decrypts its responses and
updates — through a :class:`~hefl.dso.transport.Transport`. Every K iterations (and after the last)
each agent produces a :class:`~hefl.dso.agent.CheckpointRecord` that a ``checkpoint`` callback
(the ledger recorder of :mod:`hefl.dso.ledger`) commits.
"""

from __future__ import annotations

import secrets
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hefl.agents.identity import DEV_SCRYPT_N, open_secret, seal_secret
from hefl.crypto import InsecureKeyWarning, PrivateKey, generate_keypair
from hefl.dso.agent import Agent, CheckpointRecord
from hefl.dso.config import DsoConfig
from hefl.dso.emulation import Trajectory, make_cores
from hefl.dso.graph import Graph
from hefl.dso.problems import Problem
from hefl.dso.protocol import REQUEST, RESPONSE, Message, OpCounts
from hefl.dso.transport import InProcessTransport, Transport

MessageHook = Callable[[Message], None]
#: An agent's directory under a run's ``agents/``.
#: An agent's key file in its directory, and the file's document type (an encrypted file:
#: :func:`hefl.agents.identity.seal_secret`).
KEY_FILE, KEY_FILE_TYPE = "key.json", "hefl-dso-agent-key/v1"
AGENT_DIR = "agent-{}"


def generate_keys(n: int, config: DsoConfig) -> list[PrivateKey]:
    """One fresh key pair per agent (``allow_insecure`` silences the small-key warning)."""
    keys = []
    with warnings.catch_warnings():
        if config.allow_insecure:
            warnings.simplefilter("ignore", InsecureKeyWarning)
        for _ in range(n):
            _, sk = generate_keypair(config.key_bits, allow_insecure=config.allow_insecure)
            keys.append(sk)
    return keys


def build_agents(
    problem: Problem,
    graph: Graph,
    config: DsoConfig,
    keys: Sequence[PrivateKey],
    hooks: Callable[[int], tuple[MessageHook | None, MessageHook | None]] | None = None,
) -> list[Agent]:
    """Agent i gets its own private key and its neighbours' PUBLIC keys only."""
    cores = make_cores(problem, graph, config)
    agents = []
    for core in cores:
        on_send, on_receive = hooks(core.index) if hooks else (None, None)
        public = {j: keys[j].public_key for j in core.neighbours}
        agents.append(Agent(core, keys[core.index], public, on_send=on_send, on_receive=on_receive))
    return agents


def checkpoint_due(k_done: int, config: DsoConfig) -> int | None:
    """The checkpoint number due after ``k_done`` iterations, or None."""
    K, T = config.checkpoint_interval, config.iterations
    if k_done % K == 0 or k_done == T:
        return -(-k_done // K)
    return None


def run_iteration(agents: Sequence[Agent], transport: Transport, k: int) -> None:
    """One iteration's three phases across all agents."""
    for agent in agents:
        for message in agent.requests(k):
            transport.send(message)
    for agent in agents:
        degree = len(agent.core.neighbours)
        for message in transport.receive(agent.index, REQUEST, k, degree):
            transport.send(agent.answer(message))
    for agent in agents:
        degree = len(agent.core.neighbours)
        agent.apply(k, transport.receive(agent.index, RESPONSE, k, degree))


def run_private(
    problem: Problem,
    graph: Graph,
    config: DsoConfig,
    *,
    keys: Sequence[PrivateKey] | None = None,
    transport: Transport | None = None,
    hooks: Callable[[int], tuple[MessageHook | None, MessageHook | None]] | None = None,
    checkpoint: Callable[[CheckpointRecord], None] | None = None,
    progress: Callable[[int], None] | None = None,
    agents_out: list[Agent] | None = None,
) -> Trajectory:
    """The encrypted protocol in this process (see the module docstring)."""
    config.check_schedules(graph.max_degree)
    keys = list(keys) if keys is not None else generate_keys(graph.n, config)
    agents = build_agents(problem, graph, config, keys, hooks)
    if agents_out is not None:
        agents_out.extend(agents)
    transport = transport or InProcessTransport()
    T = config.iterations
    states = np.empty((T + 1, graph.n, problem.d))
    states[0] = [a.core.x for a in agents]
    seconds = 0.0
    for k in range(T):
        start = time.perf_counter()
        run_iteration(agents, transport, k)
        seconds += time.perf_counter() - start
        states[k + 1] = [a.core.x for a in agents]
        c = checkpoint_due(k + 1, config)
        if c is not None:
            for agent in agents:
                record = agent.checkpoint(c)
                if checkpoint is not None:
                    checkpoint(record)
        if progress is not None:
            progress(k)
    counts = OpCounts()
    for agent in agents:
        counts.add(agent.counts)
    deltas = {
        (a.index, j): tuple(x * w for x, w in zip(v, a.last_weights[j], strict=True))
        for a in agents
        for j, v in a.last_view.items()
    }
    return Trajectory(states, problem.optimum(), seconds, counts.to_json(), deltas)


# --- one OS process per agent ----------
def _agent_process(
    index: int,
    agent_dir: str,
    neighbour_dirs: dict[int, str],
    config_json: dict[str, Any],
    problem_json: dict[str, Any],
    graph_json: dict[str, Any],
    inboxes: dict[int, Any],
    results: Any,
    key_secret: str,
) -> None:
    """Body of agent ``index``'s process: its own key file (opened with ``key_secret``, which
    reached this process in memory), its neighbours' public key files."""
    from hefl.crypto import PublicKey
    from hefl.dso.agent import AgentCore
    from hefl.dso.files import AgentFiles
    from hefl.dso.problems import problem_from_json
    from hefl.dso.transport import ProcessTransport

    try:
        config = DsoConfig.from_json(config_json)
        problem = problem_from_json(problem_json)
        graph = Graph.from_json(graph_json)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureKeyWarning)
            plain = open_secret(Path(agent_dir) / KEY_FILE, KEY_FILE_TYPE, key_secret, "agent key")
            sk = PrivateKey.from_json(plain.decode(), allow_insecure=config.allow_insecure)
            public = {
                j: PublicKey.load(Path(d) / "public.json", allow_insecure=config.allow_insecure)
                for j, d in neighbour_dirs.items()
            }
        core = AgentCore(
            index,
            graph.neighbours(index),
            problem.local(index),
            config,
            problem.initial_state(index),
        )
        files = AgentFiles(Path(agent_dir))
        agent = Agent(core, sk, public, on_send=files.sent, on_receive=files.received)
        transport = ProcessTransport(inboxes)
        degree = len(core.neighbours)
        for k in range(config.iterations):
            for message in agent.requests(k):
                transport.send(message)
            for message in transport.receive(index, REQUEST, k, degree):
                transport.send(agent.answer(message))
            agent.apply(k, transport.receive(index, RESPONSE, k, degree))
            results.put(("state", index, k + 1, core.x.tolist()))
            c = checkpoint_due(k + 1, config)
            if c is not None:
                record = agent.checkpoint(c)
                results.put(
                    (
                        "checkpoint",
                        index,
                        c,
                        record.last_iteration,
                        record.transcript_hash,
                        record.state_blob,
                    )
                )
        files.close()
        results.put(("done", index, agent.counts.to_json()))
    except Exception as error:  # reported to the parent, which raises it as a HeflError
        results.put(("error", index, f"{type(error).__name__}: {error}"))


def run_processes(
    problem: Problem,
    graph: Graph,
    config: DsoConfig,
    workdir: Path,
    *,
    keys: Sequence[PrivateKey] | None = None,
    checkpoint: Callable[[CheckpointRecord], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Trajectory:
    """Each agent in its own OS process with its own directory ``workdir/agent-<i>`` holding its key
    file (``key.json``, mode 0600, encrypted under a per-run secret held in memory) and public
    key (``public.json``); messages go through
    :class:`~hefl.dso.transport.ProcessTransport`. Problems are rebuilt in each process from their
    JSON description (so a CSV problem needs a path every process can read)."""
    import multiprocessing as mp

    from hefl.errors import DsoMessageError

    config.check_schedules(graph.max_degree)
    keys = list(keys) if keys is not None else generate_keys(graph.n, config)
    # Each key file is encrypted under a random 256-bit secret that only travels to the agents'
    # processes in memory (spawn's pipe): the files are useless on disk, during and after the run.
    key_secret = secrets.token_urlsafe(32)
    dirs = {}
    for i, sk in enumerate(keys):
        d = workdir / AGENT_DIR.format(i)
        d.mkdir(parents=True, exist_ok=True)
        seal_secret(d / KEY_FILE, KEY_FILE_TYPE, sk.to_json().encode(), key_secret,
                    scrypt_n=DEV_SCRYPT_N)  # fmt: skip
        sk.public_key.save(d / "public.json")
        dirs[i] = str(d)
    ctx = mp.get_context("spawn")
    inboxes = {i: ctx.Queue() for i in range(graph.n)}
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_agent_process,
            args=(
                i,
                dirs[i],
                {j: dirs[j] for j in graph.neighbours(i)},
                config.to_json(),
                problem.to_json(),
                graph.to_json(),
                inboxes,
                results,
                key_secret,
            ),
            daemon=True,
        )
        for i in range(graph.n)
    ]
    T = config.iterations
    states = np.empty((T + 1, graph.n, problem.d))
    states[0] = [problem.initial_state(i) for i in range(graph.n)]
    start = time.perf_counter()
    for p in procs:
        p.start()
    done: dict[int, dict[str, int]] = {}
    reported = [0] * graph.n
    finished = 0  # iterations every agent has reported
    try:
        while len(done) < graph.n:
            item = results.get(timeout=3600)
            kind, index = item[0], item[1]
            if kind == "state":
                states[item[2], index] = item[3]
                reported[index] = item[2]
                while finished < min(reported):
                    if progress is not None:
                        progress(finished)
                    finished += 1
            elif kind == "checkpoint" and checkpoint is not None:
                checkpoint(CheckpointRecord(index, item[2], item[3], item[4], item[5]))
            elif kind == "done":
                done[index] = item[2]
            elif kind == "error":
                raise DsoMessageError(f"agent process {index} failed: {item[2]}")
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
    counts = OpCounts()
    for c in done.values():
        counts.add(OpCounts.from_json(c))
    return Trajectory(states, problem.optimum(), time.perf_counter() - start, counts.to_json())
