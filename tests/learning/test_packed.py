"""Packed gradients (issue 17): the party decrypts 2·⌈d/k⌉ ciphertexts per participant for them,
not 2·d, and reads exactly the integers the unpacked vectors hold."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from hefl.crypto import PrivateKey, generate_keypair
from hefl.crypto.vector import REPACK_MIN_SLOTS, repack_layout
from hefl.data import SplitConfig, load_dataset, prepare
from hefl.errors import SerializationError
from hefl.learning.blobs import pack_bundle, unpack_bundle
from hefl.learning.packed import MAGIC, PackedVector, is_packed, parse_packed
from hefl.learning.paillier import FixedPointConfig, PaillierStrategy
from hefl.learning.strategy import LearningConfig, LocalUpdate, SubmissionRules

CONFIG = LearningConfig(eta=0.2, ridge=0.001, mode="fused")
TAU = 5


@pytest.fixture(scope="module")
def keys():
    return generate_keypair(2048)


@pytest.fixture(scope="module")
def data():
    return prepare(load_dataset("boston"), SplitConfig(participants=3, n_samples=150, seed=4))


def strategies(keys):
    public, private = keys
    return {
        packed: PaillierStrategy(
            public, CONFIG, FixedPointConfig(pack_gradients=packed), private_key=private
        )
        for packed in (True, False)
    }


@pytest.fixture(scope="module")
def rounds(keys, data):
    """One round's updates from the same global model, with and without packing."""
    by_packing = strategies(keys)
    start = by_packing[True].initial_model(data.model_size)
    updates = {
        packed: [s.local_update(start, part, TAU) for part in data.parts]
        for packed, s in by_packing.items()
    }
    return by_packing, start, updates


def count_decryptions(monkeypatch) -> list[int]:
    """Ciphertexts the private key decrypts (both the p-half and the full CRT path)."""
    counted = [0]
    for name in ("decrypt_small", "decrypt_ints"):
        original = getattr(PrivateKey, name)

        def counting(self, ciphertexts, *, workers=None, _original=original):
            counted[0] += len(ciphertexts)
            return _original(self, ciphertexts, workers=workers)

        monkeypatch.setattr(PrivateKey, name, counting)
    shifted = PrivateKey.decrypt_shifted_sums

    def counting_groups(self, groups, shift_bits, *, workers=None):
        counted[0] += len(groups)  # the party's own packing: one decryption per group
        return shifted(self, groups, shift_bits, workers=workers)

    monkeypatch.setattr(PrivateKey, "decrypt_shifted_sums", counting_groups)
    return counted


def party_decryptions(vector) -> int:
    """Decryptions the party spends on one vector: ⌈len/k⌉ for a plain vector it packs itself
    (k ≥ REPACK_MIN_SLOTS signed digits), ⌈count/k⌉ for a participant's packed one."""
    if isinstance(vector, PackedVector):
        return math.ceil(vector.count / vector.per_ciphertext)
    k = repack_layout(vector.public_key, vector.bound)[0]
    if len(vector) >= REPACK_MIN_SLOTS and k >= REPACK_MIN_SLOTS:
        return math.ceil(len(vector) / k)
    return len(vector)


def test_participants_send_packed_gradients_and_unpacked_models(rounds, data):
    by_packing, start, updates = rounds
    for update in updates[True]:
        assert all(is_packed(blob) for blob in unpack_bundle(update.extra, 2))
        assert not is_packed(update.model)
    for update in updates[False]:
        assert not any(is_packed(blob) for blob in unpack_bundle(update.extra, 2))
    rules = SubmissionRules(tau=TAU, total_data_size=sum(data.sizes))
    for update in updates[True] + updates[False]:  # the party accepts both forms
        by_packing[True].validate_update(start, update, rules)


