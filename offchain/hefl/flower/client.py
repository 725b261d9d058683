"""The ClientApp side: a participant P_i and PBFT replica behind Flower's message handlers.

A ClientApp finds its participant directory (``participant-dir`` in the SuperNode's node config,
or ``participants-root``/p<partition-id> on the simulation engine), unlocks its own keystore and
connects to the job's chain itself. Before it trains it checks the job file that came through the
run config against the chain (:meth:`hefl.agents.network.JobFile.check`: chain id, public-key hash,
configuration hash, its own registration and |D_i|) and refuses a mismatch with an error reply.

* ``query`` — the job check; replies with the participant's address;
* ``train`` — the global model blob arrives; it must hash to the round's ``globalModelHash`` on
  chain; τ local steps on the encrypted model (fused or literal); the hashes are submitted from
  the participant's account; the reply carries the local model and the extra blob;
* ``evaluate`` — the committed blobs arrive; the replica recomputes Eq. 10 from the blobs the
  ledger names (:meth:`hefl.agents.roles.ParticipantAgent.verify`) and attests or disputes from
  its own account.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hefl.agents.identity import IDENTITY, KEYSTORE, Identity, load_data, read_password
from hefl.agents.network import JobFile
from hefl.agents.roles import ParticipantAgent, Vote
from hefl.chain import LedgerClient, RoundStatus, connect_rpc
from hefl.data.prepare import Part
from hefl.errors import AgentError, ChainError, ConfigError, HeflError
from hefl.flower import wire
from hefl.learning.registry import strategy_from_description
from hefl.learning.strategy import LocalUpdate, Strategy

log = logging.getLogger("hefl.flower")


@dataclass(frozen=True)
class Participant:
    """A participant as loaded once per process: its account, data, strategy and ledger client."""

    directory: Path
    index: int
    address: str
    part: Part
    strategy: Strategy
    ledger: LedgerClient

    def agent(self, store: wire.MemoryBlobStore) -> ParticipantAgent:
        return ParticipantAgent(self.address, self.part, self.strategy, self.ledger, store)


#: An extension point of the ClientApp: (participant, round, its update) → the update it submits.
#: None in hefl's apps; the tests play broken or dishonest participants with it
#: (``tests/flower/faults.py``: malformed or wrong-key ciphertexts, a participant that drops out).
UpdateHook = Callable[[Participant, int, LocalUpdate], LocalUpdate]


#: One loaded participant per (directory, job file) in this process (Ray actors live long).
_LOADED: dict[tuple[str, str], Participant] = {}


def participant_directory(run_config: dict[str, Any], node_config: dict[str, Any]) -> Path:
    if wire.NODE_PARTICIPANT_DIR in node_config:
        return Path(str(node_config[wire.NODE_PARTICIPANT_DIR]))
    root = run_config.get(wire.RUN_PARTICIPANTS_ROOT)
    if root and wire.NODE_PARTITION_ID in node_config:
        return Path(str(root)) / f"p{int(node_config[wire.NODE_PARTITION_ID])}"
    raise ConfigError(
        f"this SuperNode has no participant directory: start it with --node-config "
        f"\"{wire.NODE_PARTICIPANT_DIR}='DIR'\" (a directory made by hefl participant init)"
    )


def job_from_run_config(run_config: dict[str, Any]) -> JobFile:
    """The job as the run config carries it (:data:`hefl.flower.wire.RUN_JOB`, the job file's
    text); it is checked against the chain before it is used."""
    text = run_config.get(wire.RUN_JOB)
    if not isinstance(text, str) or not text:
        raise ConfigError(
            f"the run config has no {wire.RUN_JOB!r} (the job file's text): which job is this?"
        )
    return JobFile.from_text(text, f"run config {wire.RUN_JOB!r}")


def load_participant(run_config: dict[str, Any], node_config: dict[str, Any]) -> Participant:
    """Load (once) and check this node's participant against the chain.

    The job comes from the run config; before anything else the participant checks on chain that
    the ledger at the job's address, on the job's chain id, holds the job's public-key hash and
    configuration hash and registers this participant with its |D_i|
    (:meth:`hefl.agents.network.JobFile.check`); a mismatch raises :class:`AgentError` naming it,
    which Flower returns to the server as this node's error reply.
    """
    directory = participant_directory(run_config, node_config)
    job = job_from_run_config(run_config)
    key = (str(directory.resolve()), job.to_text())
    if key in _LOADED:
        return _LOADED[key]
    password_file = run_config.get(wire.RUN_PASSWORD_FILE) or None
    password = read_password(password_file)
    identity = Identity.load(directory / IDENTITY)
    chain = connect_rpc(str(run_config[wire.RUN_RPC_URL]))
    address = chain.add_keystore(directory / KEYSTORE, password)
    if address != identity.address:
        raise ConfigError(f"{directory}: keystore {address} is not identity {identity.address}")
    ledger = LedgerClient.at(chain, job.ledger, sender=address)
    try:
        job.check(ledger, identity)  # refuse before any work: chain id, key, config, |D_i|, |w|
    except HeflError as mismatch:
        raise AgentError(f"P {address} refuses the job of the run config: {mismatch}") from mismatch
    strategy = strategy_from_description(job.config["strategy"], job.public_key)
    participant = Participant(
        directory=directory,
        index=ledger.participant_index(address),
        address=address,
        part=load_data(directory),
        strategy=strategy,
        ledger=ledger,
    )
    _LOADED[key] = participant
    log.info("P %s (index %d): job %s checked", address, participant.index, job.ledger)
    return participant


def identity_reply(participant: Participant) -> dict[str, Any]:
    return {"address": participant.address, "index": participant.index, "pid": os.getpid()}


def train(
    participant: Participant,
    round_index: int,
    global_model: bytes,
    hook: UpdateHook | None = None,
) -> dict[str, Any]:
    """τ local steps and a submission from the participant's own account (see module doc)."""
    store = wire.MemoryBlobStore()
    store.put(global_model)
    agent = participant.agent(store)
    pending = agent.pending(round_index)  # None: round closed, or already submitted
    if pending is None:
        return {"submitted": False, "address": participant.address}
    start, tau = pending
    update = participant.strategy.local_update(start, participant.part, tau)
    if hook is not None:
        update = hook(participant, round_index, update)
    agent.deliver(round_index, update)
    return {
        "submitted": True,
        "address": participant.address,
        "model": update.model,
        "extra": update.extra,
    }


def verify(participant: Participant, round_index: int, blobs: list[bytes]) -> dict[str, Any]:
    """Recompute Eq. 10 from the blobs the ledger names; attest or dispute on chain."""
    store = wire.MemoryBlobStore()
    for blob in blobs:
        store.put(blob)
    try:
        vote = participant.agent(store).verify(round_index)
    except ChainError:
        # Our vote raced the others': the round may have been decided between our simulation
        # of the transaction and its block. Then there is nothing left to vote on.
        if participant.ledger.get_round(round_index).status is RoundStatus.AGGREGATED:
            raise
        vote = Vote.DECIDED
    return {"vote": vote.value, "address": participant.address}
