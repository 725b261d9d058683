"""``hefl flower simulate``: a whole Flower job on the simulation engine, with a chain on loopback.

The participants run as ClientApps in the simulation engine's worker processes (Ray actors) and
send their own transactions, so the chain must be reachable from every process: a JSON-RPC node
(``rpc``), or an Anvil started here on 127.0.0.1 for the run's length. The run's directory ends
up with the same files as ``hefl run`` (``history.json``, ``metrics.csv``, ``deployment.json``,
``config.json``, ``blobs/``), so ``hefl verify DIR`` and ``hefl history --run DIR`` work on it,
plus the agents' directories of :mod:`hefl.flower.setup` (their keystores are encrypted with a
random password kept in ``DIR/password``, 0600).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hefl.agents.identity import write_private
from hefl.chain import connect_rpc
from hefl.chain.anvil import start_anvil
from hefl.control.loop import RoundSummary
from hefl.data import PreparedData, SplitConfig, load_dataset, prepare
from hefl.errors import AgentError
from hefl.flower import require_flower, wire
from hefl.flower.setup import (
    EVALUATOR_FILE,
    FlowerJobSpec,
    PreparedJob,
    prepare_job,
)

if TYPE_CHECKING:  # hefl.flower.multikey imports flwr, an optional dependency
    from hefl.flower.multikey import MultiKeyHook, MultiKeyRound, MultiKeySpec

log = logging.getLogger("hefl.flower")

PASSWORD_FILE = "password"


@dataclass(frozen=True)
class SimulationResult:
    """A finished simulation: its directory, rounds, final model and what the server received."""

    out: Path
    prepared: PreparedJob
    rounds: tuple[RoundSummary, ...]
    model: np.ndarray
    received: tuple[Any, ...]
    error: str | None
    seconds: float


@contextlib.contextmanager
def loopback_chain(rpc: str | None) -> Iterator[str]:
    """``rpc`` as given, or an Anvil on 127.0.0.1 that is stopped on exit."""
    if rpc:
        yield rpc
        return
    process, url = start_anvil(accounts=2)
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except Exception:  # pragma: no cover - a stuck node
            process.kill()


def prepare_run(spec: FlowerJobSpec, out: Path, rpc: str) -> PreparedJob:
    """The job in ``out`` on the node at ``rpc``: the agents' keystores encrypted with a random
    password kept in ``out/password`` (0600), the ledger deployed (:func:`prepare_job`)."""
    out.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    write_private(out / PASSWORD_FILE, password)
    return prepare_job(spec, connect_rpc(rpc), out, password)


def run_config_for(prepared: PreparedJob, rpc: str, **extra: Any) -> dict[str, Any]:
    """The run config both apps read (the keys of :mod:`hefl.flower.wire`)."""
    config = {
        wire.RUN_JOB: prepared.job.to_text(),
        wire.RUN_JOB_FILE: str(prepared.job_file),
        wire.RUN_RPC_URL: rpc,
        wire.RUN_PARTY_DIR: str(prepared.party_dir),
        wire.RUN_BLOBS: str(prepared.blobs_dir),
        wire.RUN_OUT: str(prepared.root),
        wire.RUN_EVALUATOR: str(prepared.root / EVALUATOR_FILE),
        wire.RUN_PARTICIPANTS_ROOT: str(prepared.root / "participants"),
        wire.RUN_PASSWORD_FILE: str(prepared.root / PASSWORD_FILE),
    }
    config.update({k: v for k, v in extra.items() if v is not None})
    return config


def run_engine(server_app: Any, client_app: Any, supernodes: int, *, verbose: bool) -> None:
    """Flower's simulation engine: ``supernodes`` simulated SuperNodes on Ray, one CPU each."""
    from flwr.simulation import run_simulation

    run_simulation(
        server_app,
        client_app,
        num_supernodes=supernodes,
        backend_config={
            "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
            "init_args": {"log_to_driver": verbose, "include_dashboard": False},
        },
        verbose_logging=verbose,
    )


