"""``hefl bench flower`` is registered and renders its ratio (the bench itself is run by hand:
it starts Ray and two jobs; performance is never a timed test)."""

from __future__ import annotations

from hefl.bench import BENCHES, load_bench


def test_bench_flower_is_registered_and_renders_its_verdict() -> None:
    assert "flower" in BENCHES
    module = load_bench("flower")
    result = {
        "quick": False,
        "participants": 5,
        "rounds": 4,
        "tau": 5,
        "key_bits": 2048,
        "flower_seconds_per_round": 2.2,
        "hefl_run_seconds_per_round": 1.6,
        "ratio": 2.2 / 1.6,
        "target_ratio": module.TARGET_RATIO,
        "meets_target": True,
        "flower_seconds_total": 40.0,
        "hefl_run_seconds_total": 7.0,
    }
    text = module.render(result)
    assert "1.38×  (meets the target ≤ 1.5×)" in text
    assert "N=5, 4 rounds" in text
    text = module.render({**result, "ratio": 1.6, "meets_target": False})
    assert "MISSES" in text
