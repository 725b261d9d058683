"""Job identity: the job file reaches each ClientApp through Flower's run config, and the ClientApp
checks it against the chain before it trains (chain id, ledger address, public-key hash,
configuration hash, its own registration); a mismatch is refused with one clear error.

The ClientApp object is called as Flower's runtime calls it (a QUERY message and a Context whose
run config carries the job); the chain is a real Anvil node.
"""

from __future__ import annotations

import secrets
from dataclasses import replace

import pytest
from flwr.app import Context, Message, MessageType, RecordDict
from flwr.supercore.task_identity import TaskIdentity

from hefl.agents.identity import write_private
from hefl.agents.network import JobFile
from hefl.chain import LedgerClient, connect_rpc
from hefl.crypto import generate_keypair
from hefl.errors import AgentError, ConfigError
from hefl.flower import client, wire
from hefl.flower.apps import build_apps
from hefl.flower.setup import prepare_job
from hefl.flower.simulate import PASSWORD_FILE, loopback_chain, run_config_for

from .conftest import job_spec

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    out = tmp_path_factory.mktemp("identity")
    password = secrets.token_urlsafe(16)
    write_private(out / PASSWORD_FILE, password)
    with loopback_chain(None) as url:
        prepared = prepare_job(job_spec(participants=2, rounds=1), connect_rpc(url), out, password)
        yield prepared, run_config_for(prepared, url)


@pytest.fixture(autouse=True)
def server_identity(monkeypatch):
    """The identity Flower's ServerApp runtime sets in its process before it builds messages."""
    for name, value in (("_task_id", 1), ("_run_id", 1), ("_node_id", 0)):
        monkeypatch.setattr(TaskIdentity, name, value)


def _query(run_config: dict, partition: int = 0) -> Message:
    """The QUERY the ServerApp sends first, handled by a fresh ClientApp under ``run_config``."""
    client._LOADED.clear()  # a fresh ClientApp process
    _, client_app = build_apps()
    message = Message(RecordDict(), dst_node_id=7, message_type=MessageType.QUERY)
    context = Context(
        run_id=1,
        node_id=7,
        node_config={wire.NODE_PARTITION_ID: partition},
        state=RecordDict(),
        run_config=run_config,
    )
    return client_app(message, context)


def _with_job(run_config: dict, job: JobFile) -> dict:
    return {**run_config, wire.RUN_JOB: job.to_text()}


def test_the_job_of_the_run_config_is_accepted_when_the_chain_holds_it(job):
    prepared, run_config = job
    reply = wire.payload(_query(run_config, partition=1))
    ledger = LedgerClient.at(connect_rpc(run_config[wire.RUN_RPC_URL]), prepared.job.ledger)
    assert reply["index"] == 1
    assert reply["address"] == ledger.participants()[1].address


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda j: replace(j, chain_id=j.chain_id + 1), "chain id"),
        (
            lambda j: replace(j, public_key_n=int(generate_keypair(512, allow_insecure=True)[0].n)),
            "public-key hash",
        ),
        (
            lambda j: replace(j, config={**j.config, "job": {**j.config["job"], "tau": 50}}),
            "configuration hash",
        ),
    ],
    ids=["chain-id", "public-key", "configuration"],
)
def test_a_job_that_differs_from_the_chain_is_refused_before_training(job, tamper, reason):
    prepared, run_config = job
    with pytest.raises(AgentError, match=f"refuses the job of the run config: .*{reason}"):
        _query(_with_job(run_config, tamper(prepared.job)))
    assert client._LOADED == {}  # nothing was kept: the next message is checked again


def test_a_job_naming_another_ledger_is_refused(job, tmp_path):
    """The ledger address of a second, different job on the same chain: its hashes differ."""
    prepared, run_config = job
    other = prepare_job(
        job_spec(participants=2, rounds=2),
        connect_rpc(run_config[wire.RUN_RPC_URL]),
        tmp_path,
        secrets.token_urlsafe(8),
    )
    wrong = replace(prepared.job, ledger=other.job.ledger)
    with pytest.raises(AgentError, match="refuses the job of the run config"):
        _query(_with_job(run_config, wrong))


def test_a_run_config_without_a_job_is_refused(job):
    _, run_config = job
    without = {k: v for k, v in run_config.items() if k != wire.RUN_JOB}
    with pytest.raises(ConfigError, match="the run config has no 'job'"):
        _query(without)
    with pytest.raises(ConfigError, match="is not a hefl job file"):
        _query({**run_config, wire.RUN_JOB: '{"format": 1}'})
