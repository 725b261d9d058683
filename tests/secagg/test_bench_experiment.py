"""Smoke tests of the secagg benchmark and experiment at toy sizes (no timings asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hefl.bench import secagg as bench
from hefl.experiments.secagg import run_secagg_experiment

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_bench_structure_at_toy_size() -> None:
    result = bench.run(sizes=[300], n_clients=3, kappa1=512, paillier_bits=512, paillier_sample=60)
    assert {r["scheme"] for r in result["rows"]} == set(bench.SCHEME_ORDER)
    assert all(r["within_tolerance"] for r in result["rows"])
    pe = next(r for r in result["rows"] if r["scheme"] == "paillier")
    assert (
        pe["extrapolated"] and pe["measured_params"] == 60 and pe["ciphertexts_per_client"] == 300
    )
    for row in result["rows"]:  # a one-round job pays the scheme's setup (issue 18)
        assert row["round_s"] == pytest.approx(
            row["setup_s"] + row["client_encrypt_s"] + row["server_aggregate_decrypt_s"]
        )
        assert row["round_steady_s"] < row["round_s"]
    (target,) = result["targets"]
    assert target["ciphertexts_met"]
    json.dumps(result)
    assert "multikey" in bench.format_report(result)


def test_experiment_writes_plot_and_json(tmp_path: Path) -> None:
    summary = run_secagg_experiment(
        tmp_path,
        schemes=["multikey", "plaintext", "packed-paillier"],
        rounds=3,
        n_clients=4,
        kappa1=512,
        paillier_bits=512,
        allow_insecure=True,
        dropout_rate=0.3,
        late_dropout_rate=0.3,
    )
    assert (tmp_path / "secagg_accuracy.png").stat().st_size > 0
    saved = json.loads((tmp_path / "secagg.json").read_text())
    assert saved["schemes"].keys() == summary["schemes"].keys()
    plain = summary["schemes"]["plaintext"]
    late = [
        len(a) < len(o)
        for a, o in zip(summary["answering_per_round"], summary["online_per_round"], strict=True)
    ]
    assert summary["schemes"]["multikey"]["attempts"] == [2 if x else 1 for x in late]
    for name in ("multikey", "packed-paillier"):
        res = summary["schemes"][name]
        assert len(res["accuracy"]) == 3
        assert abs(res["final_accuracy"] - plain["final_accuracy"]) <= 0.02
        assert res["max_weight_gap"] < 1e-3