def simulate(
    spec: FlowerJobSpec,
    out: Path,
    *,
    rpc: str | None = None,
    reply_timeout_s: float = 120.0,
    verbose: bool = False,
    **extensions: Any,
) -> SimulationResult:
    """Prepare the job, run it on Flower's simulation engine, return what the ServerApp saw.

    ``extensions``: ``update_hook`` and ``strategy_class`` of :func:`hefl.flower.apps.build_apps`
    (the tests' dishonest agents)."""
    require_flower()
    from hefl.flower.apps import LAST_RUN, build_apps

    with loopback_chain(rpc) as url:
        prepared = prepare_run(spec, Path(out), url)
        out = prepared.root
        config = run_config_for(prepared, url, **{wire.RUN_REPLY_TIMEOUT: reply_timeout_s})
        server_app, client_app = build_apps(config, **extensions)
        n = len(prepared.data.parts)
        began = time.perf_counter()
        LAST_RUN.clear()
        run_engine(server_app, client_app, n, verbose=verbose)
        seconds = time.perf_counter() - began
    if not LAST_RUN:
        raise AgentError("the ServerApp did not run; see Flower's log above")
    strategy = LAST_RUN.pop()
    error = strategy.error
    return SimulationResult(
        out=out,
        prepared=prepared,
        rounds=tuple(strategy.rounds),
        model=strategy.model,
        received=tuple(strategy.received),
        error=None if error is None else str(error),
        seconds=seconds,
    )


@dataclass(frozen=True)
class MultiKeySimulation:
    """A finished multi-key job: its directory, rounds (the protocol's, and as ``hefl run``
    reports them), every message the ServerApp received, the data and why it stopped early."""

    out: Path
    prepared: PreparedJob
    rounds: tuple[MultiKeyRound, ...]
    summaries: tuple[RoundSummary, ...]
    model: np.ndarray
    received: tuple[Any, ...]
    error: str | None
    seconds: float

    @property
    def data(self) -> PreparedData:
        return self.prepared.data


def simulate_multikey(
    spec: MultiKeySpec,
    out: Path,
    *,
    dataset: str = "diabetes",
    target: str | None = None,
    split: SplitConfig | None = None,
    rpc: str | None = None,
    update_hook: MultiKeyHook | None = None,
    verbose: bool = False,
) -> MultiKeySimulation:
    """FedAvg under the multi-key scheme on the simulation engine, on ``FLLedger``
    (:mod:`hefl.flower.multikey`): the job prepared in ``out`` as :func:`simulate` prepares its
    own (each simulated SuperNode holds one participant's directory), the chain an Anvil on
    loopback unless ``rpc``; ``out`` ends up with the files of ``hefl run``.
    ``update_hook``: :data:`hefl.flower.multikey.MultiKeyHook` (the tests' dropouts)."""
    require_flower()
    from hefl.flower.multikey import (
        LAST_MULTIKEY,
        RUN_ALLOW_INSECURE,
        build_multikey_apps,
        prepare_multikey_job,
    )

    split = split or SplitConfig(participants=spec.clients, n_samples=None)
    data = prepare(load_dataset(dataset, target=target), split)
    described = {"dataset": dataset, "target": target, "split": asdict(split)}
    with loopback_chain(rpc) as url:
        root = Path(out)
        root.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(24)
        write_private(root / PASSWORD_FILE, password)
        prepared = prepare_multikey_job(
            spec, connect_rpc(url), root, password, data, data_description=described
        )
        config = run_config_for(prepared, url, **{RUN_ALLOW_INSECURE: spec.allow_insecure})
        server_app, client_app = build_multikey_apps(config, update_hook=update_hook)
        LAST_MULTIKEY.clear()
        began = time.perf_counter()
        run_engine(server_app, client_app, spec.clients, verbose=verbose)
        seconds = time.perf_counter() - began
    if not LAST_MULTIKEY:
        raise AgentError("the ServerApp did not run; see Flower's log above")
    strategy = LAST_MULTIKEY.pop()
    assert strategy.recording is not None
    return MultiKeySimulation(
        out=prepared.root,
        prepared=prepared,
        rounds=tuple(strategy.rounds),
        summaries=tuple(strategy.summaries),
        model=strategy.model,
        received=tuple(strategy.recording.received),
        error=None if strategy.error is None else str(strategy.error),
        seconds=seconds,
    )
