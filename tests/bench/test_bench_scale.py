"""``hefl bench scale`` at a toy size: registered, runs its quick form, splits a round into the
participants, the party and the replicas, and renders (no timing is asserted)."""

from __future__ import annotations

import json

import pytest

from hefl.bench import BENCHES
from hefl.bench import scale as bench_scale
from hefl.cli.main import main


@pytest.fixture(scope="module")
def result() -> dict:
    return bench_scale.run(quick=True, grid=((6, 2), (4, 3)))


def test_scale_is_registered_with_the_issue_grid(capsys) -> None:
    assert "scale" in BENCHES
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "scale", "--help"])
    assert exit_.value.code == 0
    assert "--quick" in capsys.readouterr().out
    assert {d for d, _ in bench_scale.FULL_GRID} == {10, 50, 200, 784}
    assert {n for _, n in bench_scale.FULL_GRID} == {3, 10, 30, 60}
    assert all(d < 784 for d, _ in bench_scale.QUICK_GRID)  # 784 only in the full run


def test_a_round_is_split_into_its_parts_and_compared_to_the_kernel_floor(result) -> None:
    assert result["tau"] == 5 and result["key_bits"] == 2048 and result["mode"] == "fused"
    assert [(r["features"], r["participants"]) for r in result["rows"]] == [(6, 2), (4, 3)]
    for row in result["rows"]:
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
        # d ≤ k: each packed gradient is one ciphertext; models stay unpacked
        assert row["party_decryptions"] == (2 + n) * d + 2 * n
        assert row["party_decryptions_unpacked"] == (2 + 3 * n) * d
    text = bench_scale.render(result)
    assert "participants" in text and "replicas" in text and "floor" in text
    assert "28 (was     48)" in text  # d = 6, N = 2: (2 + 2)·6 + 2·2 packed, (2 + 3·2)·6 before
    json.dumps(result)
