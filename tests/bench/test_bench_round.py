"""``hefl bench round`` end to end at a toy size: both floors present and labelled, the plans
reported, the ratios consistent with the reported parts (no timing is asserted)."""

from __future__ import annotations

import json

import pytest

from hefl.bench import round as bench_round
from hefl.cli.main import main

pytest.importorskip("phe")


@pytest.fixture(scope="module")
def result(toy_round) -> dict:
    return toy_round


def test_round_reports_both_floors_and_their_ratios(result) -> None:
    assert result["features"] == 6 and result["participants"] == 2 and result["tau"] == 2
    kernel, naive = result["kernel_floor_ms"], result["naive_floor_ms"]
    assert any("standalone" in name for name in kernel)
    assert all(ms > 0 for ms in (*kernel.values(), *naive.values()))
    serial = result["fused_round_serial_s"]
    ratios = result["ratios"]
    assert ratios["round_vs_kernel_floor"] == pytest.approx(serial / (sum(kernel.values()) / 1e3))
    assert ratios["round_vs_naive_floor"] == pytest.approx(serial / (sum(naive.values()) / 1e3))
    assert {t["name"] for t in result["targets"]} == {name for name, *_ in bench_round.TARGETS}
    assert [p["model"] for p in result["plans"]] == ["dense", "dense"]  # 800 rows ≫ d = 6
    assert {"date", "cpu_count", "load_average_1min"} <= set(result["machine"])
    text = bench_round.render(result)
    assert "kernel floor" in text and "naive floor" in text and "plan of participant 1" in text
    json.dumps(result)


def test_cli_refuses_a_bad_option_in_one_line(capsys) -> None:
    assert main(["bench", "round", "--features", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "hefl bench: error: --features must be ≥ 2, got 1"
