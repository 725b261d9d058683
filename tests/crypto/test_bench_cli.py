"""``hefl bench crypto --quick --json`` runs end to end (a smoke test, no timing assertions)."""

from __future__ import annotations

import json

import pytest

from hefl.bench import BENCHES
from hefl.cli.main import main

pytest.importorskip("phe")


def test_bench_crypto_quick_json(capsys) -> None:
    assert "crypto" in BENCHES
    assert main(["bench", "crypto", "--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["key_bits"] == 2048 and result["quick"] is True
    ops = result["operations"]
    for name in (
        "keygen",
        "encrypt (public key, DJN)",
        "decrypt (single, 1 core)",
        "add",
        "scalar multiply (16-bit int)",
        "scalar multiply (53-bit int)",
        "matvec 14×14 (p=53)",
        "weighted sum 5×14 (p=53)",
    ):
        assert ops[name]["hefl_ms"] > 0 and ops[name]["phe_over_hefl"] > 0
    assert set(result["raw_powmod_ms"]) >= {"powmod448", "comb448", "crt_halves"}
    assert len(result["targets"]) == 7


def test_bench_render(capsys) -> None:
    from hefl.bench import load_bench

    module = load_bench("crypto")
    fake = {
        "key_bits": 2048,
        "workers": 2,
        "quick": True,
        "elapsed_s": 1.0,
        "machine": {"gmp": "GMP", "gmpy2": "2"},
        "operations": {"add": {"hefl_ms": 0.005, "phe_ms": 0.008, "phe_over_hefl": 1.6}},
        "raw_powmod_ms": {"powmod448": 2.0},
        "precompute_ms": {"public_comb_table": 80.0, "owner_crt_comb_tables": 50.0},
        "targets": [{"description": "x", "value": 2.0, "target": "≥ 1", "met": True}],
    }
    text = module.render(fake)
    assert "add" in text and "met" in text
    assert main(["bench"]) == 2
