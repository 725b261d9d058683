"""``hefl bench scale`` at a toy size: registered, runs its quick form, splits a round into the
participants, the party and the replicas, and renders (no timing is asserted)."""

from __future__ import annotations

import json
import math

import pytest

from hefl.bench import BENCHES
from hefl.bench import scale as bench_scale
from hefl.cli.main import main
from hefl.crypto.vector import REPACK_MIN_SLOTS, EncryptedVector, repack_layout
from hefl.learning.paillier import PaillierStrategy

GRID = ((6, 2), (4, 3))


@pytest.fixture(scope="module")
def decrypted() -> list:
    """Per grid cell, the vectors the party really decrypted (caught at ``decrypt_mixed``)."""
    return []


@pytest.fixture(scope="module")
def result(decrypted) -> dict:
    original = PaillierStrategy.decrypt_mixed

    def catching(self, vectors, shift_bits=None):
        decrypted.append(list(vectors))
        return original(self, vectors, shift_bits)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PaillierStrategy, "decrypt_mixed", catching)
        return bench_scale.run(quick=True, grid=GRID)


def expected_decryptions(vectors: list) -> tuple[int, int, int]:
    """(decryptions, Horner multiplications, one per value) for these vectors (the aggregate,
    the global model, then per participant its local model and two gradients): a plain one of
    L values with k = repack_layout's digits ≥ REPACK_MIN_SLOTS (and L ≥ it) — or a local model,
    in the aggregate's digit width, whatever k and L — in ⌈L/k⌉ groups, 2·(L − ⌈L/k⌉)·(b + 1)
    squarings and products modulo p² and q²; else L; a packed one by its ciphertexts."""
    spent = horner = values = 0
    width = repack_layout(vectors[0].public_key, vectors[0].bound)[1]
    for i, v in enumerate(vectors):
        if not isinstance(v, EncryptedVector):
            spent, values = spent + len(v.packed), values + v.count
            continue
        model = i >= 2 and (i - 2) % 3 == 0
        k, b = repack_layout(v.public_key, v.bound, width if model else None)
        values += len(v)
        if model or (len(v) >= REPACK_MIN_SLOTS and k >= REPACK_MIN_SLOTS):
            groups = math.ceil(len(v) / k)
            spent, horner = spent + groups, horner + 2 * (len(v) - groups) * (b + 1)
        else:
            spent += len(v)
    return spent, horner, values


def test_scale_is_registered_with_the_issue_grid(capsys) -> None:
    assert "scale" in BENCHES
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "scale", "--help"])
    assert exit_.value.code == 0
    assert "--quick" in capsys.readouterr().out
    assert {d for d, _ in bench_scale.FULL_GRID} == {10, 50, 200, 784}
    assert {n for _, n in bench_scale.FULL_GRID} == {3, 10, 30, 60}
    assert all(d < 784 for d, _ in bench_scale.QUICK_GRID)  # 784 only in the full run


def test_a_round_is_split_into_its_parts_and_compared_to_the_kernel_floor(
    result, decrypted
) -> None:
    assert result["tau"] == 5 and result["key_bits"] == 2048 and result["mode"] == "fused"
    assert [(r["features"], r["participants"]) for r in result["rows"]] == list(GRID)
    assert len(decrypted) == len(GRID)  # the party concludes once per cell
    for row, vectors in zip(result["rows"], decrypted, strict=True):
        parts = row["participants_total_s"] + row["party_s"] + row["replicas_total_s"]
        assert row["round_serial_s"] == pytest.approx(parts)
        assert row["participant_max_s"] <= row["participants_total_s"]
        assert row["participant_max_wall_s"] > 0 and row["participant_cores"] >= 1
        assert row["round_parallel_participants_s"] == pytest.approx(
            row["participant_max_wall_s"] + row["party_s"] + row["replicas_total_s"]
        )
        assert row["round_vs_kernel_floor"] == pytest.approx(
            row["round_serial_s"] / row["kernel_floor_s"]
        )
        d, n = row["features"], row["participants"]
        assert len(vectors) == 2 + 3 * n
        spent, horner, values = expected_decryptions(vectors)
        assert row["party_decryptions"] == spent
        assert row["party_repack_multiplications"] == horner
        assert row["party_decryptions_unpacked"] == values == (2 + 3 * n) * d
        if d >= REPACK_MIN_SLOTS:  # d ≤ k: one decryption per vector, the party's or packed
            assert spent == 2 + 3 * n and horner > 0
        else:  # too short to pack: the aggregate and the global model one value at a time,
            # each local model one group in the aggregate's layout, the gradients packed
            assert spent == 2 * d + n + 2 * n and horner > 0
    text = bench_scale.render(result)
    assert "participants" in text and "replicas" in text and "floor" in text
    assert "8 (was     48)" in text  # d = 6, N = 2: 2 + 3·2 vectors of one ciphertext each
    assert "17 (was     44)" in text  # d = 4, N = 3: 2·4 values + 3 groups + 2·3 packed
    json.dumps(result)
