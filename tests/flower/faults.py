"""Broken and dishonest agents for the Flower tests (they live here, never in the package).

They plug into the apps' extension points: an update hook of the ClientApp
(:data:`hefl.flower.client.UpdateHook`, :data:`hefl.flower.multikey.MultiKeyHook`) and a subclass
of the ServerApp's strategy (:class:`hefl.flower.server.HeflStrategy`). The simulation engine runs
ClientApps in Ray workers, which receive this module by value (they cannot import ``tests``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import ray.cloudpickle

from hefl.agents.roles import sort_submissions
from hefl.crypto import EncryptedVector, generate_keypair
from hefl.errors import AgentError
from hefl.flower import wire
from hefl.flower.client import Participant
from hefl.flower.server import HeflStrategy
from hefl.learning.strategy import LocalUpdate

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def malformed(update: LocalUpdate, participant: Participant) -> LocalUpdate:
    """Bytes that are no ciphertext vector."""
    return replace(update, model=b"not a ciphertext " + update.model[:64])


def wrong_key(update: LocalUpdate, participant: Participant) -> LocalUpdate:
    """A well-formed ciphertext vector under another Paillier key."""
    other, _ = generate_keypair(1024, allow_insecure=True)
    size = participant.part.X.shape[1]
    return replace(update, model=EncryptedVector.encrypt(other, [0.0] * size, 40).to_bytes())


def drop(update: LocalUpdate, participant: Participant) -> LocalUpdate:
    """The participant's ClientApp fails instead of submitting (a crash, as Flower sees it)."""
    raise AgentError(f"P {participant.address}: dropping out (test)")


FAULTS = {"malformed": malformed, "wrong-key": wrong_key, "drop": drop}


@dataclass(frozen=True)
class Faults:
    """An update hook: ``{(participant index, round): fault name}``; others are honest."""

    plan: dict[tuple[int, int], str]

    def __call__(self, participant: Participant, round_index: int, update: LocalUpdate) -> Any:
        name = self.plan.get((participant.index, round_index))
        return update if name is None else FAULTS[name](update, participant)


@dataclass(frozen=True)
class MultiKeyDropouts:
    """A multi-key update hook: the clients of these partitions fail in ``round``."""

    partitions: frozenset[int]
    round: int

    def __call__(self, node_config: dict[str, Any], round_index: int, update: np.ndarray) -> Any:
        partition = int(node_config[wire.NODE_PARTITION_ID])
        if round_index == self.round and partition in self.partitions:
            raise AgentError(f"partition {partition}: dropping out of round {round_index} (test)")
        return update


class WrongAggregateStrategy(HeflStrategy):
    """A dishonest party: in round 0 it commits Eq. 10 with wrong weights (|D_i| + 1)."""

    WRONG_ROUND = 0

    def commit(self, g: int) -> None:
        if g != self.WRONG_ROUND:
            super().commit(g)
            return
        record = self.ledger.get_round(g)
        start = self.blobs.get(record.global_model_hash)
        found = sort_submissions(self.party.strategy, self.ledger, self.blobs, g, start)
        wrong = self.party.strategy.aggregate(
            [u.model for _, u, _ in found.usable], [size + 1 for _, _, size in found.usable]
        )
        self.ledger.commit_aggregate(g, self.blobs.put(wrong), [i for i, _, _ in found.usable])
