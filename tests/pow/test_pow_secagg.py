"""Encrypted gradients in the pow-race mode: owners send multi-key ciphertexts, the aggregators
decrypt only the sum, and the models still follow (within the quantisation) the clear-text run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hefl.chain import LocalBlobStore, connect_embedded
from hefl.errors import ConfigError, SerializationError
from hefl.learning.plain import decode_plain_vector
from hefl.pow.audit import LivePowView, audit_pow
from hefl.pow.job import PowRaceConfig, PowRaceJob
from hefl.pow.miner import search
from hefl.pow.model import block_model, read_secagg_block, secagg_block_blob
from hefl.pow.puzzle import PuzzleHeader

SETTINGS: dict[str, object] = {
    "samples": 120,
    "rounds": 3,
    "difficulty": 16.0,
    "retarget_every": 0,
    "race": "virtual",
    "gamma": 100.0,
    "seed": 2,
}


def _job(tmp_path: Path, **overrides: object) -> PowRaceJob:
    config = PowRaceConfig(**{**SETTINGS, **overrides})  # type: ignore[arg-type]
    return PowRaceJob(config, connect_embedded(8), LocalBlobStore(tmp_path / "blobs"))


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory: pytest.TempPathFactory) -> PowRaceJob:
    job = _job(tmp_path_factory.mktemp("secagg"), secagg="multikey", secagg_insecure=True)
    job.run()
    return job


def test_encrypted_run_tracks_the_clear_run(encrypted: PowRaceJob, tmp_path: Path) -> None:
    clear = _job(tmp_path)
    clear.run()
    for a, b in zip(encrypted.ledger.blocks()[1:], clear.ledger.blocks()[1:], strict=True):
        w_enc = block_model(encrypted.blobs.get(a.model_hash))
        w_clear = decode_plain_vector(clear.blobs.get(b.model_hash))
        # Each sum is exact to |S|/(2s) per coordinate; α scales that error down.
        np.testing.assert_allclose(w_enc, w_clear, rtol=0, atol=1e-9)


def test_gradients_on_chain_are_ciphertexts_and_only_the_sum_is_revealed(
    encrypted: PowRaceJob,
) -> None:
    ledger, blobs = encrypted.ledger, encrypted.blobs
    for block in ledger.blocks()[1:]:
        hashes = ledger.gradients(block.round)
        for h in hashes:
            with pytest.raises(SerializationError):
                decode_plain_vector(blobs.get(h))  # not a plain vector: a multi-key message
        model, total, named = read_secagg_block(blobs.get(block.model_hash))
        assert named == ["0x" + h.hex() for h in hashes]
        # The carried sum is the sum of the owners' true gradients at w^{t−1} (quantised).
        w_prev = block_model(blobs.get(ledger.get_block(block.round - 1).model_hash))
        exact = sum(o.X.T @ (o.X @ w_prev - o.y) for o in encrypted.owners)
        np.testing.assert_allclose(total, exact, atol=2 / encrypted.config.secagg_scale)
        assert decode_plain_vector(model).shape == w_prev.shape


def test_audit_checks_the_encrypted_chain(encrypted: PowRaceJob) -> None:
    report = audit_pow(LivePowView(encrypted.ledger), encrypted.blobs)
    assert report.ok, report.problems
    assert report.encrypted and report.models == 3
    assert "decrypted sums" in report.summary()
    document = json.loads(encrypted.blobs.get(encrypted.ledger.config_hash()))
    assert document["secagg"]["scheme"] == "multikey"


def test_audit_refuses_a_model_that_does_not_follow_from_its_sum(tmp_path: Path) -> None:
    job = _job(tmp_path, secagg="multikey", secagg_insecure=True, rounds=1)
    job.run()
    ledger, blobs, t = job.ledger, job.blobs, 2
    job.committee.begin(t, 2)  # type: ignore[union-attr]
    for owner in job.owners:
        owner.contribute(ledger, blobs, t, job.committee)
    previous = ledger.head_model_hash()
    hashes = ledger.gradients(t)
    total = job.committee.total(t, [blobs.get(h) for h in hashes])  # type: ignore[union-attr]
    forged = block_model(blobs.get(previous)) + 1.0  # not w − α(Σg + 2γw)
    new = blobs.put(secagg_block_blob(forged, total, hashes))
    cheat = job.aggregators[0]
    header = PuzzleHeader(ledger.chain.chain_id, ledger.address, t, previous, new, cheat.address)
    nonce, _ = search(header.prefix, ledger.current_target(), 0, 1, 1 << 20)
    assert nonce is not None
    ledger.as_sender(cheat.address).submit_block(t, previous, new, nonce)
    report = audit_pow(LivePowView(ledger), blobs, names=job.names)
    assert report.problems == [
        f"block 2: the model 0x{new.hex()} written by Agg1 does not follow from the previous "
        "model and the sum it carries"
    ]


def test_secagg_configuration_is_checked() -> None:
    with pytest.raises(ConfigError, match="unknown"):
        PowRaceConfig(secagg="rot13")
    with pytest.raises(ConfigError, match="two owners"):
        PowRaceConfig(secagg="multikey", owners=("Alice",), aggregators=("Agg1",), hash_power=(1,))


def test_a_gradient_beyond_the_clip_bound_is_refused(tmp_path: Path) -> None:
    job = _job(tmp_path, secagg="multikey", secagg_insecure=True, secagg_clip=1.0, rounds=1)
    with pytest.raises(ConfigError, match="clip bound"):
        job.run()
