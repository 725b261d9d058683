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
    commitment_blob,
    sort_submissions,
)
from hefl.canonical import canonical_json
from hefl.chain import LocalBlobStore, blob_hash
from hefl.crypto import EncryptedVector
from hefl.crypto.vector import repack_layout, shifted_product
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


class BoundLiar(ParticipantAgent):
    """Denial-of-service attack on the party's decryption: an honest header and valid
    ciphertexts, but coordinate ``where`` of the local model encrypts ``factor`` times the bound
    the header declares (replicas cannot see it: it is encrypted)."""

    where: int = 3
    factor: int = 8

    def deliver(self, round_index: int, update: LocalUpdate) -> LocalUpdate:
        key = self.strategy.public_key  # type: ignore[attr-defined]
        honest = EncryptedVector.from_bytes(update.model, key)
        cts = list(honest.ciphertexts)
        cts[self.where] = key.encrypt_int(honest.bound * self.factor)
        lying = EncryptedVector(key, cts, honest.scale_bits, honest.bound)
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


class FramingParty(ComputingPartyAgent):
    """Framing attack: leaves honest participant ``victim`` out with "evidence" — the true
    opening of the first group of its local model, which decodes within its bound — and commits
    Eq. 10 over the others."""

    victim: int = 1

    def commit(self, round_index: int) -> bytes | None:
        record = self.ledger.get_round(round_index)
        global_model = self.store.get(record.global_model_hash)
        found = sort_submissions(self.strategy, self.ledger, self.store, round_index, global_model)
        kept = [(i, u, s) for i, u, s in found.usable if i != self.victim]
        (target,) = [u for i, u, _ in found.usable if i == self.victim]
        key = self.strategy._require_private_key()  # type: ignore[attr-defined]
        model = EncryptedVector.from_bytes(target.model, key.public_key)
        k, b = repack_layout(key.public_key, model.bound)
        group = list(model.ciphertexts[:k])
        plaintext, nonce = key.open(shifted_product(group, b, key.public_key.nsquare))
        framing = canonical_json(
            {
                "vector": "model",
                "first": 0,
                "count": len(group),
                "shift_bits": b,
                "plaintext": hex(plaintext),
                "nonce": hex(nonce),
            }
        )
        aggregate = self.strategy.aggregate([u.model for _, u, _ in kept], [s for *_, s in kept])
        committed = commitment_blob(aggregate, {self.victim: framing})
        self.blobs.put(committed)
        self.ledger.commit_aggregate_blob(round_index, committed, [i for i, _, _ in kept])
        return aggregate
