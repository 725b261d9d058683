"""The planned model's per-operation constants (hefl.costs.operations): fitted exactly from the
timings, timed on real kernels, written by `hefl costs calibrate` and read by `hefl run`."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import pytest

from hefl.costs import CostParameters
from hefl.costs.operations import (
    CALIBRATION_PRODUCTS,
    REPACK_SLOT_BITS,
    OperationTiming,
    fit_operations,
    time_operations,
)
from hefl.errors import ConfigError, InsecureKeyWarning


def test_the_fit_is_seconds_times_f_max() -> None:
    timing = OperationTiming(2048, 8e-6, 6e-3, 3e-3, 1.0, 1.5e-6)
    params = fit_operations(CostParameters(f_max=2.0e9, mu1=7.0), timing)
    assert params.mu_repack_multiplication == 1.5e-6 * 2.0e9
    assert params.mu_multiplication == 8e-6 * 2.0e9
    assert params.mu_decryption == 6e-3 * 2.0e9
    assert params.mu_small_decryption == 3e-3 * 2.0e9
    assert params.operations_key_bits == 2048
    assert params.mu1 == 7.0 and params.f_max == 2.0e9  # everything else kept
    assert (
        fit_operations(params, OperationTiming(3072, 1.0, 1.0, 1.0, 1.0, 1.0)).operations_key_bits
        == 3072
    )


def test_timing_runs_the_real_kernels_at_the_keys_size() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyWarning)
        timing = time_operations(512, repeats=1)
    assert timing.key_bits == 512
    assert timing.multiplications_timed == sum(p.cost for p in CALIBRATION_PRODUCTS)
    assert timing.multiplication > 0 and timing.decryption > 0 and timing.small_decryption > 0
    assert timing.repack_multiplication > 0 and REPACK_SLOT_BITS > 1
    with pytest.raises(ConfigError):
        time_operations(512, repeats=0)


def test_a_file_written_before_the_party_packed_reads_the_default_mu_h(tmp_path: Path) -> None:
    """A parameters file without μ_H (written before it existed) still loads, with the
    default; a file written now carries it and reads back equal."""
    old = dataclasses.asdict(CostParameters(local_update="planned", mu_decryption=2e7))
    del old["mu_repack_multiplication"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    loaded = CostParameters.load(path)
    assert loaded.mu_repack_multiplication == CostParameters().mu_repack_multiplication
    assert loaded.mu_decryption == 2e7
    fresh = dataclasses.replace(loaded, mu_repack_multiplication=1234.0)
    assert CostParameters.load(fresh.save(tmp_path / "new.json")) == fresh
    with pytest.raises(ConfigError, match="mu_repack_multiplication"):
        CostParameters(mu_repack_multiplication=0.0)
