"""Faulty and malicious agents for the attack tests: each subclasses an honest agent and changes
only the move its attack is about. They live here, never in the package.

Imported as a plain module (pytest puts this directory on ``sys.path``), also by
``malicious_participant.py``, which runs one of them as an OS process against a real node.
"""

from __future__ import annotations

from dataclasses import replace

from hefl.agents.roles import (
    Assessment,
    ComputingPartyAgent,
    ParticipantAgent,
    Vote,
    chain_store,
)
from hefl.chain import LocalBlobStore, blob_hash
from hefl.crypto import EncryptedVector
from hefl.learning.strategy import LocalUpdate


def turn(agent: ParticipantAgent, cls: type[ParticipantAgent], **extra: object) -> ParticipantAgent:
    """The same participant (account, data, strategy, ledger, store) running ``cls``."""
    bad = cls(agent.address, agent.part, agent.strategy, agent.ledger, agent.blobs)
    for name, value in extra.items():
        setattr(bad, name, value)
    return bad


def delete_blob(store: object, digest: bytes) -> None:
    """Remove a blob from a shared local store, as a participant with write access could."""
    assert isinstance(store, LocalBlobStore)
    store.path_for(digest).unlink(missing_ok=True)


class Withholder(ParticipantAgent):
    """Availability attack: submits honestly, then deletes its blobs from the shared store just
    after the aggregate is committed (before the replicas check), hoping that the replicas no
    longer find them, expect another ``included`` set and dispute an honest party."""

    def assess(self, round_index: int) -> Assessment:
        mine = self.ledger.get_submission(round_index, self.address)
        delete_blob(self.blobs, mine.model_hash)
        delete_blob(self.blobs, mine.extra_hash)
        return super().assess(round_index)


class HashOnlySubmitter(ParticipantAgent):
    """Availability attack, the other half: sends only the hashes of its blobs and keeps the
    bytes back (to publish them after the commit)."""

    def send(self, round_index: int, sealed: LocalUpdate) -> None:
        self.held_back = sealed
        self.ledger.submit(round_index, blob_hash(sealed.model), blob_hash(sealed.extra))


class HeaderLiar(ParticipantAgent):
    """Header attack: valid ciphertexts under the job's key, but the local model's header
    declares ``scale`` and/or ``bound`` (``None``: the honest value)."""

    scale: int | None = None
    bound: int | None = None

    def deliver(self, round_index: int, update: LocalUpdate) -> LocalUpdate:
        key = self.strategy.public_key  # type: ignore[attr-defined]
        honest = EncryptedVector.from_bytes(update.model, key)
        lying = EncryptedVector(
            key,
            honest.ciphertexts,
            honest.scale_bits if self.scale is None else self.scale,
            honest.bound if self.bound is None else self.bound,
        )
        return super().deliver(round_index, replace(update, model=lying.to_bytes()))


class Replayer(ParticipantAgent):
    """Replay attack: from round 1 on, resubmits its own blobs of the round before."""

    def deliver(self, round_index: int, update: LocalUpdate) -> LocalUpdate:
        if round_index == 0:
            return super().deliver(round_index, update)
        before = self.ledger.get_submission(round_index - 1, self.address)
        store = chain_store(self.blobs, self.ledger)
        old = LocalUpdate(store.get(before.model_hash), store.get(before.extra_hash))
        self.send(round_index, old)
        return old


class Copier(ParticipantAgent):
    """Copy attack: submits, in the same round, exactly what participant ``victim`` submitted."""

    victim: str = ""

    def deliver(self, round_index: int, update: LocalUpdate) -> LocalUpdate:
        theirs = self.ledger.get_submission(round_index, self.victim)
        store = chain_store(self.blobs, self.ledger)
        copy = LocalUpdate(store.get(theirs.model_hash), store.get(theirs.extra_hash))
        self.send(round_index, copy)
        return copy


class SilentVoter(ParticipantAgent):
    """Never votes (a replica that crashed for good, or stalls on purpose)."""

    def vote(self, round_index: int, assessment: Assessment) -> Vote:
        return Vote.DECIDED


class HashOnlyParty(ComputingPartyAgent):
    """Missing-aggregate attack: a party that commits the hash of an aggregate it never
    publishes (no blob behind the hash, nothing in calldata)."""

    def commit(self, round_index: int) -> bytes | None:
        record = self.ledger.get_round(round_index)
        included = list(record.included_indices)
        aggregate = b"an aggregate nobody will ever see"
        self.ledger.commit_aggregate(round_index, blob_hash(aggregate), included)
        return aggregate
