"""The party screens what replicas cannot see before it commits (Strategy.screen) and leaves out,
with evidence anyone can check (Strategy.check_evidence), a submission whose ciphertexts hold
values beyond their declared bounds — instead of failing to decrypt after the commit, a stall one
faulty participant could cause. Real 2048-bit keys, the Boston data, fused updates."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from hefl.canonical import canonical_json
from hefl.crypto import EncryptedVector, generate_keypair
from hefl.crypto.vector import REPACK_MIN_SLOTS, repack_layout, shifted_product
from hefl.data import SplitConfig, load_dataset, prepare
from hefl.errors import EncodingOverflowError, SerializationError
from hefl.learning.blobs import pack_bundle, unpack_bundle
from hefl.learning.packed import pack, parse_packed
from hefl.learning.paillier import PaillierStrategy
from hefl.learning.strategy import LearningConfig, LocalUpdate

CONFIG = LearningConfig(eta=0.2, ridge=0.001, mode="fused")


#: The module's public key, for the helpers below (set by the ``keys`` fixture).
PUBLIC: list = []


@pytest.fixture(scope="module")
def keys():
    pair = generate_keypair(2048)
    PUBLIC[:] = [pair[0]]
    return pair


@pytest.fixture(scope="module")
def round_(keys):
    """The party, a replica (public key only), the global model, three honest updates, |D_i|."""
    public, private = keys
    data = prepare(load_dataset("boston"), SplitConfig(participants=3, n_samples=150, seed=4))
    party = PaillierStrategy(public, CONFIG, private_key=private)
    start = party.initial_model(data.model_size)
    updates = [party.local_update(start, part, 5) for part in data.parts]
    return party, party.for_participant(0), start, updates, list(data.sizes)


def relabel(update: LocalUpdate, values: list[int]) -> LocalUpdate:
    """``update`` whose local model encrypts ``values`` under the honest header (scale, bound)."""
    honest = EncryptedVector.from_bytes(update.model, PUBLIC[0])
    lying = forged(honest.public_key, values, honest.scale_bits, honest.bound)
    return replace(update, model=lying.to_bytes())


def forged(public, values: list[int], scale_bits: int, bound: int) -> EncryptedVector:
    """Ciphertexts of the residues x mod n under a header declaring ``bound``, whatever x is."""
    residues = [x % int(public.n) for x in values]
    return EncryptedVector(public, public.encrypt_ints(residues), scale_bits, bound)


def model_of(update: LocalUpdate) -> EncryptedVector:
    return EncryptedVector.from_bytes(update.model, PUBLIC[0])


def screen(party, start, updates, sizes) -> list[bytes | None]:
    return party.screen(start, party.aggregate([u.model for u in updates], sizes), updates)


def test_honest_updates_pass_and_are_not_decrypted_twice(round_, monkeypatch) -> None:
    party, _, start, updates, sizes = round_
    aggregate = party.aggregate([u.model for u in updates], sizes)
    unscreened = party.conclude(start, aggregate, updates, sizes)
    assert party.screen(start, aggregate, updates) == [None, None, None]
    decrypted: list[int] = []
    original = PaillierStrategy.decrypt_mixed

    def counting(self, vectors, shift_bits=None):
        decrypted.append(len(vectors))
        return original(self, vectors, shift_bits)

    monkeypatch.setattr(PaillierStrategy, "decrypt_mixed", counting)
    outcome = party.conclude(start, aggregate, updates, sizes)
    assert decrypted == [2]  # the aggregate and the global model; the updates were screened
    np.testing.assert_array_equal(outcome.model, unscreened.model)
    for a, b in zip(outcome.local_models, unscreened.local_models, strict=True):
        np.testing.assert_array_equal(a, b)
    assert outcome.estimates == unscreened.estimates


@pytest.mark.parametrize("where", ["just-above", "negative", "middle-band", "last"])
def test_a_model_beyond_its_bound_is_left_out_with_evidence_a_replica_checks(round_, where) -> None:
    party, replica, start, updates, sizes = round_
    honest = model_of(updates[1])
    values = [0] * len(honest)  # zeros, then the fault
    bound, n = honest.bound, int(honest.public_key.n)
    index, value = {
        "just-above": (3, bound + 1),
        "negative": (0, -bound * 2**40),
        "middle-band": (5, n // 2),
        "last": (len(values) - 1, bound + 1),
    }[where]
    values[index] = value
    faulty = relabel(updates[1], values)
    verdicts = screen(party, start, [updates[0], faulty, updates[2]], sizes)
    assert verdicts[0] is None and verdicts[2] is None
    evidence = verdicts[1]
    assert evidence is not None
    doc = json.loads(evidence)
    assert doc["vector"] == "model" and doc["first"] <= index < doc["first"] + doc["count"]
    reason = replica.check_evidence(start, faulty, evidence)
    assert "model holds a plaintext beyond its bound" in reason
    # the same evidence proves nothing against an honest update, nor when any part is changed
    with pytest.raises(SerializationError):
        replica.check_evidence(start, updates[1], evidence)
    for field, change in [
        ("plaintext", lambda v: hex(int(v, 16) + 1)),
        ("nonce", lambda v: hex(int(v, 16) + 1)),
        ("first", lambda v: v + 1),
        ("count", lambda v: 10**6),
        ("shift_bits", lambda v: bound.bit_length()),  # too narrow to hold every in-bound value
        ("vector", lambda v: "gradient 1"),
    ]:
        forged = canonical_json({**doc, field: change(doc[field])})
        with pytest.raises(SerializationError):
            replica.check_evidence(start, faulty, forged)
    for garbage in (b"", b"[]", b"{", canonical_json({**doc, "first": "0"})):
        with pytest.raises(SerializationError):
            replica.check_evidence(start, faulty, garbage)


def test_evidence_against_an_honest_group_cannot_be_made(keys, round_) -> None:
    """The party cannot frame an honest participant: the true opening of one of its groups, in
    any digit width that holds its bound, decodes within the bound."""
    _, replica, start, updates, _ = round_
    honest = model_of(updates[0])
    key = keys[1]
    k, b = repack_layout(honest.public_key, honest.bound)
    group = list(honest.ciphertexts[:k])
    plaintext, nonce = key.open(shifted_product(group, b, honest.public_key.nsquare))
    doc = {"vector": "model", "first": 0, "count": len(group), "shift_bits": b}
    framing = canonical_json({**doc, "plaintext": hex(plaintext), "nonce": hex(nonce)})
    with pytest.raises(SerializationError, match="decodes within"):
        replica.check_evidence(start, updates[0], framing)


def test_a_packed_gradient_beyond_its_bound_is_left_out_with_evidence(round_) -> None:
    party, replica, start, updates, sizes = round_
    first, second = unpack_bundle(updates[2].extra, 2)
    gradient = parse_packed(first, replica.public_key)
    values = party.decrypt_mixed([gradient])[0]
    scale = gradient.scale_bits
    ints = [round(x * 2**scale) for x in values]
    ints[-1] = 4 * gradient.value_bound  # beyond the bound its header declares
    lying = forged(replica.public_key, ints, scale, gradient.value_bound)
    faulty = replace(updates[2], extra=pack_bundle([pack(lying), second]))
    verdicts = screen(party, start, [updates[0], updates[1], faulty], sizes)
    assert verdicts[:2] == [None, None] and verdicts[2] is not None
    doc = json.loads(verdicts[2])
    assert doc["vector"] == "gradient 1" and doc["count"] == 1
    assert "gradient 1 holds a plaintext beyond its bound" in replica.check_evidence(
        start, faulty, verdicts[2]
    )


def test_a_model_that_carries_between_digits_reads_as_what_the_aggregate_holds(round_) -> None:
    """Out-of-bound values that carry into their neighbours in the aggregate's layout decode as
    in-bound digits; read in that layout, they are exactly what Eq. 10 sums, so the round
    concludes and the aggregate is Eq. 10 of the local models the party read."""
    party, _, start, updates, sizes = round_
    honest = model_of(updates[1])
    b = repack_layout(
        honest.public_key,
        EncryptedVector.from_bytes(
            party.aggregate([u.model for u in updates], sizes), honest.public_key
        ).bound,
    )[1]
    values = [0] * len(honest)
    values[0], values[1] = (1 << b) + 5, -1  # digit 0 reads 5 and carries 1 into digit 1: 0
    assert values[0] > honest.bound
    carried = [updates[0], relabel(updates[1], values), updates[2]]
    aggregate = party.aggregate([u.model for u in carried], sizes)
    assert party.screen(start, aggregate, carried) == [None, None, None]
    outcome = party.conclude(start, aggregate, carried, sizes)
    read = outcome.local_models[1]
    assert read[0] == 5 / 2**honest.scale_bits and not read[1:].any()
    weighted = sum(s * m for s, m in zip(sizes, outcome.local_models, strict=True)) / sum(sizes)
    np.testing.assert_allclose(outcome.model, weighted, rtol=1e-12, atol=1e-15)


def test_without_screening_the_party_could_not_conclude(round_) -> None:
    """Why the screen runs before the commit: the decryption after it refuses the value."""
    party, _, start, updates, sizes = round_
    values = [0] * len(model_of(updates[0]))
    values[2] = model_of(updates[0]).bound * 8
    faulty = [relabel(updates[0], values), *updates[1:]]
    aggregate = party.aggregate([u.model for u in faulty], sizes)
    with pytest.raises(EncodingOverflowError):
        party.conclude(start, aggregate, faulty, sizes)


def test_a_plain_gradient_that_carries_in_its_group_is_caught_value_by_value(round_) -> None:
    """An unpacked gradient read value by value (the p-half of CRT: its bound leaves fewer than
    REPACK_MIN_SLOTS digits per group) whose out-of-bound value carries into its neighbour in
    the group layout: the batch refuses it, and the evidence is found value by value, not a
    crash of the party (before: "every group decodes, yet its batch did not")."""
    party, replica, start, updates, sizes = round_
    first, second = unpack_bundle(updates[0].extra, 2)
    scale = parse_packed(first, replica.public_key).scale_bits
    bound = (1 << 400) - 1  # digits of 401 bits: 5 per group, too few to pack
    assert repack_layout(replica.public_key, bound)[0] < REPACK_MIN_SLOTS
    values = [0] * parse_packed(first, replica.public_key).count
    values[0], values[1] = (1 << 401) + 5, -1  # in a group: digit 0 reads 5, digit 1 reads 0
    lying = forged(replica.public_key, values, scale, bound)
    faulty = replace(updates[0], extra=pack_bundle([lying.to_bytes(), second]))
    verdicts = screen(party, start, [faulty, *updates[1:]], sizes)
    assert verdicts[1:] == [None, None] and verdicts[0] is not None
    doc = json.loads(verdicts[0])
    assert (doc["vector"], doc["first"], doc["count"]) == ("gradient 1", 0, 1)
    assert "gradient 1 holds a plaintext beyond its bound" in replica.check_evidence(
        start, faulty, verdicts[0]
    )