def test_packed_and_unpacked_estimates_are_identical(rounds, data):
    by_packing, start, updates = rounds
    party = by_packing[True]
    outcomes = {}
    for packed, ups in updates.items():
        aggregate = party.aggregate([u.model for u in ups], data.sizes)
        outcomes[packed] = party.conclude(start, aggregate, ups, data.sizes)
    # the same integers decrypted, so the same floats, so the same φ̂ and ω̂ (not approximately)
    assert outcomes[True].estimates == outcomes[False].estimates
    assert outcomes[True].estimates.phi is not None
    np.testing.assert_array_equal(outcomes[True].model, outcomes[False].model)
    gradients = {
        packed: party.decrypt_mixed([g for u in ups for g in party._gradients(u.extra)])
        for packed, ups in updates.items()
    }
    for a, b in zip(gradients[True], gradients[False], strict=True):
        np.testing.assert_array_equal(a, b)
        assert np.any(a < 0)  # negative values travel through the offset


def test_the_party_decrypts_fewer_ciphertexts_by_the_packing_factor(rounds, data, monkeypatch):
    by_packing, start, updates = rounds
    party, d, n = by_packing[True], data.model_size, len(data.parts)
    layouts = [
        parse_packed(blob, party.public_key)
        for u in updates[True]
        for blob in unpack_bundle(u.extra, 2)
    ]
    # each slot takes the gradient's bound plus the sign offset; k = ⌊(|n/3 − 1| − 1)/b⌋
    usable = party.public_key.max_int.bit_length() - 1
    for layout in layouts:
        assert layout.slot_bits == (2 * layout.value_bound).bit_length()
        assert layout.per_ciphertext == usable // layout.slot_bits >= d  # Boston's 14 in one
    counted = count_decryptions(monkeypatch)
    seen = {}
    for packed, ups in updates.items():
        counted[0] = 0
        aggregate = party.aggregate([u.model for u in ups], data.sizes)
        party.conclude(start, aggregate, ups, data.sizes)
        seen[packed] = counted[0]
    for packed, ups in updates.items():
        aggregate = party.aggregate([u.model for u in ups], data.sizes)
        models = [party._load(aggregate), party._load(start), *(party._load(u.model) for u in ups)]
        gradients = [g for u in ups for g in party._gradients(u.extra)]
        # the party packs the aggregate, the global model and the N local models itself
        assert all(party_decryptions(v) < d for v in models)
        spent = sum(party_decryptions(v) for v in models + gradients)
        assert seen[packed] == spent
        if packed:  # the participants' packing: ⌈d/k⌉ = 1 per gradient
            assert sum(party_decryptions(g) for g in gradients) == 2 * n
    # unpacked gradients the party packs itself (the same count, its own Horner work instead of
    # the participants'); either way far below one decryption per value
    assert seen[True] <= seen[False] < (2 + 3 * n) * d


def _forge(update: LocalUpdate, edit) -> LocalUpdate:
    first, second = unpack_bundle(update.extra, 2)
    return LocalUpdate(model=update.model, extra=pack_bundle([edit(bytearray(first)), second]))


def _field(offset: int, fmt: str, value: int):
    def edit(blob: bytearray) -> bytes:
        struct.pack_into(fmt, blob, offset, value)
        return bytes(blob)

    return edit


@pytest.mark.parametrize(
    "what, edit",
    [
        ("more slots per ciphertext than the key holds", _field(9, ">H", 200)),
        ("fewer slots than the layout (a different ciphertext count)", _field(9, ">H", 2)),
        ("slots narrower than the bound needs", _field(11, ">H", 8)),
        ("slots wider than the bound needs", _field(11, ">H", 400)),
        ("more values than the packed ciphertexts hold", _field(5, ">I", 10_000)),
        ("no values", _field(5, ">I", 0)),
        ("another version", _field(4, ">B", 2)),
        ("truncated", lambda blob: bytes(blob[:20])),
        ("a bound that needs other slots", lambda blob: bytes(blob[:15] + b"\xff" + blob[16:])),
    ],
)
def test_a_packed_header_declaring_an_impossible_layout_is_unusable(rounds, data, what, edit):
    by_packing, start, updates = rounds
    party = by_packing[True]
    forged = _forge(updates[True][0], edit)
    assert unpack_bundle(forged.extra, 2)[0][:4] == MAGIC or what == "truncated"
    rules = SubmissionRules(tau=TAU, total_data_size=sum(data.sizes))
    with pytest.raises(SerializationError):
        party.validate_update(start, forged, rules)
    with pytest.raises(SerializationError):  # the party's own read refuses it too
        party._gradients(forged.extra)
